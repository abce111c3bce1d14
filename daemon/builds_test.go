package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/imagebuilder"
	"github.com/faaspot/faaspot/store"
)

const testTenant = "t1"

func buildJob(version int) store.Job {
	return store.Job{Queue: store.Builds, EntryID: "1-0", Tenant: testTenant, Name: "fn", Version: version}
}

// withBuild sets the store up for a build of version 2 of "fn", whose version 1 is ready.
func withBuild(tw *testWorkers) {
	tw.store.deps["fn"] = faaspot.Deployment{ID: "d1", Name: "fn", Version: 2, Status: faaspot.StatusBuilding,
		ReadyVersion: 1, Image: "img/d1:v1"}
	tw.store.versions[2] = faaspot.Version{Deployment: "fn", Number: 2, Source: faaspot.Source{Code: "v2", Requirements: "req==1"}}
}

func TestBuildRecordsOutcome(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(tw *testWorkers)
		want       store.BuildOutcome
		result     string // the build_duration label observed, "" for none
		ready      int    // the deployment's ready version afterwards
		prewarms   int
		removed    []string
		retired    []string
		builds     int
		wantStatus faaspot.DeploymentStatus
	}{
		{name: "success becomes the ready version", setup: func(*testWorkers) {},
			want: store.BuildOutcome{Image: "img/d1:v2", Log: "built\n"}, result: "ready", ready: 2, prewarms: 1,
			removed: []string{"img/d1:v1"}, retired: []string{"t1/d1/1/"}, builds: 1, wantStatus: faaspot.StatusReady},
		{name: "user's error is recorded with its message, log and time", setup: func(tw *testWorkers) {
			tw.builder.build = func(context.Context, imagebuilder.Spec) (string, string, error) {
				tw.clock.Advance(2 * time.Second) // the build's time counts in the tenant's usage
				return "", "partial", &imagebuilder.BuildError{Kind: imagebuilder.ErrInvalidFunction, Message: "no main(args, context)", Log: "the log"}
			}
		}, want: store.BuildOutcome{Error: "no main(args, context)", Log: "the log", Duration: 2 * time.Second}, result: "failed", ready: 1,
			retired: []string{"t1/d1/2/"}, builds: 1, wantStatus: faaspot.StatusFailed},
		{name: "engine failure is recorded with a generic message", setup: func(tw *testWorkers) {
			tw.builder.build = func(context.Context, imagebuilder.Spec) (string, string, error) {
				return "", "", errors.New("dial unix /var/run/docker.sock: connection refused")
			}
		}, want: store.BuildOutcome{Error: engineBuildFailed}, result: "failed", ready: 1,
			retired: []string{"t1/d1/2/"}, builds: 1, wantStatus: faaspot.StatusFailed},
		{name: "superseded version is recorded failed without building", setup: func(tw *testWorkers) {
			d := tw.store.deps["fn"]
			d.Version = 3
			tw.store.deps["fn"] = d
		}, want: store.BuildOutcome{Error: "superseded by version 3"}, ready: 1, wantStatus: faaspot.StatusBuilding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			withBuild(tw)
			tt.setup(tw)
			if err := tw.build(t.Context(), buildJob(2)); err != nil {
				t.Fatalf("build = %v", err)
			}
			acked, outcomes, _ := tw.store.snapshot()
			if len(outcomes) != 1 || outcomes[0] != tt.want {
				t.Errorf("outcomes = %+v, want [%+v]", outcomes, tt.want)
			}
			if len(acked) != 1 {
				t.Errorf("acked %d jobs, want the one (by FinishBuild)", len(acked))
			}
			dep := tw.store.deps["fn"]
			if dep.ReadyVersion != tt.ready || dep.Status != tt.wantStatus {
				t.Errorf("deployment ready version %d status %q, want %d %q", dep.ReadyVersion, dep.Status, tt.ready, tt.wantStatus)
			}
			_, prewarms, retired := tw.runner.snapshot()
			if len(prewarms) != tt.prewarms {
				t.Errorf("prewarms = %d, want %d", len(prewarms), tt.prewarms)
			}
			if !slices.Equal(tw.builder.removed, tt.removed) || !slices.Equal(retired, tt.retired) {
				t.Errorf("removed images %q, retired %q; want %q, %q", tw.builder.removed, retired, tt.removed, tt.retired)
			}
			if len(tw.builder.specs) != tt.builds {
				t.Fatalf("built %d times, want %d", len(tw.builder.specs), tt.builds)
			}
			if tt.builds > 0 {
				want := imagebuilder.Spec{TenantID: testTenant, DeploymentID: "d1", Code: "v2", Requirements: "req==1"}
				if tw.builder.specs[0] != want {
					t.Errorf("spec = %+v, want %+v", tw.builder.specs[0], want)
				}
			}
			checkBuildObserved(t, tw, tt.result)
		})
	}
}

// checkBuildObserved checks that the build duration was observed once under result ("" for
// not at all) and under no other label.
func checkBuildObserved(t *testing.T, tw *testWorkers, result string) {
	t.Helper()
	for _, label := range []string{"ready", "failed"} {
		want := uint64(0)
		if label == result {
			want = 1
		}
		if got := tw.metric(t, "faaspot_build_duration_seconds", label).count; got != want {
			t.Errorf("build_duration{%s} count = %d, want %d", label, got, want)
		}
	}
}

func TestBuildInputsMissing(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(tw *testWorkers)
		wantErr bool
		acked   bool
	}{
		{name: "deployment deleted before the build: acknowledged", acked: true,
			setup: func(tw *testWorkers) { delete(tw.store.deps, "fn") }},
		{name: "source dropped: acknowledged", acked: true,
			setup: func(tw *testWorkers) { delete(tw.store.versions, 2) }},
		{name: "store down reading the deployment: left pending", wantErr: true,
			setup: func(tw *testWorkers) { tw.store.getErr = fmt.Errorf("%w: connection refused", faaspot.ErrUnavailable) }},
		{name: "store down reading the source: left pending", wantErr: true,
			setup: func(tw *testWorkers) { tw.store.versionErr = fmt.Errorf("%w: timeout", faaspot.ErrUnavailable) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			withBuild(tw)
			tt.setup(tw)
			err := tw.build(t.Context(), buildJob(2))
			if tt.wantErr != (err != nil) || (err != nil && !errors.Is(err, faaspot.ErrUnavailable)) {
				t.Fatalf("build = %v, want error %v", err, tt.wantErr)
			}
			acked, outcomes, _ := tw.store.snapshot()
			if (len(acked) == 1) != tt.acked || len(outcomes) != 0 {
				t.Errorf("acked %v, outcomes %+v; want acked %v and no outcome", acked, outcomes, tt.acked)
			}
			if n := tw.calls.count("builder.Build") + tw.calls.count("sandbox.Prewarm"); n != 0 {
				t.Errorf("built or pre-warmed: %s", tw.calls)
			}
		})
	}
}

func TestBuildShutdownLeavesJobPending(t *testing.T) {
	tw := newTestWorkers(t)
	withBuild(tw)
	started := make(chan struct{})
	tw.builder.build = func(ctx context.Context, _ imagebuilder.Spec) (string, string, error) {
		close(started)
		<-ctx.Done()
		return "", "", fmt.Errorf("build: %w", ctx.Err())
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- tw.build(ctx, buildJob(2)) }()
	await(t, started, "the build to start")
	cancel()
	if err := await(t, errc, "the build to end"); !errors.Is(err, context.Canceled) {
		t.Fatalf("build = %v, want context.Canceled", err)
	}
	acked, outcomes, _ := tw.store.snapshot()
	if len(acked) != 0 || len(outcomes) != 0 {
		t.Errorf("acked %v, recorded %+v: a job cut short must stay pending", acked, outcomes)
	}
	if tw.calls.count("sandbox.Prewarm") != 0 || tw.metric(t, "faaspot_build_duration_seconds", "failed").count != 0 {
		t.Errorf("a build cut short was pre-warmed or observed: %s", tw.calls)
	}
}

func TestBuildDeletedMidBuild(t *testing.T) {
	tests := []struct {
		name    string
		err     error // the build's
		rmErr   error // the builder's Remove
		removed bool
	}{
		{name: "built image and pre-warmed containers are removed", removed: true},
		{name: "images in use are kept, logged, not fatal", removed: true,
			rmErr: errors.New("image is being used by a running container")},
		{name: "failed build leaves nothing to remove", err: &imagebuilder.BuildError{Kind: imagebuilder.ErrBuildFailed, Message: "pip failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			withBuild(tw)
			tw.builder.rmErr = tt.rmErr
			tw.builder.build = func(context.Context, imagebuilder.Spec) (string, string, error) {
				tw.store.mu.Lock()
				delete(tw.store.deps, "fn") // DELETE /v1/deployments/fn meanwhile
				tw.store.mu.Unlock()
				if tt.err != nil {
					return "", "", tt.err
				}
				return "img/d1:v2", "built\n", nil
			}
			if err := tw.build(t.Context(), buildJob(2)); err != nil {
				t.Fatalf("build = %v, want nil (the store acknowledged the job)", err)
			}
			acked, _, _ := tw.store.snapshot()
			if len(acked) != 1 {
				t.Errorf("acked %d jobs, want 1", len(acked))
			}
			_, prewarms, retired := tw.runner.snapshot()
			wantGone := []imagebuilder.Ref{{TenantID: testTenant, DeploymentID: "d1"}}
			wantRetired := []string{"t1/d1/"}
			if !tt.removed {
				wantGone, wantRetired = nil, nil
			}
			if !slices.Equal(tw.builder.gone, wantGone) || !slices.Equal(retired, wantRetired) {
				t.Errorf("removed %v, retired %q; want %v, %q", tw.builder.gone, retired, wantGone, wantRetired)
			}
			if tt.removed && (len(prewarms) != 1 || tw.calls.index("sandbox.Retire") < tw.calls.index("sandbox.Prewarm")) {
				t.Errorf("pre-warmed containers must be retired after they were started: %s", tw.calls)
			}
			if len(tw.builder.removed) != 0 {
				t.Errorf("RemoveImage(%q) after a delete: the ready image was the deleted deployment's", tw.builder.removed)
			}
			kept := tw.logs.lines("level=DEBUG", `msg="images of a deployment deleted during its build kept"`, "being used")
			if (len(kept) == 1) != (tt.rmErr != nil) || len(kept) > 1 {
				t.Errorf("logged %q; want the images kept logged once when Remove fails, else not", kept)
			}
		})
	}
}

func TestBuildReplacesPreviousVersion(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(tw *testWorkers)
		removed []string // tags given to RemoveImage
		retired []string
		inUse   bool // RemoveImage fails: the previous image is kept
	}{
		{name: "first version has nothing to replace", setup: func(tw *testWorkers) {
			d := tw.store.deps["fn"]
			d.ReadyVersion, d.Image = 0, ""
			tw.store.deps["fn"] = d
		}},
		{name: "previous ready image and its containers go", setup: func(*testWorkers) {},
			removed: []string{"img/d1:v1"}, retired: []string{"t1/d1/1/"}},
		{name: "previous image of a kept version stays (pinned runs, rollback); its containers go", setup: func(tw *testWorkers) {
			tw.store.kept[1] = faaspot.VersionInfo{Version: 1, Image: "img/d1:v1"}
		}, retired: []string{"t1/d1/1/"}},
		{name: "store cannot list the kept versions: the previous image stays for the janitor", setup: func(tw *testWorkers) {
			tw.store.listErr = errors.New("store down")
		}, retired: []string{"t1/d1/1/"}},
		{name: "same image content keeps the image", setup: func(tw *testWorkers) {
			tw.builder.build = func(context.Context, imagebuilder.Spec) (string, string, error) { return "img/d1:v1", "", nil }
		}, retired: []string{"t1/d1/1/"}},
		{name: "previous image in use is kept, logged, not fatal", inUse: true, setup: func(tw *testWorkers) {
			tw.builder.rmImageErr = errors.New("conflict: image is being used by running container")
		}, removed: []string{"img/d1:v1"}, retired: []string{"t1/d1/1/"}},
		{name: "overtaken by a newer ready version: built containers retired too", setup: func(tw *testWorkers) {
			tw.builder.build = func(context.Context, imagebuilder.Spec) (string, string, error) {
				tw.store.mu.Lock()
				tw.store.deps["fn"] = faaspot.Deployment{ID: "d1", Name: "fn", Version: 3, ReadyVersion: 3, Image: "img/d1:v3"}
				tw.store.mu.Unlock()
				return "img/d1:v2", "", nil
			}
		}, removed: []string{"img/d1:v1"}, retired: []string{"t1/d1/1/", "t1/d1/2/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			withBuild(tw)
			tt.setup(tw)
			if err := tw.build(t.Context(), buildJob(2)); err != nil {
				t.Fatalf("build = %v", err)
			}
			_, _, retired := tw.runner.snapshot()
			if !slices.Equal(tw.builder.removed, tt.removed) || !slices.Equal(retired, tt.retired) {
				t.Errorf("removed images %q, retired %q; want %q, %q", tw.builder.removed, retired, tt.removed, tt.retired)
			}
			if i := tw.calls.index("builder.RemoveImage"); i >= 0 && i < tw.calls.index("store.FinishBuild") {
				t.Errorf("previous image removed before the new one was recorded: %s", tw.calls)
			}
			kept := tw.logs.lines("level=DEBUG", `msg="keep previous image"`, "image=img/d1:v1", "being used")
			if (len(kept) == 1) != tt.inUse || len(kept) > 1 {
				t.Errorf("logged %q; want the kept image logged once when RemoveImage fails, else not", kept)
			}
		})
	}
}

func TestBuildPrewarm(t *testing.T) {
	ptr := func(n int) *int { return &n }
	tests := []struct {
		name   string
		warm   bool
		policy *faaspot.WarmPolicy
		n      int   // containers pre-warmed, 0 for no call
		err    error // Prewarm's
	}{
		{name: "operator default", warm: true, n: 1},
		{name: "warm containers off", warm: false},
		{name: "deployment asks for none", warm: true, policy: &faaspot.WarmPolicy{Prewarm: ptr(0)}},
		{name: "deployment asks for more", warm: true, policy: &faaspot.WarmPolicy{Prewarm: ptr(3)}, n: 3},
		{name: "capped by the idle containers kept", warm: true, policy: &faaspot.WarmPolicy{Prewarm: ptr(3), MaxIdle: ptr(2)}, n: 2},
		{name: "pre-warm fails: logged, the version is still recorded ready", warm: true, n: 1,
			err: errors.New("start container: no space left on device")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			tw.set.warm.enabled = tt.warm
			withBuild(tw)
			d := tw.store.deps["fn"]
			d.Warm, d.Limits = tt.policy, faaspot.Limits{MemoryMB: 512}
			tw.store.deps["fn"] = d
			tw.runner.prewarmErr = tt.err
			if err := tw.build(t.Context(), buildJob(2)); err != nil {
				t.Fatalf("build = %v", err)
			}
			acked, outcomes, _ := tw.store.snapshot()
			if dep := tw.store.deps["fn"]; len(acked) != 1 || len(outcomes) != 1 || outcomes[0].Error != "" ||
				dep.ReadyVersion != 2 || dep.Status != faaspot.StatusReady {
				t.Errorf("acked %d, outcomes %+v, deployment %+v; want version 2 recorded ready", len(acked), outcomes, dep)
			}
			failed := tw.logs.lines("level=WARN", "msg=pre-warm", "deployment=fn", "version=2", "no space left")
			if (len(failed) == 1) != (tt.err != nil) || len(failed) > 1 {
				t.Errorf("logged %q; want a failed pre-warm logged once, else nothing", failed)
			}
			_, prewarms, _ := tw.runner.snapshot()
			if tt.n == 0 {
				if len(prewarms) != 0 {
					t.Errorf("pre-warmed %+v, want none", prewarms)
				}
				return
			}
			if len(prewarms) != 1 || prewarms[0].n != tt.n {
				t.Fatalf("prewarms = %+v, want one of %d", prewarms, tt.n)
			}
			req := prewarms[0].req
			if req.Image != "img/d1:v2" || req.Key != "t1/d1/2/" || req.TenantID != testTenant || req.Limits.MemoryBytes != 512<<20 {
				t.Errorf("prewarm request = %+v", req)
			}
			if tw.calls.index("sandbox.Prewarm") > tw.calls.index("store.FinishBuild") {
				t.Errorf("pre-warmed after the version was announced ready: %s", tw.calls)
			}
		})
	}
}

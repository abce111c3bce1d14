package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/imagebuilder"
	"github.com/faaspot/faaspot/registry"
	"github.com/faaspot/faaspot/sandbox"
)

const testRegistryImage = "127.0.0.1:5000/img/d1:v1"

// withRegistry sets the workers' registry and names the ready version's image in it.
func withRegistry(tw *testWorkers) {
	tw.set.registry = registry.Address{Host: "127.0.0.1:5000"}
	dep := tw.store.deps["fn"]
	dep.Image = testRegistryImage
	tw.store.deps["fn"] = dep
}

// TestRunPullsMissingImage: with a registry, a run whose image is missing on this node pulls it
// and runs it; when the registry has no such image, or the pull fails otherwise, the image is
// built here from the version's source as without a registry. Each pull is counted by result
// and logged with its seconds; an image not named in the registry is never pulled.
func TestRunPullsMissingImage(t *testing.T) {
	missing := fmt.Errorf("create container: %w: %w", sandbox.ErrEngine, cerrdefs.ErrNotFound)
	tests := []struct {
		name   string
		image  string // the ready version's image ("": named in the registry)
		pull   error
		result string // the pull's metric label, "" for no pull
		runs   []string
		builds int
		log    string
	}{
		{name: "pulled", result: "pulled", runs: []string{testRegistryImage, testRegistryImage},
			log: `level=INFO msg="image pulled from the registry for a run"`},
		{name: "not in the registry: built here", pull: fmt.Errorf("pull: %w", imagebuilder.ErrNotInRegistry), result: "missing",
			runs: []string{testRegistryImage, "img/d1:rebuilt"}, builds: 1, log: `level=INFO msg="image not in the registry; building it here"`},
		{name: "registry down: built here", pull: errors.New("dial tcp 127.0.0.1:5000: connection refused"), result: "error",
			runs: []string{testRegistryImage, "img/d1:rebuilt"}, builds: 1, log: `level=WARN msg="image pull from the registry failed; building it here"`},
		{name: "image of before the registry: built here, never pulled", image: "img/d1:v1",
			runs: []string{"img/d1:v1", "img/d1:rebuilt"}, builds: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			withRun(tw)
			withRegistry(tw)
			if tt.image != "" {
				dep := tw.store.deps["fn"]
				dep.Image = tt.image
				tw.store.deps["fn"] = dep
			}
			tw.builder.pull = func(context.Context, string) error { return tt.pull }
			tw.builder.build = func(_ context.Context, s imagebuilder.Spec) (string, string, error) {
				return "img/" + s.DeploymentID + ":rebuilt", "", nil
			}
			tw.runner.results = append(tw.runner.results, fails(missing), result(sandbox.Result{Outcome: sandbox.Completed}))
			if err := tw.run(t.Context(), runJob("e1")); err != nil {
				t.Fatalf("run = %v", err)
			}
			if e := onlyRecord(t, tw); e.Status != faaspot.ExecCompleted {
				t.Errorf("record %+v, want completed", e)
			}
			runs, _, _ := tw.runner.snapshot()
			var images []string
			for _, r := range runs {
				images = append(images, r.Image)
			}
			if fmt.Sprint(images) != fmt.Sprint(tt.runs) || len(tw.builder.specs) != tt.builds {
				t.Errorf("ran %q and built %d times, want %q and %d", images, len(tw.builder.specs), tt.runs, tt.builds)
			}
			wantPulls := 0
			if tt.result != "" {
				wantPulls = 1
			}
			if len(tw.builder.pulls) != wantPulls || (wantPulls == 1 && tw.builder.pulls[0] != testRegistryImage) {
				t.Errorf("pulled %q, want %d pull of %s", tw.builder.pulls, wantPulls, testRegistryImage)
			}
			for _, r := range []string{"pulled", "missing", "error"} {
				want := 0.0
				if r == tt.result {
					want = 1
				}
				if got := tw.metric(t, "faaspot_image_pulls_total", r).value; got != want {
					t.Errorf("faaspot_image_pulls_total{result=%s} = %v, want %v", r, got, want)
				}
			}
			if tt.log != "" && len(tw.logs.lines(tt.log, "seconds=", "image="+testRegistryImage)) != 1 {
				t.Errorf("want one line %s with its seconds; log:\n%s", tt.log, tw.logs)
			}
		})
	}
}

// joins makes f report each caller that joins a call: the channel gets its call's number of
// callers then.
func joins(f *flight, capacity int) <-chan int {
	ch := make(chan int, capacity)
	f.joined = func(_ string, n int) { ch <- n }
	return ch
}

// waitCallers waits until a call has want callers, as joined reports them.
func waitCallers(t *testing.T, joined <-chan int, want int) {
	t.Helper()
	for n := range joined {
		if n == want {
			return
		}
	}
}

// gatedPull makes the builder's pull signal started, then wait for gate (nil) or its ctx (ctx's
// error).
func gatedPull(tw *testWorkers) (started <-chan struct{}, gate chan struct{}) {
	start, gate := make(chan struct{}), make(chan struct{})
	tw.builder.pull = func(ctx context.Context, _ string) error {
		close(start)
		select {
		case <-gate:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return start, gate
}

// TestConcurrentRunsWaitForOnePull: runs missing the same image at once wait for one pull.
func TestConcurrentRunsWaitForOnePull(t *testing.T) {
	tw := newTestWorkers(t)
	withRun(tw)
	withRegistry(tw)
	started, gate := gatedPull(tw)
	dep := tw.store.deps["fn"]
	const runs = 4
	joined := joins(&tw.pulls, runs)
	var wg sync.WaitGroup
	got := make([]string, runs)
	errs := make([]error, runs)
	wg.Add(1)
	go func() { defer wg.Done(); got[0], errs[0] = tw.localImage(t.Context(), testTenant, dep) }()
	<-started
	for i := 1; i < runs; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); got[i], errs[i] = tw.localImage(t.Context(), testTenant, dep) }()
	}
	waitCallers(t, joined, runs)
	close(gate)
	wg.Wait()
	for i := range runs {
		if errs[i] != nil || got[i] != testRegistryImage {
			t.Errorf("run %d: localImage = %q, %v", i, got[i], errs[i])
		}
	}
	if len(tw.builder.pulls) != 1 || len(tw.builder.specs) != 0 {
		t.Errorf("pulled %d times, built %d; want one pull, no build", len(tw.builder.pulls), len(tw.builder.specs))
	}
	if got := tw.metric(t, "faaspot_image_pulls_total", "pulled").value; got != 1 {
		t.Errorf("faaspot_image_pulls_total{result=pulled} = %v, want 1", got)
	}
}

// TestSharedPullOutlivesFirstCaller: when the run that started a pull is cancelled (its job
// reclaimed, say), the runs waiting for that pull still get its image: the pull goes on.
func TestSharedPullOutlivesFirstCaller(t *testing.T) {
	tw := newTestWorkers(t)
	withRun(tw)
	withRegistry(tw)
	started, gate := gatedPull(tw)
	dep := tw.store.deps["fn"]
	joined := joins(&tw.pulls, 2)
	first, cancelFirst := context.WithCancel(t.Context())
	firstErr := make(chan error, 1)
	go func() { _, err := tw.localImage(first, testTenant, dep); firstErr <- err }()
	<-started
	type answer struct {
		image string
		err   error
	}
	second := make(chan answer, 1)
	go func() { img, err := tw.localImage(t.Context(), testTenant, dep); second <- answer{img, err} }()
	waitCallers(t, joined, 2)
	cancelFirst()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Errorf("the cancelled run's localImage = %v, want context.Canceled", err)
	}
	close(gate)
	if a := <-second; a.err != nil || a.image != testRegistryImage {
		t.Errorf("the waiting run's localImage = %q, %v; want %s", a.image, a.err, testRegistryImage)
	}
	if len(tw.builder.pulls) != 1 || len(tw.builder.specs) != 0 {
		t.Errorf("pulled %d times, built %d; want one pull, no build", len(tw.builder.pulls), len(tw.builder.specs))
	}
}

// TestFlightCancelledWhenAllLeave: a call goes on while any caller waits for it, is cancelled
// once the last has left, and a caller arriving after that starts a new one.
func TestFlightCancelledWhenAllLeave(t *testing.T) {
	var f flight
	joined := joins(&f, 3)
	calls := make(chan context.Context, 2)
	fn := func(ctx context.Context) (string, error) {
		calls <- ctx
		<-ctx.Done()
		return "", ctx.Err()
	}
	var ctxs [2]context.Context
	var cancels [2]context.CancelFunc
	errs := make(chan error, 2)
	for i := range ctxs {
		ctxs[i], cancels[i] = context.WithCancel(t.Context())
		go func() { _, err := f.do(ctxs[i], "k", fn); errs <- err }()
		waitCallers(t, joined, i+1)
	}
	call := <-calls
	cancels[0]()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Errorf("the first caller's do = %v, want context.Canceled", err)
	}
	if err := call.Err(); err != nil {
		t.Fatalf("the call's context ended (%v) while a caller waits for it", err)
	}
	cancels[1]()
	<-errs
	<-call.Done() // the last caller left: the call is cancelled
	third, cancelThird := context.WithCancel(t.Context())
	go func() { _, err := f.do(third, "k", fn); errs <- err }()
	if next := <-calls; next == call || next.Err() != nil {
		t.Errorf("a caller after the call was cancelled joined it (context %v), want a new call", next.Err())
	}
	cancelThird()
	<-errs
}

type ctxKey struct{}

// TestFlightBound: a call runs with the first caller's values, bounded by the flight's timeout
// of its own.
func TestFlightBound(t *testing.T) {
	f := flight{timeout: time.Nanosecond}
	ctx := context.WithValue(t.Context(), ctxKey{}, "v")
	got, err := f.do(ctx, "k", func(ctx context.Context) (string, error) {
		<-ctx.Done()
		v, _ := ctx.Value(ctxKey{}).(string)
		return v, ctx.Err()
	})
	if got != "v" || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("do = %q, %v; want the caller's value and context.DeadlineExceeded", got, err)
	}
}

// TestOwnImageInRegistry: with a registry, the deployment's repository named in it is its own,
// as is the one without it; the same repository in another registry or prefix is not.
func TestOwnImageInRegistry(t *testing.T) {
	tw := newTestWorkers(t)
	tw.set.registry = registry.Address{Host: "reg.example:5000", Prefix: "team"}
	job := runJob("e1")
	for image, ok := range map[string]bool{
		"reg.example:5000/team/img/d1:h": true, "img/d1:h": true,
		"reg.example:5000/img/d1:h": false, "other:5000/team/img/d1:h": false, "reg.example:5000/team/img/d2:h": false,
		"reg.example:5000/team/img/d1@sha256:00": false,
	} {
		if got := tw.ownImage(job, "d1", image); got != ok {
			t.Errorf("ownImage(%q) = %v, want %v", image, got, ok)
		}
	}
}

func TestRegistryConfig(t *testing.T) {
	tests := []struct {
		env  map[string]string
		ok   bool
		want registry.Address
	}{
		{env: map[string]string{}, ok: true},
		{env: map[string]string{"FAASPOT_REGISTRY": "127.0.0.1:5000/faas"}, ok: true, want: registry.Address{Host: "127.0.0.1:5000", Prefix: "faas"}},
		{env: map[string]string{"FAASPOT_REGISTRY": "https://127.0.0.1:5000"}},
		{env: map[string]string{"FAASPOT_REGISTRY": "127.0.0.1:5000/faas:v1"}},
		{env: map[string]string{"FAASPOT_REGISTRY": "127.0.0.1:5000", "FAASPOT_REGISTRY_USERNAME": "u"}},
		{env: map[string]string{"FAASPOT_REGISTRY": "127.0.0.1:5000", "FAASPOT_REGISTRY_USERNAME": "u",
			"FAASPOT_REGISTRY_PASSWORD_FILE": "/run/secrets/pw"}, ok: true, want: registry.Address{Host: "127.0.0.1:5000"}},
		{env: map[string]string{"FAASPOT_REGISTRY_USERNAME": "u", "FAASPOT_REGISTRY_PASSWORD_FILE": "/run/secrets/pw"}},
	}
	for _, tt := range tests {
		c := DefaultConfig()
		if err := c.LoadEnv(func(k string) string { return tt.env[k] }); err != nil {
			t.Fatal(err)
		}
		err := c.validateRegistry()
		if (err == nil) != tt.ok || (tt.ok && c.registryAddress() != tt.want) {
			t.Errorf("%v: validate = %v, address %+v; want ok %v, %+v", tt.env, err, c.registryAddress(), tt.ok, tt.want)
		}
	}
}

// TestRebuildNotPushed: an image built here for a run when the registry is down (its push fails)
// is run all the same; a build job whose push fails is recorded failed as an engine failure.
func TestRebuildNotPushed(t *testing.T) {
	missing := fmt.Errorf("create container: %w: %w", sandbox.ErrEngine, cerrdefs.ErrNotFound)
	down := errors.New("dial tcp 127.0.0.1:5000: connection refused")
	tw := newTestWorkers(t)
	withRun(tw)
	withRegistry(tw)
	tw.builder.pull = func(context.Context, string) error { return down }
	tw.builder.build = func(_ context.Context, s imagebuilder.Spec) (string, string, error) {
		return "", "", &imagebuilder.PushError{Image: testRegistryImage, Err: down}
	}
	tw.runner.results = append(tw.runner.results, fails(missing), result(sandbox.Result{Outcome: sandbox.Completed}))
	if err := tw.run(t.Context(), runJob("e1")); err != nil {
		t.Fatalf("run = %v", err)
	}
	if e := onlyRecord(t, tw); e.Status != faaspot.ExecCompleted {
		t.Errorf("record %+v, want completed from the image built here", e)
	}
	if len(tw.logs.lines("level=WARN", "could not be pushed")) != 1 {
		t.Errorf("want one WARN line about the push; log:\n%s", tw.logs)
	}

	out, err := tw.buildImage(t.Context(), buildJob(1), faaspot.Deployment{ID: "d1", Name: "fn"}, faaspot.Version{})
	if err != nil || out.Error != engineBuildFailed || out.Image != "" {
		t.Errorf("build with a failed push = %+v, %v; want the engine failure's message", out, err)
	}
	if len(tw.logs.lines("level=ERROR", "build failed in the engine", "connection refused")) != 1 {
		t.Errorf("want the push's error logged; log:\n%s", tw.logs)
	}
}

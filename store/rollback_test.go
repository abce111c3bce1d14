package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// deployBuilt puts a version of fn with code and memory and builds it with image img.
func deployBuilt(tb testing.TB, s *testStore, tid, code string, memory int, img string) faaspot.Deployment {
	tb.Helper()
	sp := spec("fn", code, map[string]any{"code": code})
	sp.Limits.MemoryMB = memory
	mustPut(tb, s, tid, sp)
	return mustFinishBuild(tb, s, mustNextJob(tb, s, store.Builds, "w"), store.BuildOutcome{Image: img})
}

// runOf queues a run of fn (pinned to version when > 0) and returns what a worker starts it with.
func runOf(tb testing.TB, s *testStore, tid string, version int) (faaspot.Execution, faaspot.Deployment, error) {
	tb.Helper()
	ctx := context.Background()
	e := faaspot.Execution{ID: faaspot.NewID(), Deployment: "fn", Version: version, Pinned: version > 0,
		Status: faaspot.ExecQueued, CreatedAt: time.Now().UTC()}
	if err := s.EnqueueRun(ctx, tid, e, 0, false); err != nil {
		tb.Fatal(err)
	}
	return s.RunInputs(ctx, tid, e.ID, "fn")
}

// TestRollback: a rollback makes a kept, built version the ready one, with its own image, limits
// and context; a build requested before it does not undo it, a deploy after it does.
func TestRollback(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	deployBuilt(t, s, tn.ID, "v1", 128, "img:1")
	deployBuilt(t, s, tn.ID, "v2", 256, "img:2")

	d, err := s.Rollback(ctx, tn.ID, "fn", 1)
	if err != nil || d.ReadyVersion != 1 || d.Image != "img:1" || d.Version != 2 || d.Status != faaspot.StatusReady {
		t.Fatalf("Rollback(1) = %+v, %v", d, err)
	}
	if vs := mustListVersions(t, s, tn.ID, "fn"); len(vs) != 2 || vs[0].Ready || !vs[1].Ready {
		t.Errorf("versions after the rollback = %+v, want v1 marked ready", vs)
	}
	_, run, err := runOf(t, s, tn.ID, 0)
	if err != nil || run.ReadyVersion != 1 || run.Image != "img:1" || run.Limits.MemoryMB != 128 {
		t.Errorf("a run after the rollback starts with %+v, %v; want v1's image and limits", run, err)
	}
	if c, err := s.LoadContext(ctx, tn.ID, "fn", 1); err != nil || !jsonEqual(c, `{"code":"v1"}`) {
		t.Errorf("context of v1: %s, %v", c, err)
	}

	// v3 is requested, the tenant rolls back to v2 while it builds: v3 built does not replace v2.
	sp := spec("fn", "v3", map[string]any{"code": "v3"})
	mustPut(t, s, tn.ID, sp)
	if d, err = s.Rollback(ctx, tn.ID, "fn", 2); err != nil || d.ReadyVersion != 2 {
		t.Fatalf("Rollback(2) while v3 builds = %+v, %v", d, err)
	}
	d = mustFinishBuild(t, s, mustNextJob(t, s, store.Builds, "w"), store.BuildOutcome{Image: "img:3"})
	if d.ReadyVersion != 2 || d.Image != "img:2" || d.Status != faaspot.StatusReady || d.Version != 3 {
		t.Errorf("after v3 built = %+v; want v2 still the ready one, v3 built", d)
	}
	// Deploying v3's content again means to run it: a new version that becomes the ready one.
	if d, created, err := s.PutDeployment(ctx, tn.ID, sp, 0); err != nil || !created || d.Version != 4 {
		t.Fatalf("redeploy of the newest after a rollback = %+v, %v, %v; want version 4", d, created, err)
	}
	d = mustFinishBuild(t, s, mustNextJob(t, s, store.Builds, "w"), store.BuildOutcome{Image: "img:4"})
	if d.ReadyVersion != 4 || d.Image != "img:4" {
		t.Errorf("after v4 built = %+v; want it ready", d)
	}
	// A roll forward to the built, never ready v3.
	if d, err = s.Rollback(ctx, tn.ID, "fn", 3); err != nil || d.ReadyVersion != 3 || d.Image != "img:3" {
		t.Errorf("Rollback(3) = %+v, %v", d, err)
	}
}

// TestRollbackRefused: a rollback to what cannot run changes nothing and says why.
func TestRollbackRefused(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	deployBuilt(t, s, tn.ID, "v1", 128, "img:1")
	mustPut(t, s, tn.ID, spec("fn", "v2 broken", nil))
	mustFinishBuild(t, s, mustNextJob(t, s, store.Builds, "w"), store.BuildOutcome{Error: "no main"})
	mustPut(t, s, tn.ID, spec("fn", "v3", nil)) // building

	for _, tc := range []struct {
		name    string
		dep     string
		version int
		want    error
		reason  string
	}{
		{"unknown deployment", "nope", 1, faaspot.ErrNotFound, ""},
		{"version never made", "fn", 9, faaspot.ErrVersionNotFound, "is not kept"},
		{"failed version", "fn", 2, faaspot.ErrVersionNotReady, "failed to build"},
		{"building version", "fn", 3, faaspot.ErrVersionNotReady, "is still building"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Rollback(ctx, tn.ID, tc.dep, tc.version)
			var ve *faaspot.VersionError
			if !errors.Is(err, tc.want) || (tc.reason != "" && (!errors.As(err, &ve) || ve.Reason != tc.reason)) {
				t.Errorf("Rollback(%s, %d) = %v, want %v (%q)", tc.dep, tc.version, err, tc.want, tc.reason)
			}
			if _, err := s.RunnableVersion(ctx, tn.ID, tc.dep, tc.version); !errors.Is(err, tc.want) {
				t.Errorf("RunnableVersion(%s, %d) = %v, want %v", tc.dep, tc.version, err, tc.want)
			}
		})
	}
	if d, _ := s.GetDeployment(ctx, tn.ID, "fn"); d.ReadyVersion != 1 || d.RolledBackAt != 0 {
		t.Errorf("after refused rollbacks: %+v", d)
	}
	if v, err := s.RunnableVersion(ctx, tn.ID, "fn", 1); err != nil || v.Version != 1 || v.Image != "img:1" {
		t.Errorf("RunnableVersion(1) = %+v, %v", v, err)
	}
	// A version whose source is gone (by hand, or an earlier release's) cannot come back.
	s.mr.Del(s.TenantKey(tn.ID, "src:fn:1"))
	if _, err := s.Rollback(ctx, tn.ID, "fn", 1); !errors.Is(err, faaspot.ErrVersionNotReady) {
		t.Errorf("Rollback to a version without its source = %v, want ErrVersionNotReady", err)
	}
}

// TestPinnedRun: a pinned run starts with its version's image, limits and context whatever the
// ready version; a pinned version dropped meanwhile is a VersionError, never another version.
func TestPinnedRun(t *testing.T) {
	s := mustOpenStore(t, store.Options{VersionsKept: 2})
	tn, _ := mustCreateTenant(t, s, "acme")
	deployBuilt(t, s, tn.ID, "v1", 128, "img:1")
	deployBuilt(t, s, tn.ID, "v2", 256, "img:2")

	e, run, err := runOf(t, s, tn.ID, 1)
	if err != nil || run.ReadyVersion != 1 || run.Image != "img:1" || run.Limits.MemoryMB != 128 || !e.Pinned {
		t.Errorf("pinned to v1: %+v, %+v, %v", e, run, err)
	}
	if _, run, err = runOf(t, s, tn.ID, 2); err != nil || run.ReadyVersion != 2 || run.Image != "img:2" || run.Limits.MemoryMB != 256 {
		t.Errorf("pinned to v2: %+v, %v", run, err)
	}
	// A run pinned to v1 waits in the queue while v3 is made: v1's record goes (2 kept).
	id := faaspot.NewID()
	queued := faaspot.Execution{ID: id, Deployment: "fn", Version: 1, Pinned: true, Status: faaspot.ExecQueued, CreatedAt: time.Now().UTC()}
	if err := s.EnqueueRun(context.Background(), tn.ID, queued, 0, false); err != nil {
		t.Fatal(err)
	}
	deployBuilt(t, s, tn.ID, "v3", 512, "img:3")
	_, _, err = s.RunInputs(context.Background(), tn.ID, id, "fn")
	if !errors.Is(err, faaspot.ErrVersionNotFound) {
		t.Errorf("a run pinned to a dropped version = %v, want ErrVersionNotFound", err)
	}
	// Unpinned runs use the ready version; while v4 builds, with v3's limits, not v4's.
	sp := spec("fn", "v4", nil)
	sp.Limits.MemoryMB = 1024
	mustPut(t, s, tn.ID, sp)
	if _, run, err = runOf(t, s, tn.ID, 0); err != nil || run.ReadyVersion != 3 || run.Limits.MemoryMB != 512 {
		t.Errorf("a run while v4 builds: %+v, %v; want v3 with its limits", run, err)
	}
}

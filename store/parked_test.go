package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

func parkedRun(id string) faaspot.Execution {
	return faaspot.Execution{ID: id, Deployment: "fn", Version: 1, Status: faaspot.ExecQueued, CreatedAt: t0}
}

// TestEnqueueOrPark: while the first version builds, runs are parked (stored, no job); a build
// of an older version that leaves the newest still building releases nothing; the build that
// settles the deployment queues them all, sync flags kept; once ready, runs are queued directly.
// A failed first build releases them too (their workers record the failure), and then new runs
// are refused with ErrBuildFailed.
func TestEnqueueOrPark(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{BuildCap: 2})
	tn, _ := mustCreateTenant(t, s, "acme")
	mustPut(t, s, tn.ID, spec("fn", "v1", nil))
	mustPut(t, s, tn.ID, spec("fn", "v2", nil))
	for i, id := range []string{"a", "b"} {
		parked, err := s.EnqueueOrPark(ctx, tn.ID, parkedRun(id), 10, i == 1)
		if err != nil || !parked {
			t.Fatalf("EnqueueOrPark(%s) = %v, %v; want parked", id, parked, err)
		}
	}
	if e, err := s.GetExecution(ctx, tn.ID, "a"); err != nil || e.Status != faaspot.ExecQueued {
		t.Errorf("parked record = %+v, %v", e, err)
	}
	mustNoJob(t, s, store.Runs)
	job1 := mustNextJob(t, s, store.Builds, "b1")
	job2 := mustNextJob(t, s, store.Builds, "b2")
	mustFinishBuild(t, s, job1, store.BuildOutcome{Error: "v1 broken"}) // v2 still building
	mustNoJob(t, s, store.Runs)
	mustFinishBuild(t, s, job2, store.BuildOutcome{Image: "img:2"})
	a, b := mustNextJob(t, s, store.Runs, "w"), mustNextJob(t, s, store.Runs, "w")
	if a.ID != "a" || a.Sync || b.ID != "b" || !b.Sync || a.Deployment != "fn" {
		t.Errorf("released jobs %+v, %+v; want a (async) then b (sync)", a, b)
	}
	mustNoJob(t, s, store.Runs)
	if parked, err := s.EnqueueOrPark(ctx, tn.ID, parkedRun("c"), 10, false); err != nil || parked {
		t.Errorf("EnqueueOrPark on a ready deployment = %v, %v; want queued", parked, err)
	}
	if j := mustNextJob(t, s, store.Runs, "w"); j.ID != "c" {
		t.Errorf("job %+v, want c", j)
	}

	mustPut(t, s, tn.ID, spec("gone", "v1", nil))
	gone := parkedRun("g")
	gone.Deployment = "gone"
	if _, err := s.EnqueueOrPark(ctx, tn.ID, gone, 10, false); err != nil {
		t.Fatal(err)
	}
	mustFinishBuild(t, s, mustNextJob(t, s, store.Builds, "b1"), store.BuildOutcome{Error: "no main"})
	if j := mustNextJob(t, s, store.Runs, "w"); j.ID != "g" {
		t.Errorf("run parked on a failed build: job %+v, want g", j)
	}
	if _, err := s.EnqueueOrPark(ctx, tn.ID, gone, 10, false); !errors.Is(err, store.ErrBuildFailed) {
		t.Errorf("EnqueueOrPark after the failed build = %v, want ErrBuildFailed", err)
	}
	if _, err := s.EnqueueOrPark(ctx, tn.ID, faaspot.Execution{ID: "x", Deployment: "nope", CreatedAt: t0}, 10, false); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("EnqueueOrPark on no deployment = %v, want ErrNotFound", err)
	}
}

// TestParkedBounded: parked runs of a deployment are capped by maxQueued (a *QuotaError, nothing
// written), and deleting the deployment hands them to the workers.
func TestParkedBounded(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	mustPut(t, s, tn.ID, spec("fn", "v1", nil))
	for _, id := range []string{"a", "b"} {
		if _, err := s.EnqueueOrPark(ctx, tn.ID, parkedRun(id), 2, false); err != nil {
			t.Fatal(err)
		}
	}
	var qe *faaspot.QuotaError
	if _, err := s.EnqueueOrPark(ctx, tn.ID, parkedRun("c"), 2, false); !errors.As(err, &qe) {
		t.Fatalf("third parked run = %v, want a quota error", err)
	}
	if _, err := s.GetExecution(ctx, tn.ID, "c"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused run was written: %v", err)
	}
	if _, err := s.DeleteDeployment(ctx, tn.ID, "fn"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a", "b"} {
		if j := mustNextJob(t, s, store.Runs, "w"); j.ID != want {
			t.Errorf("job %+v, want %s", j, want)
		}
	}
}

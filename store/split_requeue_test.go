package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// mustRepeat sends a repeated request of idempotency key "order-1" (EnqueueOrPark) and wants the
// run id back.
func mustRepeat(t *testing.T, s *testStore, tid, id string, now time.Time) {
	t.Helper()
	r := queued("fn", now)
	r.IdempotencyKey = "order-1"
	var ex *faaspot.ExistingRunError
	if _, err := s.EnqueueOrPark(context.Background(), tid, r, 0, false); !errors.As(err, &ex) || ex.ID != id {
		t.Fatalf("a repeated request = %v, want the run %s", err, id)
	}
}

// TestSplitRepeatKeepsParkedRun: a run parked on its deployment (its first build still going)
// for longer than orphanAge is not queued by a repeated request: only the build's end releases
// it, once.
func TestSplitRepeatKeepsParkedRun(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock(t0)
	s := mustOpenStore(t, store.Options{Now: clock.Now})
	s.SplitSteps()
	tn, _ := mustCreateTenant(t, s, "acme")
	mustPut(t, s, tn.ID, spec("fn", "v1", nil))
	e := queued("fn", t0)
	e.IdempotencyKey = "order-1"
	if parked, err := s.EnqueueOrPark(ctx, tn.ID, e, 0, true); err != nil || !parked {
		t.Fatalf("EnqueueOrPark = %v, %v; want parked", parked, err)
	}
	clock.Advance(11 * time.Second)
	mustRepeat(t, s, tn.ID, e.ID, clock.Now())
	mustNoJob(t, s, store.Runs)
	mustFinishBuild(t, s, mustNextJob(t, s, store.Builds, "b"), store.BuildOutcome{Image: "img:1"})
	if j := mustNextJob(t, s, store.Runs, "w"); j.ID != e.ID {
		t.Fatalf("released job = %+v, want the parked run's", j)
	}
	mustNoJob(t, s, store.Runs)
}

// TestSplitRepeatKeepsDelayedRun: a run waiting for a retry (its record queued again, its run on
// the delayed set) is not queued by a repeated request: only ReleaseDue queues it, once.
func TestSplitRepeatKeepsDelayedRun(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock(t0)
	s := mustOpenStore(t, store.Options{Now: clock.Now})
	s.SplitSteps()
	tn, _ := mustCreateTenant(t, s, "acme")
	mustPut(t, s, tn.ID, spec("fn", "v1", nil))
	mustFinishBuild(t, s, mustNextJob(t, s, store.Builds, "b"), store.BuildOutcome{Image: "img:1"})
	e := queued("fn", t0)
	e.IdempotencyKey = "order-1"
	if parked, err := s.EnqueueOrPark(ctx, tn.ID, e, 0, false); err != nil || parked {
		t.Fatalf("EnqueueOrPark = %v, %v; want queued", parked, err)
	}
	job := mustNextJob(t, s, store.Runs, "w1")
	e.Attempts = 1
	if err := s.RetryLater(ctx, job, e, clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(11 * time.Second)
	mustRepeat(t, s, tn.ID, e.ID, clock.Now())
	mustNoJob(t, s, store.Runs)
	if n, err := s.ReleaseDue(ctx, clock.Now().Add(2*time.Hour)); err != nil || n != 1 {
		t.Fatalf("ReleaseDue = %d, %v; want 1", n, err)
	}
	if j := mustNextJob(t, s, store.Runs, "w2"); j.ID != e.ID {
		t.Fatalf("job = %+v, want the retried run's", j)
	}
	mustNoJob(t, s, store.Runs)
}

// TestSplitFullQueueRepeatInBetween: a request repeating the idempotency key of a run refused by
// a full queue, arriving between its record and the step taking it back, is given the run's id;
// that id then leads to a definite outcome (failed, QueueFull), not to nothing.
func TestSplitFullQueueRepeatInBetween(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	s.SplitSteps()
	tn, _ := mustCreateTenant(t, s, "acme")
	mustEnqueue(t, s, tn.ID, queued("fn", t0))
	e := queued("fn", t0.Add(time.Millisecond))
	e.IdempotencyKey = "order-1"
	var given string
	s.OnStep("enqueue: undo", func() {
		r := queued("fn", t0.Add(2*time.Millisecond))
		r.IdempotencyKey = "order-1"
		var ex *faaspot.ExistingRunError
		if err := s.EnqueueRun(ctx, tn.ID, r, 1, false); !errors.As(err, &ex) {
			t.Errorf("the repeat in between = %v, want the refused run's id", err)
			return
		}
		given = ex.ID
	})
	var qe *faaspot.QuotaError
	if err := s.EnqueueRun(ctx, tn.ID, e, 1, false); !errors.As(err, &qe) {
		t.Fatalf("EnqueueRun on a full queue = %v, want a QuotaError", err)
	}
	if given != e.ID {
		t.Fatalf("the repeat was given %q, want %s", given, e.ID)
	}
	got, err := s.GetExecution(ctx, tn.ID, given)
	if err != nil || !got.Terminal() || got.Error == nil || got.Error.Type != "QueueFull" {
		t.Errorf("the run the repeat was given: %+v, %v; want it ended, QueueFull", got, err)
	}
}

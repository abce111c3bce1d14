package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// The single-slot steps the store takes over a Redis Cluster (split*.go), tested on miniredis
// too: each test makes its store take them.

// TestSplitFullQueueTakesBack: a run refused by a full queue, found full by the second step,
// leaves only its record, ended (failed, QueueFull): not listed, its idempotency key free for
// the next request.
func TestSplitFullQueueTakesBack(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	s.SplitSteps()
	tn, _ := mustCreateTenant(t, s, "acme")
	first := mustEnqueue(t, s, tn.ID, queued("fn", t0))
	e := queued("fn", t0.Add(time.Millisecond))
	e.IdempotencyKey = "order-1"
	var qe *faaspot.QuotaError
	if err := s.EnqueueRun(ctx, tn.ID, e, 1, false); !errors.As(err, &qe) {
		t.Fatalf("EnqueueRun on a full queue = %v, want a QuotaError", err)
	}
	if got, err := s.GetExecution(ctx, tn.ID, e.ID); err != nil || got.Status != faaspot.ExecFailed ||
		got.Error == nil || got.Error.Type != "QueueFull" {
		t.Errorf("the refused run's record: %+v, %v; want it failed, QueueFull", got, err)
	}
	list, _, err := s.ListExecutions(ctx, tn.ID, faaspot.ExecutionQuery{Limit: 10})
	if err != nil || len(list) != 1 || list[0].ID != first.ID {
		t.Errorf("ListExecutions = %+v, %v; want only the first run", list, err)
	}
	again := queued("fn", t0.Add(2*time.Millisecond))
	again.IdempotencyKey = "order-1"
	if err := s.EnqueueRun(ctx, tn.ID, again, 0, false); err != nil {
		t.Errorf("the key of a refused run gives %v, want a new run", err)
	}
}

// TestSplitRequeuesOrphan: a run an idempotency key gives, whose job was never queued (its node
// died between the record and the job), is queued again by a repeated request once it is
// orphanAge old, and only once.
func TestSplitRequeuesOrphan(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock(t0)
	s := mustOpenStore(t, store.Options{Now: clock.Now})
	s.SplitSteps()
	tn, _ := mustCreateTenant(t, s, "acme")
	e := queued("fn", t0)
	e.IdempotencyKey = "order-1"
	mustEnqueue(t, s, tn.ID, e)
	// Its job taken off the stream, the record left queued: as if the job was never queued.
	if err := s.Ack(ctx, mustNextJob(t, s, store.Runs, "w1")); err != nil {
		t.Fatal(err)
	}
	repeat := func() {
		t.Helper()
		r := queued("fn", clock.Now())
		r.IdempotencyKey = "order-1"
		var ex *faaspot.ExistingRunError
		if err := s.EnqueueRun(ctx, tn.ID, r, 0, false); !errors.As(err, &ex) || ex.ID != e.ID {
			t.Fatalf("a repeated request = %v, want the run %s", err, e.ID)
		}
	}
	repeat()
	mustNoJob(t, s, store.Runs) // too young: its enqueue may be in progress
	clock.Advance(11 * time.Second)
	repeat()
	if j := mustNextJob(t, s, store.Runs, "w2"); j.ID != e.ID {
		t.Fatalf("job = %+v, want the orphaned run's", j)
	}
	repeat() // its job is in the stream (running): not queued again
	mustNoJob(t, s, store.Runs)
}

// TestSplitAckSchedulesCallback: a run whose terminal record holds a pending callback but whose
// job was not acknowledged (its worker died between the two steps of its end) gets its callback
// scheduled when the worker reclaiming it acknowledges it.
func TestSplitAckSchedulesCallback(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{ResultTTL: time.Hour})
	s.SplitSteps()
	tn, _ := mustCreateTenant(t, s, "acme")
	q := queued("fn", time.Now())
	q.Callback = &faaspot.Callback{URL: "https://example.test/hook", State: faaspot.CallbackPending}
	e := mustEnqueue(t, s, tn.ID, q)
	job := mustNextJob(t, s, store.Runs, "w")
	e.Status = faaspot.ExecCompleted
	if err := s.FinishRun(ctx, job, e); err != nil {
		t.Fatal(err)
	}
	// As if the second step never ran: no callback scheduled.
	if err := s.rdb.Del(ctx, s.QueueKey("callbacks")).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(ctx, job); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.TakeCallbacks(ctx, time.Now().Add(time.Second), time.Minute, 10)
	if err != nil || len(jobs) != 1 || jobs[0].ID != e.ID {
		t.Fatalf("TakeCallbacks after the reclaiming worker's Ack = %+v, %v; want the run's", jobs, err)
	}
	// Once taken (leased), acknowledging again does not move it.
	if err := s.Ack(ctx, job); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.TakeCallbacks(ctx, time.Now().Add(30*time.Second), time.Minute, 10); len(again) != 0 {
		t.Errorf("a leased callback was rescheduled by an Ack: %+v", again)
	}
}

// TestSplitCreateTenantTakenName: a create that loses a name leaves nothing of its own.
func TestSplitCreateTenantTakenName(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	s.SplitSteps()
	mustCreateTenant(t, s, "acme")
	before := s.mr.Keys()
	if _, _, err := s.CreateTenant(ctx, "acme"); !errors.Is(err, store.ErrExists) {
		t.Fatalf("CreateTenant of a taken name = %v, want ErrExists", err)
	}
	if after := s.mr.Keys(); !slices.Equal(before, after) {
		t.Errorf("keys after a refused create: %v, want %v", after, before)
	}
}

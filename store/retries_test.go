package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// TestRetryLater: a run scheduled again is recorded queued with its attempts, its job
// acknowledged, and queued again only once due; the run that fails its last attempt is listed
// among the tenant's dead letters until it is taken off.
func TestRetryLater(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	e := mustEnqueue(t, s, tn.ID, queued("fn", time.Now()))
	job := mustNextJob(t, s, store.Runs, "w")
	now := time.Now()
	e.Attempts, e.Error = 1, &faaspot.ExecError{Type: "ValueError", Message: "bad"}
	if err := s.RetryLater(ctx, job, e, now.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetExecution(ctx, tn.ID, e.ID); got.Status != faaspot.ExecQueued || got.Attempts != 1 || got.Error == nil {
		t.Errorf("record = %+v, want queued after attempt 1 with its error", got)
	}
	if n, _ := s.ReleaseDue(ctx, now); n != 0 {
		t.Errorf("released %d before due", n)
	}
	if j, _ := s.NextJob(ctx, store.Runs, "w", 10*time.Millisecond); j != nil {
		t.Fatalf("a job was claimable before the retry was due: %+v", j)
	}
	if n, err := s.ReleaseDue(ctx, now.Add(3*time.Second)); err != nil || n != 1 {
		t.Fatalf("ReleaseDue = %d, %v; want 1", n, err)
	}
	again := mustNextJob(t, s, store.Runs, "w")
	if again.ID != e.ID || again.Deployment != "fn" || again.Tenant != tn.ID {
		t.Fatalf("the retry's job = %+v", again)
	}
	e.Attempts, e.Status = 2, faaspot.ExecFailed
	if err := s.FinishDead(ctx, again, e); err != nil {
		t.Fatal(err)
	}
	dead, err := s.ListDeadLetters(ctx, tn.ID, 10)
	if err != nil || len(dead) != 1 || dead[0].ID != e.ID || dead[0].Status != faaspot.ExecFailed {
		t.Fatalf("dead letters = %+v, %v", dead, err)
	}
	if err := s.RemoveDeadLetter(ctx, tn.ID, e.ID); err != nil {
		t.Fatal(err)
	}
	if dead, _ := s.ListDeadLetters(ctx, tn.ID, 10); len(dead) != 0 {
		t.Errorf("dead letters after removal = %+v", dead)
	}
}

// TestStartOnceAndDeadOnce: a run marked started only while queued starts once; a dead letter is
// listed only by the write that ended the execution.
func TestStartOnceAndDeadOnce(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	e := mustEnqueue(t, s, tn.ID, queued("fn", time.Now()))
	job := mustNextJob(t, s, store.Runs, "w")
	e.Status = faaspot.ExecRunning
	if ok, err := s.StartOnce(ctx, tn.ID, e); !ok || err != nil {
		t.Fatalf("first StartOnce = %v, %v", ok, err)
	}
	if ok, err := s.StartOnce(ctx, tn.ID, e); ok || err != nil {
		t.Errorf("second StartOnce = %v, %v; want false: started already", ok, err)
	}
	e.Status = faaspot.ExecCompleted
	if err := s.FinishRun(ctx, job, e); err != nil {
		t.Fatal(err)
	}
	e.Status = faaspot.ExecFailed
	if err := s.FinishDead(ctx, job, e); err != nil {
		t.Fatal(err)
	}
	if dead, _ := s.ListDeadLetters(ctx, tn.ID, 10); len(dead) != 0 {
		t.Errorf("an execution that had completed was listed dead: %+v", dead)
	}
}

package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// TestTakeOwn: a node that starts again under its consumer name takes its own pending jobs back
// at once, however recently they were delivered, and none of another live consumer's.
func TestTakeOwn(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{RunCap: 8})
	tn, _ := mustCreateTenant(t, s, "acme")
	other, _ := mustCreateTenant(t, s, "other")
	var mine []string
	for range 3 {
		mustEnqueue(t, s, tn.ID, queued("fn", time.Now()))
		mine = append(mine, mustNextJob(t, s, store.Runs, "node-1").ID)
	}
	mustEnqueue(t, s, other.ID, queued("fn", time.Now()))
	mine = append(mine, mustNextJob(t, s, store.Runs, "node-1").ID)
	mustEnqueue(t, s, tn.ID, queued("fn", time.Now()))
	theirs := mustNextJob(t, s, store.Runs, "node-2")

	jobs, err := s.TakeOwn(ctx, store.Runs, "node-1", 16)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range jobs {
		got = append(got, j.ID)
	}
	slices.Sort(got)
	slices.Sort(mine)
	if !slices.Equal(got, mine) {
		t.Errorf("TakeOwn = %v, want node-1's %v (never node-2's %s)", got, mine, theirs.ID)
	}
	if jobs, _ := s.TakeOwn(ctx, store.Runs, "node-1", 2); len(jobs) != 2 {
		t.Errorf("TakeOwn(count 2) = %d jobs, want 2", len(jobs))
	}
	if jobs, _ := s.TakeOwn(ctx, store.Builds, "node-1", 16); len(jobs) != 0 {
		t.Errorf("TakeOwn(builds) = %+v: queues mixed", jobs)
	}
}

// TestReclaimBatch: a dead node's jobs are reclaimed together, across tenants, up to count.
func TestReclaimBatch(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{RunCap: 8})
	a, _ := mustCreateTenant(t, s, "acme")
	b, _ := mustCreateTenant(t, s, "other")
	for _, tid := range []string{a.ID, a.ID, a.ID, b.ID, b.ID} {
		mustEnqueue(t, s, tid, queued("fn", time.Now()))
		mustNextJob(t, s, store.Runs, "dead")
	}
	mustHeartbeat(t, s, "alive")
	if err := s.Leave(ctx, "dead"); err != nil {
		t.Fatal(err)
	}
	first, err := s.Reclaim(ctx, store.Runs, "alive", time.Hour, 4)
	if err != nil || len(first) != 4 {
		t.Fatalf("Reclaim(4) = %d jobs, %v; want 4 at once", len(first), err)
	}
	rest, err := s.Reclaim(ctx, store.Runs, "alive", time.Hour, 4)
	if err != nil || len(rest) != 1 {
		t.Fatalf("second Reclaim = %d jobs, %v; want the last one", len(rest), err)
	}
	if again, _ := s.Reclaim(ctx, store.Runs, "other-node", time.Hour, 4); len(again) != 0 {
		t.Errorf("the live reclaimer's jobs were reclaimed again: %d", len(again))
	}
}

// TestClaimCapCountsLiveConsumers: a tenant's running jobs are those of live consumers: a dead
// node's job does not hold the tenant's last slot.
func TestClaimCapCountsLiveConsumers(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{RunCap: 1})
	tn, _ := mustCreateTenant(t, s, "acme")
	mustEnqueue(t, s, tn.ID, queued("fn", time.Now()))
	mustEnqueue(t, s, tn.ID, queued("fn", time.Now()))
	mustNextJob(t, s, store.Runs, "node-1")
	mustHeartbeat(t, s, "node-2")
	if j, err := s.NextJob(ctx, store.Runs, "node-2", 10*time.Millisecond); err != nil || j != nil {
		t.Fatalf("claim past the cap while node-1 lives = %+v, %v", j, err)
	}
	if err := s.Leave(ctx, "node-1"); err != nil {
		t.Fatal(err)
	}
	if j, err := s.NextJob(ctx, store.Runs, "node-2", 10*time.Millisecond); err != nil || j == nil {
		t.Fatalf("claim once node-1 is dead = %+v, %v; want the next job", j, err)
	}
}

// TestFirstOutcomeWins: a run re-run after its worker was thought dead never replaces the outcome
// recorded first, nor goes back to running; both jobs are acknowledged.
func TestFirstOutcomeWins(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	e := mustEnqueue(t, s, tn.ID, queued("fn", time.Now()))
	first := mustNextJob(t, s, store.Runs, "slow")
	if err := s.Leave(ctx, "slow"); err != nil {
		t.Fatal(err)
	}
	mustHeartbeat(t, s, "other")
	again, err := s.Reclaim(ctx, store.Runs, "other", time.Hour, 1)
	if err != nil || len(again) != 1 {
		t.Fatalf("Reclaim = %+v, %v", again, err)
	}
	done := e
	done.Status, done.Result = faaspot.ExecCompleted, json.RawMessage(`"first"`)
	if err := s.FinishRun(ctx, first, done); err != nil {
		t.Fatal(err)
	}
	rerun := e
	rerun.Status = faaspot.ExecRunning
	if err := s.MarkRunning(ctx, tn.ID, rerun); err != nil {
		t.Fatal(err)
	}
	rerun.Status, rerun.Result = faaspot.ExecFailed, json.RawMessage(`"second"`)
	if err := s.FinishRun(ctx, again[0], rerun); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetExecution(ctx, tn.ID, e.ID)
	if err != nil || got.Status != faaspot.ExecCompleted || string(got.Result) != `"first"` {
		t.Errorf("record = %+v, %v; want the first outcome", got, err)
	}
	if p, _ := s.rdb.XPending(ctx, s.QueueKey("runs:")+tn.ID, "workers").Result(); p.Count != 0 {
		t.Errorf("%d jobs pending, want both acknowledged", p.Count)
	}
	if w, ok, err := s.WaitExecution(ctx, tn.ID, e.ID, time.Second, false); err != nil || !ok || string(w.Result) != `"first"` {
		t.Errorf("the sync waiter got %+v, %v, %v; want the first outcome", w, ok, err)
	}
}

// TestOutOfMemoryClassified: Redis' refusals for lack of memory are told apart from other failures.
func TestOutOfMemoryClassified(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		full bool
	}{
		{"OOM command not allowed when used memory > 'maxmemory'.", true},
		{"EXECABORT Transaction discarded because of previous errors: OOM command not allowed", true},
		{"ERR Error running script (call to f_x): @user_script:1: OOM command not allowed when used memory > 'maxmemory'", true},
		{"dial tcp 127.0.0.1:6379: connect: connection refused", false},
		{"EXECABORT Transaction discarded because of previous errors.", false},
	} {
		if got := store.OutOfMemory(errors.New(tc.msg)); got != tc.full {
			t.Errorf("OutOfMemory(%q) = %v, want %v", tc.msg, got, tc.full)
		}
	}
}

package daemon

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/sandbox"
	"github.com/faaspot/faaspot/store"
)

// TestStartTakesOwnJobs: a node started again under its name runs its own pending jobs (a
// previous life's) before it takes any new one, and leaves once stopped.
func TestStartTakesOwnJobs(t *testing.T) {
	tw := newTestWorkers(t)
	withRun(tw)
	tw.set.janitorInterval = 0
	tw.store.own[store.Runs] = []store.Job{runJob("e1")}
	tw.store.next = make(chan nextJob)
	soft, stop := context.WithCancel(t.Context())
	done := tw.start(soft)
	if i, j := tw.calls.index("store.TakeOwn runs"), tw.calls.index("store.NextJob"); i < 0 || (j >= 0 && j < i) {
		t.Errorf("own jobs not taken first: %s", tw.calls)
	}
	for deadline := time.Now().Add(10 * time.Second); tw.calls.count("store.FinishRun") == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // a real wait for another goroutine, not a timing assertion
	}
	stop()
	await(t, done, "the workers to stop")
	if _, _, finished := tw.store.snapshot(); len(finished) != 1 || finished[0].ID != "e1" {
		t.Errorf("records %+v, want the node's own pending job run", finished)
	}
	if i, j := tw.calls.index("store.Leave"), tw.calls.index("store.FinishRun"); i < 0 || i < j {
		t.Errorf("the node did not leave after its last job: %s", tw.calls)
	}
}

// TestHeartbeatLoop: the node renews its heartbeat every reclaimIdle/4, retries after
// heartbeatRetry when the store fails, and then skips reclaiming for reclaimIdle: other nodes'
// heartbeats may have lapsed through no fault of theirs.
func TestHeartbeatLoop(t *testing.T) {
	tw := newTestWorkers(t)
	withRun(tw)
	tw.store.reclaims[store.Runs] = []store.Job{runJob("e1")}
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); tw.heartbeatLoop(ctx) }()
	tw.clock.waitFor(t, tw.set.reclaimIdle/4)
	if n := tw.calls.count("store.Heartbeat"); n != 1 {
		t.Fatalf("%d heartbeats at start, want 1", n)
	}
	tw.store.mu.Lock()
	tw.store.heartbeatErr = fmt.Errorf("heartbeat: %w", faaspot.ErrUnavailable)
	tw.store.mu.Unlock()
	tw.clock.Advance(tw.set.reclaimIdle / 4)
	tw.clock.waitFor(t, heartbeatRetry)
	var inflight sync.WaitGroup
	go func() { defer wg.Done(); tw.reclaimLoop(ctx, &inflight) }()
	tw.clock.waitFor(t, tw.set.reclaimIdle/3)
	tw.clock.Advance(tw.set.reclaimIdle / 3) // the store failed under a reclaimIdle ago: no reclaim
	tw.clock.waitFor(t, tw.set.reclaimIdle/3)
	if n := tw.calls.count("store.Reclaim runs"); n != 0 {
		t.Errorf("reclaimed %d times right after the store failed", n)
	}
	tw.store.mu.Lock()
	tw.store.heartbeatErr = nil
	tw.store.mu.Unlock()
	tw.clock.Advance(tw.set.reclaimIdle) // the heartbeat is back, the failure old enough
	tw.clock.waitFor(t, tw.set.reclaimIdle/3)
	tw.clock.Advance(tw.set.reclaimIdle / 3)
	tw.clock.waitFor(t, tw.set.reclaimIdle/3)
	stop()
	wg.Wait()
	inflight.Wait()
	if n := tw.calls.count("store.Reclaim runs"); n == 0 {
		t.Errorf("no reclaim once the store was back: %s", tw.calls)
	}
	if lines := tw.logs.lines("level=WARN", "msg=heartbeat"); len(lines) == 0 {
		t.Errorf("the failed heartbeat was not logged:\n%s", tw.logs)
	}
	if _, _, finished := tw.store.snapshot(); len(finished) != 1 {
		t.Errorf("records %+v, want the reclaimed job run", finished)
	}
}

// TestReclaimedJobsShareSlots: reclaimed jobs run in the slots of their queue: never more at once
// than the node's workers.
func TestReclaimedJobsShareSlots(t *testing.T) {
	tw := newTestWorkers(t)
	withRun(tw)
	tw.runSlots = make(slots, 1)
	started, release := blockingRun(tw)
	tw.runner.results = append(tw.runner.results, result(sandbox.Result{Outcome: sandbox.Completed}))
	var inflight sync.WaitGroup
	tw.dispatch(&inflight, []store.Job{runJob("e1")})
	await(t, started, "the first run to start")
	if tw.runSlots.free() != 0 {
		t.Fatal("a running job holds no slot")
	}
	// A second reclaimed job waits for the slot.
	tw.store.execs["e2"] = faaspot.Execution{ID: "e2", Deployment: "fn", Status: faaspot.ExecQueued}
	tw.dispatch(&inflight, []store.Job{runJob("e2")})
	for tw.calls.count("store.Touch") < 2 { // its keep-alive runs while it waits for the slot
		tw.clock.waitFor(t, tw.set.reclaimIdle/4)
		tw.clock.Advance(tw.set.reclaimIdle / 4)
		runtime.Gosched()
	}
	if n := tw.calls.count("store.RunInputs"); n != 1 {
		t.Fatalf("%d runs begun at once with one slot", n)
	}
	close(release)
	inflight.Wait()
	if tw.runSlots.free() != 1 || tw.calls.count("sandbox.Run") != 2 {
		t.Errorf("free slots %d, runs %d; want the slot released and both jobs run", tw.runSlots.free(), tw.calls.count("sandbox.Run"))
	}
}

// TestRunOnceWithKey: a run with an idempotency key is marked running before the function starts;
// found running (its node died mid-run), it is not run again but recorded failed WorkerLost.
func TestRunOnceWithKey(t *testing.T) {
	for _, found := range []faaspot.ExecStatus{faaspot.ExecQueued, faaspot.ExecRunning} {
		t.Run(string(found), func(t *testing.T) {
			tw := newTestWorkers(t)
			withRun(tw)
			e := tw.store.execs["e1"]
			e.IdempotencyKey, e.Status = "order-42", found
			tw.store.execs["e1"] = e
			if err := tw.run(t.Context(), runJob("e1")); err != nil {
				t.Fatal(err)
			}
			rec := onlyRecord(t, tw)
			if found == faaspot.ExecRunning {
				if rec.Status != faaspot.ExecFailed || rec.Error == nil || rec.Error.Type != errTypeWorkerLost || tw.calls.count("sandbox.Run") != 0 {
					t.Errorf("record %s %+v, %d runs; want WorkerLost and no run", rec.Status, rec.Error, tw.calls.count("sandbox.Run"))
				}
				return
			}
			if i, j := tw.calls.index("store.StartOnce"), tw.calls.index("sandbox.Run"); i < 0 || j < i {
				t.Errorf("the keyed run was not marked running before it started: %s", tw.calls)
			}
			if rec.Status != faaspot.ExecCompleted {
				t.Errorf("record %+v, want completed", rec)
			}
		})
	}
}

// TestNoJobStartsWhenStopping: a job handed over once the workers were told to stop does not
// start: it stays pending for another node (or this one's next start).
func TestNoJobStartsWhenStopping(t *testing.T) {
	tw := newTestWorkers(t)
	withRun(tw)
	soft, stop := context.WithCancel(t.Context())
	tw.soft = soft
	stop()
	tw.handle(runJob("e1"))
	if acked, _, _ := tw.store.snapshot(); len(acked) != 0 || tw.calls.count("store.RunInputs") != 0 {
		t.Errorf("a job started after the stop: %s", tw.calls)
	}
}

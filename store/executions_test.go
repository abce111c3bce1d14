package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

func queued(dep string, created time.Time) faaspot.Execution {
	return faaspot.Execution{ID: faaspot.NewID(), Deployment: dep, Version: 1, Status: faaspot.ExecQueued,
		Args: json.RawMessage(`{"a":1}`), CreatedAt: created.UTC()}
}

func mustEnqueue(tb testing.TB, s *testStore, tid string, e faaspot.Execution) faaspot.Execution {
	tb.Helper()
	if err := s.EnqueueRun(context.Background(), tid, e, 0, true); err != nil {
		tb.Fatalf("EnqueueRun: %v", err)
	}
	return e
}

// TestRunLifecycle runs in a synctest bubble: the waiter is known to be blocked in Redis before
// the run finishes, and its timeout passes on the bubble's clock, not the wall clock.
func TestRunLifecycle(t *testing.T) {
	skipOnCluster(t, bubbleReason)
	synctest.Test(t, testRunLifecycle)
}

func testRunLifecycle(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{ResultTTL: time.Hour})
	s.mr.SetTime(t0)
	tn, _ := mustCreateTenant(t, s, "acme")
	e := mustEnqueue(t, s, tn.ID, queued("fn", t0))

	got, err := s.GetExecution(ctx, tn.ID, e.ID)
	if err != nil || got.Status != faaspot.ExecQueued || got.Terminal() || string(got.Args) != `{"a":1}` {
		t.Fatalf("queued record = %+v, %v", got, err)
	}
	job := mustNextJob(t, s, store.Runs, "w1")
	if job.Queue != store.Runs || job.Tenant != tn.ID || job.ID != e.ID || !job.Enqueued.Equal(t0) {
		t.Fatalf("run job = %+v, want enqueued at %v", job, t0)
	}
	if job.String() != "run "+tn.ID+"/"+e.ID {
		t.Errorf("job.String() = %q", job.String())
	}

	started := t0.Add(time.Second)
	got.Status, got.StartedAt = faaspot.ExecRunning, &started
	if err := s.MarkRunning(ctx, tn.ID, got); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.GetExecution(ctx, tn.ID, e.ID); r.Status != faaspot.ExecRunning || r.Terminal() {
		t.Errorf("running record = %+v", r)
	}

	finished := t0.Add(2 * time.Second)
	code := 0
	got.Status, got.FinishedAt, got.ExitCode = faaspot.ExecCompleted, &finished, &code
	got.Result, got.Stdout = json.RawMessage(`{"x":1}`), "printed\n"

	waited := make(chan bool, 1)
	go func() {
		_, done, err := s.WaitExecution(ctx, tn.ID, e.ID, 5*time.Second, false)
		if err != nil {
			t.Errorf("WaitExecution: %v", err)
		}
		waited <- done
	}()
	// Every goroutine of the bubble is blocked: the waiter's BLPOP is parked in miniredis. (A
	// waiter arriving after the end is TestWaitExecution's.)
	synctest.Wait()
	select {
	case <-waited:
		t.Fatal("WaitExecution returned before the run finished")
	default:
	}
	start := time.Now()
	if err := s.FinishRun(ctx, job, got); err != nil {
		t.Fatal(err)
	}
	if done := <-waited; !done {
		t.Fatalf("WaitExecution timed out after %v: FinishRun did not wake it", time.Since(start))
	}
	if d := time.Since(start); d != 0 {
		t.Errorf("the waiter woke %v after FinishRun, want at once (woken by the push, not a poll)", d)
	}

	final, err := s.GetExecution(ctx, tn.ID, e.ID)
	if err != nil || !final.Terminal() || final.Status != faaspot.ExecCompleted || string(final.Result) != `{"x":1}` ||
		final.Stdout != "printed\n" || final.ExitCode == nil || *final.ExitCode != 0 {
		t.Errorf("terminal record = %+v, %v", final, err)
	}
	if ttl := s.mr.TTL(s.TenantKey(tn.ID, "exec:") + e.ID); ttl != time.Hour {
		t.Errorf("terminal record TTL = %v, want the result TTL (1h)", ttl)
	}
	if s.mr.Exists(s.TenantKey(tn.ID, "done:") + e.ID) {
		t.Error("the notification outlives its waiter")
	}
	if p, err := s.rdb.XPending(ctx, s.QueueKey("runs:")+tn.ID, "workers").Result(); err != nil || p.Count != 0 {
		t.Errorf("pending runs = %+v, %v; want acknowledged", p, err)
	}
	if n, _ := s.QueueDepth(ctx, store.Runs); n != 0 {
		t.Errorf("queue depth = %d, want 0", n)
	}
	s.mr.FastForward(time.Hour - time.Millisecond)
	if _, err := s.GetExecution(ctx, tn.ID, e.ID); err != nil {
		t.Errorf("the terminal record is gone before its TTL: %v", err)
	}
	s.mr.FastForward(time.Millisecond)
	if _, err := s.GetExecution(ctx, tn.ID, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the terminal record outlives its TTL: %v", err)
	}
}

// TestWaitExecution: each case runs in a synctest bubble, so the timeouts pass on its clock: the
// durations below do not depend on the machine's speed.
func TestWaitExecution(t *testing.T) {
	// running opens a store whose one execution was taken by a worker and is still running.
	running := func(t *testing.T) (*testStore, store.Job, faaspot.Execution) {
		s := mustOpenStore(t, store.Options{})
		tn, _ := mustCreateTenant(t, s, "acme")
		e := mustEnqueue(t, s, tn.ID, queued("fn", t0))
		return s, mustNextJob(t, s, store.Runs, "w1"), e
	}
	t.Run("times out while running", func(t *testing.T) {
		skipOnCluster(t, bubbleReason)
		synctest.Test(t, func(t *testing.T) {
			s, job, e := running(t)
			start := time.Now()
			_, done, err := s.WaitExecution(t.Context(), job.Tenant, e.ID, 10*time.Millisecond, false)
			if done || err != nil {
				t.Errorf("WaitExecution = %v, %v; want false, nil", done, err)
			}
			if d := time.Since(start); d != time.Second {
				t.Errorf("returned after %v, want the 1 s minimum", d)
			}
		})
	})
	t.Run("waiter arriving after the end", func(t *testing.T) {
		skipOnCluster(t, bubbleReason)
		synctest.Test(t, func(t *testing.T) {
			s, job, e := running(t)
			e.Status = faaspot.ExecFailed
			e.Error = &faaspot.ExecError{Type: "ValueError", Message: "boom"}
			if err := s.FinishRun(t.Context(), job, e); err != nil {
				t.Fatal(err)
			}
			// Unconsumed, the notification expires; the waiter below consumes it.
			note := s.TenantKey(job.Tenant, "done:") + e.ID
			if ttl := s.mr.TTL(note); ttl != 10*time.Minute {
				t.Errorf("notification TTL = %v, want 10m", ttl)
			}
			start := time.Now()
			got, done, err := s.WaitExecution(t.Context(), job.Tenant, e.ID, time.Second, false)
			if !done || err != nil || got.Status != faaspot.ExecFailed || got.Error == nil || got.Error.Message != "boom" {
				t.Errorf("WaitExecution after FinishRun = %+v, %v, %v; want the failed record", got, done, err)
			}
			if d := time.Since(start); d != 0 {
				t.Errorf("returned after %v, want at once", d)
			}
			if s.mr.Exists(note) {
				t.Error("the notification outlives its waiter")
			}
		})
	})
	t.Run("cancelled", func(t *testing.T) {
		skipOnCluster(t, bubbleReason)
		synctest.Test(t, func(t *testing.T) {
			s, job, _ := running(t)
			cctx, cancel := context.WithCancel(t.Context())
			const after = 50 * time.Millisecond
			time.AfterFunc(after, cancel)
			start := time.Now()
			_, done, err := s.WaitExecution(cctx, job.Tenant, "never", 10*time.Second, false)
			// The wait gives up at the end of the blocking pop in progress (a 1 s slice), not
			// after its timeout.
			if elapsed := time.Since(start); elapsed > time.Second {
				t.Errorf("WaitExecution returned %v after it began, want within the 1 s slice", elapsed)
			}
			if done || !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrUnavailable) {
				t.Errorf("WaitExecution with a cancelled context = %v, %v; want context.Canceled", done, err)
			}
		})
	})
}

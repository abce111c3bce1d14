package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/sandbox"
)

func TestRetryDelay(t *testing.T) {
	for _, tc := range []struct {
		backoff float64
		attempt int
		want    time.Duration
	}{
		{2, 1, 2 * time.Second},
		{2, 2, 4 * time.Second},
		{2, 3, 8 * time.Second},
		{0.5, 1, 500 * time.Millisecond},
		{0, 5, 0},
		{3000, 2, maxRetryDelay},
		{1, 60, maxRetryDelay},
	} {
		if got := retryDelay(tc.backoff, tc.attempt); got != tc.want {
			t.Errorf("retryDelay(%v, %d) = %v, want %v", tc.backoff, tc.attempt, got, tc.want)
		}
	}
}

// TestAfterRun: a failed or timed-out async run of a deployment with a retry policy is scheduled
// again with exponential backoff until its attempts (capped by the operator) are spent, then ends
// as a dead letter; sync runs, completed runs and deployments without a policy end at once.
func TestAfterRun(t *testing.T) {
	policy := &faaspot.RetryPolicy{MaxAttempts: 3, BackoffS: 2}
	tests := []struct {
		name     string
		outcome  string
		sync     bool
		policy   *faaspot.RetryPolicy
		attempts int // before this run
		capped   int // the operator's cap (0: 10)
		retryIn  time.Duration
		dead     bool
	}{
		{name: "first failure retried after the backoff", outcome: sandbox.Failed, policy: policy, retryIn: 2 * time.Second},
		{name: "second failure waits twice longer", outcome: sandbox.Failed, policy: policy, attempts: 1, retryIn: 4 * time.Second},
		{name: "timeout retried too", outcome: sandbox.Timeout, policy: policy, retryIn: 2 * time.Second},
		{name: "last attempt failed: dead letter", outcome: sandbox.Failed, policy: policy, attempts: 2, dead: true},
		{name: "operator cap", outcome: sandbox.Failed, policy: policy, attempts: 1, capped: 2, dead: true},
		{name: "completed", outcome: sandbox.Completed, policy: policy},
		{name: "sync run not retried", outcome: sandbox.Failed, policy: policy, sync: true},
		{name: "no policy", outcome: sandbox.Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			withRun(tw)
			if tt.capped > 0 {
				tw.set.maxAttempts = tt.capped
			}
			d := tw.store.deps["fn"]
			d.Retry = tt.policy
			tw.store.deps["fn"] = d
			e := tw.store.execs["e1"]
			e.Attempts = tt.attempts
			tw.store.execs["e1"] = e
			tw.runner.results = append(tw.runner.results, result(sandbox.Result{Outcome: tt.outcome,
				Error: &sandbox.FuncError{Type: "ValueError", Message: "bad"}}))
			job := runJob("e1")
			job.Sync = tt.sync
			if err := tw.run(t.Context(), job); err != nil {
				t.Fatal(err)
			}
			acked, _, finished := tw.store.snapshot()
			if len(acked) != 1 {
				t.Fatalf("acked %d jobs, want 1", len(acked))
			}
			if tt.retryIn > 0 {
				if len(finished) != 0 || len(tw.store.retries) != 1 {
					t.Fatalf("records %d, retries %d; want one retry, no terminal record", len(finished), len(tw.store.retries))
				}
				r := tw.store.retries[0]
				if r.due.Sub(tw.clock.Now()) != tt.retryIn || r.e.Status != faaspot.ExecQueued || r.e.Attempts != tt.attempts+1 || r.e.Error == nil {
					t.Errorf("retry %+v in %v; want queued, attempt %d, the error kept, in %v", r.e, r.due.Sub(tw.clock.Now()), tt.attempts+1, tt.retryIn)
				}
				return
			}
			if len(finished) != 1 || len(tw.store.retries) != 0 || finished[0].Attempts != tt.attempts+1 {
				t.Fatalf("records %+v, retries %d; want one terminal record of attempt %d", finished, len(tw.store.retries), tt.attempts+1)
			}
			if dead := len(tw.store.dead) == 1; dead != tt.dead {
				t.Errorf("dead letter %v, want %v", dead, tt.dead)
			}
		})
	}
}

// TestReleaseLoop: due retries are released every second.
func TestReleaseLoop(t *testing.T) {
	tw := newTestWorkers(t)
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); tw.releaseLoop(ctx) }()
	tw.clock.waitFor(t, releaseEvery)
	tw.clock.Advance(releaseEvery)
	tw.clock.waitFor(t, releaseEvery)
	stop()
	<-done
	if n := tw.calls.count("store.ReleaseDue"); n != 1 {
		t.Errorf("ReleaseDue called %d times after one tick, want 1", n)
	}
}

package daemon

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// Retries. A failed or timed-out async run of a deployment with a retry policy is run again, up
// to the policy's MaxAttempts (capped by the operator), after BackoffS doubled at each attempt
// (capped at maxRetryDelay); one that failed its last attempt ends as a dead letter. Synchronous
// runs are never retried: their caller has the failure.

// maxRetryDelay caps the wait before a retry.
const maxRetryDelay = time.Hour

// releaseEvery is how often a worker node queues the retries that came due.
const releaseEvery = time.Second

// afterRun records the outcome of e, a run that ran: ended, scheduled again, or ended as a dead
// letter (see Retries).
func (w *workers) afterRun(ctx context.Context, job store.Job, e faaspot.Execution, dep faaspot.Deployment) error {
	p := dep.Retry
	if job.Sync || p == nil || p.MaxAttempts <= 1 || (e.Status != faaspot.ExecFailed && e.Status != faaspot.ExecTimeout) {
		return w.finish(ctx, job, e, dep.ID, nil)
	}
	if e.Attempts >= min(p.MaxAttempts, w.set.maxAttempts) {
		return w.end(ctx, job, e, dep.ID, nil, w.runs.FinishDead)
	}
	delay := retryDelay(p.BackoffS, e.Attempts)
	e.Status, e.FinishedAt = faaspot.ExecQueued, nil
	if err := w.runs.RetryLater(ctx, job, e, w.clock.Now().Add(delay)); err != nil {
		return fmt.Errorf("%s: schedule a retry: %w", job, err)
	}
	w.log.Info("run failed; retrying", "job", job.String(), "attempt", e.Attempts, "in", delay)
	return nil
}

// retryDelay is the wait before the retry that follows attempt (1 for the first run):
// backoffS seconds doubled for each attempt after the first, at most maxRetryDelay.
func retryDelay(backoffS float64, attempt int) time.Duration {
	d := backoffS * math.Pow(2, float64(attempt-1))
	if d >= maxRetryDelay.Seconds() {
		return maxRetryDelay
	}
	return time.Duration(d * float64(time.Second))
}

// releaseLoop queues the retries that came due, every releaseEvery, until ctx ends.
func (w *workers) releaseLoop(ctx context.Context) {
	for sleep(ctx, w.clock, releaseEvery) {
		if _, err := w.runs.ReleaseDue(ctx, w.clock.Now()); err != nil && ctx.Err() == nil {
			w.log.Warn("release retries", "err", err)
		}
	}
}

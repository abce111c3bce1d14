package daemon

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/metrics"
	"github.com/faaspot/faaspot/store"
)

// Direct dispatch. A synchronous run that arrives at a node that also runs workers, for a
// deployment whose ready version is its newest and has an idle warm container here, while a run
// worker is free, is run by the request's own goroutine: queued and claimed by this node in one
// atomic step (store.EnqueueDirect: only when nothing of the tenant waits in its queue and it runs
// fewer than its concurrency cap), then run as any claimed job — the same records, keep-alive and
// recovery should the node die — with its terminal record handed back in memory instead of
// through Redis. It saves the wake-up, the claim, the read of the run's inputs and the waiter's
// pop. Every other run is queued for any worker, as before.

// directQueue is what direct dispatch asks of the store.
type directQueue interface {
	EnqueueRun(ctx context.Context, tid string, e faaspot.Execution, maxQueued int, sync bool) error
	EnqueueDirect(ctx context.Context, tid string, e faaspot.Execution, maxQueued int, consumer string) (*store.Job, error)
}

var _ directQueue = (*store.Store)(nil)

// RunDirect queues the synchronous run e of d (the tenant's deployment, as just read) and, when
// it can run here at once (see Direct dispatch), starts it here and returns a channel that gets
// its terminal record once it is written (closed without one if it is not: the node stops, or
// the store failed, and the job stays pending); otherwise the run is queued for any worker and
// the channel is nil: wait for it as for any queued run. The run goes on whether or not anyone
// waits on the channel. Errors are the store's (EnqueueRun's: a *faaspot.QuotaError,
// ErrNotFound for a tenant gone, ErrUnavailable). The path taken is counted in
// faaspot_sync_dispatch_total (a refused run is not).
func (w *workers) RunDirect(ctx context.Context, tid string, d faaspot.Deployment, e faaspot.Execution, maxQueued int) (<-chan faaspot.Execution, error) {
	if !w.runsHere(tid, d) || !w.runSlots.tryAcquire() {
		return nil, w.queued(w.direct.EnqueueRun(ctx, tid, e, maxQueued, true))
	}
	job, err := w.direct.EnqueueDirect(ctx, tid, e, maxQueued, w.consumer)
	if err != nil || job == nil {
		w.runSlots.release()
		return nil, w.queued(err)
	}
	w.metrics.SyncDispatch.WithLabelValues(metrics.DispatchDirect).Inc()
	out, ended := make(chan faaspot.Execution, 1), make(chan faaspot.Execution, 1)
	w.directs.Store(job.ID, ended)
	go func() {
		defer close(out)
		defer w.directs.Delete(job.ID)
		w.runClaimed(*job, e, d)
		select {
		case final := <-ended:
			out <- final
		default:
		}
	}()
	return out, nil
}

// queued counts a sync run queued for any worker, unless err says the store refused it, and
// returns err.
func (w *workers) queued(err error) error {
	if err == nil {
		w.metrics.SyncDispatch.WithLabelValues(metrics.DispatchQueued).Inc()
	}
	return err
}

// runsHere reports whether a run of d may be dispatched directly on this node now.
func (w *workers) runsHere(tid string, d faaspot.Deployment) bool {
	return w.direct != nil && w.idle != nil && w.soft.Err() == nil && d.ReadyVersion > 0 &&
		d.ReadyVersion == d.Version && d.Image != "" && w.idle(versionKey(tid, d.ID, d.ReadyVersion)) > 0
}

// runClaimed runs a job claimed by this node whose run slot is held (released here), with its
// execution and deployment already in hand, as handle runs a job from the queue.
func (w *workers) runClaimed(job store.Job, e faaspot.Execution, d faaspot.Deployment) {
	defer w.runSlots.release()
	ctx, cancel := context.WithCancel(w.hard)
	defer cancel()
	go w.keepAlive(ctx, cancel, job)
	w.metrics.QueueWait.WithLabelValues(job.Queue.String()).Observe(max(0, w.clock.Now().Sub(job.Enqueued).Seconds()))
	if err := w.runInputs(ctx, job, e, d, nil); err != nil && ctx.Err() == nil {
		w.log.Error("job failed; left pending for retry", "job", job.String(), "err", err)
	}
}

// compact is v without insignificant white space, as the stored record keeps it: a direct run's
// answer, handed over in memory, is the same as one read back from the store. v is returned as
// it is when it is not JSON (the store refused it already).
func compact(v json.RawMessage) json.RawMessage {
	if len(v) == 0 {
		return v
	}
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return v
	}
	return b.Bytes()
}

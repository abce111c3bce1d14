package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/sandbox"
	"github.com/faaspot/faaspot/store"
)

// markRunningAfter is how long a run goes before its record says "running": a warm run is over
// long before, and skipping the write saves a round trip on the hot path.
const markRunningAfter = 50 * time.Millisecond

// Messages of the runs that fail for the engine's or the operator's reasons, not the function's.
const (
	msgContextUnavailable = "the deployment's context cannot be read on this server; redeploy it or ask the operator"
	msgImageUnavailable   = "the deployment's image is not on this worker and could not be built here; try again or redeploy"
	msgEngineError        = "the container engine could not run the function; try again"
)

// run executes one queued execution and writes its terminal record, which acknowledges the job.
// An execution that is gone or already terminal is acknowledged without running; a deployment
// that is gone or was never ready fails the run (DeploymentNotFound), and so does a context this
// node cannot read (ContextUnavailable). It returns an error, leaving the job pending, when the
// store fails or ctx ends (shutting down, or the job was reclaimed).
func (w *workers) run(ctx context.Context, job store.Job) error {
	e, dep, err := w.runs.RunInputs(ctx, job.Tenant, job.ID, job.Deployment)
	switch {
	case e.ID == "" && errors.Is(err, store.ErrNotFound):
		return w.queue.Ack(ctx, job) // expired or never written: nothing to run
	case e.ID != "" && e.Terminal():
		return w.queue.Ack(ctx, job)
	case errors.Is(err, store.ErrNotFound) || (err == nil && dep.ReadyVersion == 0):
		return w.finish(ctx, job, e, failure(faaspot.ExecFailed, "DeploymentNotFound",
			fmt.Sprintf("deployment %q no longer exists", e.Deployment)))
	case err != nil:
		return fmt.Errorf("%s: %w", job, err)
	}
	now := w.clock.Now().UTC()
	e.StartedAt, e.QueueMS = &now, ms(now.Sub(e.CreatedAt))
	secrets, dep, err := w.context(ctx, job.Tenant, dep)
	if errors.Is(err, store.ErrSecretKey) || errors.Is(err, store.ErrNotFound) {
		w.log.Error("context unavailable", "job", job.String(), "err", err)
		return w.finish(ctx, job, e, failure(faaspot.ExecFailed, "ContextUnavailable", msgContextUnavailable))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", job, err)
	}
	e.Status, e.Version = faaspot.ExecRunning, dep.ReadyVersion
	return w.execute(ctx, job, e, dep, w.runRequest(job.Tenant, dep, e, secrets))
}

// execute runs req in the sandbox for e and records the outcome. When this node's engine lacks
// the image (another node built it, or it was removed by hand) it builds it here and runs again;
// failing that the run fails with ImageUnavailable, and on another engine failure with
// EngineError.
func (w *workers) execute(ctx context.Context, job store.Job, e faaspot.Execution, dep faaspot.Deployment, req sandbox.Request) error {
	marked := w.markRunningLater(job.Tenant, e)
	res, err := w.sandbox.Run(ctx, req)
	if err != nil && ctx.Err() == nil && cerrdefs.IsNotFound(err) {
		if req.Image, err = w.localImage(ctx, job.Tenant, dep); err != nil {
			marked()
			w.log.Error("image missing on this node and not rebuilt", "job", job.String(), "err", err)
			return w.finish(ctx, job, e, failure(faaspot.ExecFailed, "ImageUnavailable", msgImageUnavailable))
		}
		res, err = w.sandbox.Run(ctx, req)
	}
	marked()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", job, err) // the job stays with its owner
		}
		w.log.Error("run failed in the engine", "job", job.String(), "err", err)
		return w.finish(ctx, job, e, failure(faaspot.ExecFailed, "EngineError", msgEngineError))
	}
	applyResult(&e, res)
	mode := "cold"
	if !res.ColdStart {
		mode = "warm"
	} else {
		w.metrics.ColdStarts.Inc()
	}
	w.metrics.ContainerAcquire.WithLabelValues(mode).Observe(res.Acquire.Seconds())
	w.metrics.RunDuration.WithLabelValues(string(e.Status)).Observe(res.Duration.Seconds())
	return w.finish(ctx, job, e, nil)
}

// markRunningLater records the run as running if it is still going after markRunningAfter. The
// returned function, called when the run ends, cancels that or waits for its write, so that the
// terminal record is always written last. The write uses the workers' hard context: it is no
// part of the job, whose context may end first.
func (w *workers) markRunningLater(tid string, e faaspot.Execution) func() {
	var mu sync.Mutex
	done := false
	stop := w.clock.AfterFunc(markRunningAfter, func() {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			if err := w.runs.MarkRunning(w.hard, tid, e); err != nil {
				w.log.Debug("mark running", "execution", e.ID, "err", err)
			}
		}
	})
	return func() {
		stop()
		mu.Lock()
		done = true
		mu.Unlock()
	}
}

// context returns the decrypted context of dep's ready version, from the worker's cache when it
// has it (a version's context never changes). When the version was replaced meanwhile (its
// context dropped), it reloads the deployment once and returns the one it used. Errors:
// store.ErrNotFound (dropped again, or the deployment is gone), store.ErrSecretKey, or the
// store's failure.
func (w *workers) context(ctx context.Context, tid string, dep faaspot.Deployment) ([]byte, faaspot.Deployment, error) {
	for attempt := 0; ; attempt++ {
		key := versionKey(tid, dep.ID, dep.ReadyVersion)
		if c, ok := w.contexts.get(key); ok {
			return c, dep, nil
		}
		c, err := w.runs.LoadContext(ctx, tid, dep.Name, dep.ReadyVersion)
		if err == nil {
			w.contexts.put(key, c)
			return c, dep, nil
		}
		if !errors.Is(err, store.ErrNotFound) || attempt > 0 {
			return nil, dep, err
		}
		if dep, err = w.runs.GetDeployment(ctx, tid, dep.Name); err != nil {
			return nil, dep, err
		}
	}
}

// finish writes the terminal record (applying f when given), which acknowledges the job.
func (w *workers) finish(ctx context.Context, job store.Job, e faaspot.Execution, f func(*faaspot.Execution)) error {
	if f != nil {
		f(&e)
	}
	now := w.clock.Now().UTC()
	e.FinishedAt = &now
	if err := w.runs.FinishRun(ctx, job, e); err != nil {
		return fmt.Errorf("%s: record the outcome: %w", job, err)
	}
	w.metrics.Executions.WithLabelValues(string(e.Status)).Inc()
	return nil
}

// applyResult copies a sandbox result into the execution record.
func applyResult(e *faaspot.Execution, res sandbox.Result) {
	switch res.Outcome {
	case sandbox.Completed:
		e.Status = faaspot.ExecCompleted
	case sandbox.Timeout:
		e.Status = faaspot.ExecTimeout
	default:
		e.Status = faaspot.ExecFailed
	}
	e.Result = res.Value
	if res.Error != nil {
		e.Error = &faaspot.ExecError{Type: res.Error.Type, Message: res.Error.Message, Traceback: res.Error.Traceback}
	}
	e.Stdout, e.Stderr = res.Stdout, res.Stderr
	e.StdoutTruncated, e.StderrTruncated = res.StdoutTruncated, res.StderrTruncated
	e.DurationMS, e.AcquireMS = ms(res.Duration), ms(res.Acquire)
	e.ColdStart, e.OOMKilled = res.ColdStart, res.OOMKilled
	code := res.ExitCode
	e.ExitCode = &code
}

// failure sets a failed status and an error of the engine's making (not the function's).
func failure(status faaspot.ExecStatus, typ, msg string) func(*faaspot.Execution) {
	return func(e *faaspot.Execution) {
		e.Status = status
		e.Error = &faaspot.ExecError{Type: typ, Message: msg}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

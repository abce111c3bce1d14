package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/imagebuilder"
	"github.com/faaspot/faaspot/sandbox"
	"github.com/faaspot/faaspot/store"
)

// markRunningAfter is how long a run goes before its record says "running": a warm run is over
// long before, and skipping the write saves a round trip on the hot path.
const markRunningAfter = 50 * time.Millisecond

// endLogAfter is how old an execution must be when it ends for its live log to be marked ended
// (store.EndLog): a follower of a younger one finds its end at its next look at the record, and
// the hot path keeps its round trips.
const endLogAfter = 50 * time.Millisecond

// Messages of the runs that fail for the engine's or the operator's reasons, not the function's.
const (
	msgContextUnavailable = "the deployment's context cannot be read on this server; redeploy it or ask the operator"
	msgImageUnavailable   = "the deployment's image is not on this worker and could not be built here; try again or redeploy"
	msgEngineError        = "the container engine could not run the function; try again"
	msgImageMismatch      = "the deployment's record names an image that is not its own; the run was refused (ask the operator)"
	msgRunOverdue         = "the run did not end within its timeout plus a grace period and was stopped; try again"
	msgWorkerLost         = "the node running this run stopped before it ended; a run with an idempotency key is not run twice: run it again with a new key if it is safe"
)

// Error types of the runs that fail for the engine's or the operator's reasons.
const (
	errTypeBuildFailed        = "BuildFailed"
	errTypeWorkerLost         = "WorkerLost"
	errTypeVersionUnavailable = "VersionUnavailable"
	errTypeImageMismatch      = "ImageMismatch"
	errTypeEngineTimeout      = "EngineTimeout"
	errTypeRecordTooLarge     = "RecordTooLarge"
	errTypeStoreError         = "StoreError"
)

// run executes one queued execution and writes its terminal record, which acknowledges the job.
// An execution that is gone or already terminal is acknowledged without running; a deployment
// that is gone or was never ready fails the run (DeploymentNotFound; BuildFailed with the build's
// error when its first build failed while the run was parked), a pinned version that cannot run
// any more (VersionUnavailable: dropped past the versions kept), an image that is not the
// deployment's own (ImageMismatch: no container is started) and a context this node cannot read
// (ContextUnavailable). It returns an error, leaving the job pending, when the
// store fails or ctx ends (shutting down, or the job was reclaimed).
func (w *workers) run(ctx context.Context, job store.Job) error {
	e, dep, err := w.runs.JobInputs(ctx, job)
	return w.runInputs(ctx, job, e, dep, err)
}

// runInputs is run once the execution and its deployment are read (err: RunInputs's error).
func (w *workers) runInputs(ctx context.Context, job store.Job, e faaspot.Execution, dep faaspot.Deployment, err error) error {
	if e.Callback == nil && !job.Sync && dep.CallbackURL != "" {
		// An async run posts its end to its deployment's callback URL unless it named its own.
		e.Callback = &faaspot.Callback{URL: dep.CallbackURL, State: faaspot.CallbackPending}
	}
	var ve *faaspot.VersionError
	switch {
	case e.ID == "" && errors.Is(err, store.ErrNotFound):
		return w.queue.Ack(ctx, job) // expired or never written: nothing to run
	case e.ID != "" && e.Terminal():
		return w.queue.Ack(ctx, job)
	case err == nil && dep.ReadyVersion == 0 && dep.Status == faaspot.StatusFailed:
		// A run parked while the first version built (store.EnqueueOrPark): the build failed.
		return w.finish(ctx, job, e, dep.ID, failure(faaspot.ExecFailed, errTypeBuildFailed,
			fmt.Sprintf("deployment %q failed to build: %s", e.Deployment, dep.Error)))
	case errors.Is(err, store.ErrNotFound) || (err == nil && dep.ReadyVersion == 0):
		return w.finish(ctx, job, e, dep.ID, failure(faaspot.ExecFailed, "DeploymentNotFound",
			fmt.Sprintf("deployment %q no longer exists", e.Deployment)))
	case errors.As(err, &ve):
		// A pinned version dropped (past the versions kept) or broken since the run was queued.
		return w.finish(ctx, job, e, dep.ID, failure(faaspot.ExecFailed, errTypeVersionUnavailable,
			fmt.Sprintf("version %d of deployment %q %s", ve.Version, e.Deployment, ve.Reason)))
	case err != nil:
		return fmt.Errorf("%s: %w", job, err)
	case !w.ownImage(job, dep.ID, dep.Image):
		return w.finish(ctx, job, e, dep.ID, failure(faaspot.ExecFailed, errTypeImageMismatch, msgImageMismatch))
	}
	now := w.clock.Now().UTC()
	e.StartedAt, e.QueueMS = &now, ms(now.Sub(e.CreatedAt))
	secrets, dep, err := w.context(ctx, job.Tenant, dep, e)
	if errors.Is(err, store.ErrSecretKey) || errors.Is(err, store.ErrNotFound) {
		w.log.Error("context unavailable", "job", job.String(), "err", err)
		return w.finish(ctx, job, e, dep.ID, failure(faaspot.ExecFailed, "ContextUnavailable", msgContextUnavailable))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", job, err)
	}
	if e.IdempotencyKey != "" {
		return w.runOnce(ctx, job, e, dep, secrets)
	}
	e.Status, e.Version = faaspot.ExecRunning, dep.ReadyVersion
	return w.execute(ctx, job, e, dep, w.runRequest(job.Tenant, dep, e, secrets))
}

// runOnce runs an execution with an idempotency key at most once: its record says running
// before the function starts (only if it still said queued: else another worker started it), and
// a run found running (its node died mid-run, and the job was
// taken over) is not run again but recorded failed with WorkerLost.
func (w *workers) runOnce(ctx context.Context, job store.Job, e faaspot.Execution, dep faaspot.Deployment, secrets []byte) error {
	if e.Status == faaspot.ExecRunning {
		return w.finish(ctx, job, e, dep.ID, failure(faaspot.ExecFailed, errTypeWorkerLost, msgWorkerLost))
	}
	e.Status, e.Version = faaspot.ExecRunning, dep.ReadyVersion
	started, err := w.runs.StartOnce(ctx, job.Tenant, e)
	if err != nil {
		return fmt.Errorf("%s: %w", job, err)
	}
	if !started {
		// Another worker took the job over and started it first: it is that worker's now.
		w.log.Info("run started by another worker; left to it", "job", job.String())
		return nil
	}
	return w.execute(ctx, job, e, dep, w.runRequest(job.Tenant, dep, e, secrets))
}

// execute runs req in the sandbox for e and records the outcome. When this node's engine lacks
// the image (another node built it, or it was removed by hand) it builds it here and runs again;
// failing that the run fails with ImageUnavailable, and on another engine failure with
// EngineError, or EngineTimeout when the sandbox overran the run's timeout and grace (see
// runSandbox).
func (w *workers) execute(ctx context.Context, job store.Job, e faaspot.Execution, dep faaspot.Deployment, req sandbox.Request) error {
	w.metrics.RunsInFlight.Inc()
	defer w.metrics.RunsInFlight.Dec()
	marked := func() {} // a keyed run is marked running already
	if e.IdempotencyKey == "" {
		marked = w.markRunningLater(job.Tenant, e)
	}
	res, err := w.runSandbox(ctx, req)
	if err != nil && ctx.Err() == nil && cerrdefs.IsNotFound(err) {
		if req.Image, err = w.localImage(ctx, job.Tenant, dep); err != nil {
			marked()
			w.log.Error("image missing on this node and not rebuilt", "job", job.String(), "err", err)
			return w.finish(ctx, job, e, dep.ID, failure(faaspot.ExecFailed, "ImageUnavailable", msgImageUnavailable))
		}
		if !w.ownImage(job, dep.ID, req.Image) {
			marked()
			return w.finish(ctx, job, e, dep.ID, failure(faaspot.ExecFailed, errTypeImageMismatch, msgImageMismatch))
		}
		res, err = w.runSandbox(ctx, req)
	}
	marked()
	switch {
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("%s: %w", job, err) // the job stays with its owner
	case errors.Is(err, errRunOverdue):
		w.log.Error("run overdue in the sandbox; recorded as failed", "job", job.String(), "err", err)
		return w.finish(ctx, job, e, dep.ID, failure(faaspot.ExecFailed, errTypeEngineTimeout, msgRunOverdue))
	case err != nil:
		w.log.Error("run failed in the engine", "job", job.String(), "err", err)
		return w.finish(ctx, job, e, dep.ID, failure(faaspot.ExecFailed, "EngineError", msgEngineError))
	}
	applyResult(&e, res, req.Limits.MemoryBytes)
	e.Attempts++
	mode := "cold"
	if !res.ColdStart {
		mode = "warm"
	} else {
		w.metrics.ColdStarts.Inc()
	}
	w.metrics.ContainerAcquire.WithLabelValues(mode).Observe(res.Acquire.Seconds())
	w.metrics.RunDuration.WithLabelValues(string(e.Status)).Observe(res.Duration.Seconds())
	return w.afterRun(ctx, job, e, dep)
}

// Bounds of a run in the sandbox beyond its own timeout.
const (
	// runGrace is how long past its timeout a run may take in the sandbox (starting a container,
	// killing and inspecting it) before the worker cancels it.
	runGrace = 20 * time.Second
	// abandonAfter is how long a cancelled run is awaited before the worker records its outcome
	// without the sandbox's answer.
	abandonAfter = 15 * time.Second
)

// errRunOverdue is the cause of a run cancelled by runSandbox.
var errRunOverdue = errors.New("the run outlived its timeout and grace")

// runSandbox runs req in the sandbox, its output appended to the execution's live log as it
// comes (every piece is appended when it returns), within req's timeout plus runGrace: past
// that, the run's context is cancelled (the sandbox then kills and removes its container) and
// its error wraps errRunOverdue; a sandbox that still has not returned abandonAfter later is
// left behind, its error wrapping errRunOverdue all the same. A run always ends: an engine that
// hangs can delay the record of its outcome, never prevent it. When ctx ends, the error is ctx's.
func (w *workers) runSandbox(ctx context.Context, req sandbox.Request) (sandbox.Result, error) {
	live := w.runs.LogWriter(ctx, req.TenantID, req.ExecutionID)
	req.Output = live.Write
	defer func() {
		if err := live.Close(); err != nil {
			w.log.Debug("live output", "execution", req.ExecutionID, "err", err)
		}
	}()
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := w.clock.AfterFunc(req.Limits.Timeout+runGrace, func() { cancel(errRunOverdue) })
	defer stop()
	type answer struct {
		res sandbox.Result
		err error
	}
	done := make(chan answer, 1)
	go func() {
		res, err := w.sandbox.Run(runCtx, req)
		done <- answer{res, err}
	}()
	var a answer
	select {
	case a = <-done:
	case <-runCtx.Done():
		select {
		case a = <-done:
		case <-w.clock.After(abandonAfter):
			w.log.Error("the sandbox did not return from a cancelled run; abandoned", "execution", req.ExecutionID)
			a.err = errors.New("the sandbox did not return")
		}
	}
	if a.err != nil && ctx.Err() == nil && errors.Is(context.Cause(runCtx), errRunOverdue) {
		return a.res, fmt.Errorf("%w: %w", errRunOverdue, a.err)
	}
	return a.res, a.err
}

// repositoryOf names the image repository of a tenant's deployment: the image builder's naming
// (a variable so that the tests of workers on fake images can name theirs).
var repositoryOf = imagebuilder.Repository

// ownImage reports whether image belongs to job's tenant and the deployment deploymentID: a tag
// (not a digest) of exactly the repository the builder names for them. The store is not
// trusted: a record rewritten to name another tenant's image must never run it. With a
// registry, the repository named in it is the deployment's too (and the one without it, of the
// images built before it was set); in no other. A mismatch is logged as a security event.
func (w *workers) ownImage(job store.Job, deploymentID, image string) bool {
	want := repositoryOf(job.Tenant, deploymentID)
	name, _ := w.set.registry.Local(image)
	repo, tag, ok := strings.Cut(name, ":")
	if ok && repo == want && tag != "" && !strings.ContainsAny(tag, "/:@") {
		return true
	}
	w.log.Error("security: refused to run an image that is not the deployment's own",
		"event", "image_mismatch", "job", job.String(), "deployment_id", deploymentID,
		"image", image, "want_repository", want)
	return false
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

// context returns the decrypted context of the version dep runs (see store.RunTarget), from the
// worker's cache when it has it (a version's context never changes). When it was dropped
// meanwhile (the ready version was replaced and dropped past the versions kept), an unpinned run
// reloads its target once and returns the one it used. Errors: store.ErrNotFound (dropped again,
// or the deployment is gone), a *faaspot.VersionError for a pinned version gone,
// store.ErrSecretKey, or the store's failure.
func (w *workers) context(ctx context.Context, tid string, dep faaspot.Deployment, e faaspot.Execution) ([]byte, faaspot.Deployment, error) {
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
		if !errors.Is(err, store.ErrNotFound) || attempt > 0 || e.Pinned {
			return nil, dep, err
		}
		if dep, err = w.runs.RunTarget(ctx, tid, dep.Name, 0); err != nil {
			return nil, dep, err
		}
	}
}

// Backoff of the retries of a terminal record the store could not take.
const (
	finishRetryFirst = 100 * time.Millisecond
	finishRetryMax   = 5 * time.Second
)

// finish writes the terminal record (applying f when given), which acknowledges the job, then
// marks the execution's live log ended unless the execution is younger than endLogAfter, and logs
// the run's end (depID: the deployment's id, when known). When the store refuses the record (over
// store.MaxExecutionBytes, or not encodable), a smaller failure record takes its place (see
// unstored), so that the run still ends. A store that cannot be reached is retried with backoff
// until it takes the record or the node stops (see record): an outcome is never thrown away for a
// passing failure; only then does the error come back, leaving the job pending.
func (w *workers) finish(ctx context.Context, job store.Job, e faaspot.Execution, depID string, f func(*faaspot.Execution)) error {
	return w.end(ctx, job, e, depID, f, w.runs.FinishRun)
}

// recordFunc writes a terminal record: store.FinishRun or store.FinishDead.
type recordFunc func(ctx context.Context, job store.Job, e faaspot.Execution) error

// end is finish with the terminal record written by write.
func (w *workers) end(ctx context.Context, job store.Job, e faaspot.Execution, depID string, f func(*faaspot.Execution), write recordFunc) error {
	if f != nil {
		f(&e)
	}
	now := w.clock.Now().UTC()
	e.FinishedAt = &now
	err := w.record(job, e, write)
	if refused(err) {
		w.log.Error("the run's outcome could not be stored; recording a smaller failure", "job", job.String(), "err", err)
		e = unstored(e, err)
		if err = w.record(job, e, write); refused(err) {
			e.Args = nil // stored when the run was queued: refused only by a store that changed since
			err = w.record(job, e, write)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: record the outcome: %w", job, err)
	}
	if e.Callback != nil && e.Callback.State == faaspot.CallbackPending && w.callbacks != nil {
		w.callbacks.nudge() // scheduled with the record: deliver it now
	}
	if out, ok := w.directs.LoadAndDelete(job.ID); ok {
		e.Result = compact(e.Result)      // as the stored record has it
		out.(chan faaspot.Execution) <- e // a direct dispatch waits for it (direct.go)
	}
	if now.Sub(e.CreatedAt) >= endLogAfter {
		if err := w.runs.EndLog(ctx, job.Tenant, e.ID); err != nil {
			w.log.Debug("end live log", "job", job.String(), "err", err)
		}
	}
	w.metrics.CountExecution(job.Tenant, string(e.Status))
	w.logEnd(job, depID, e)
	return nil
}

// record writes e's terminal record with write, retrying while the store is unavailable, with backoff from
// finishRetryFirst to finishRetryMax, until it succeeds or the workers' hard context ends (the
// node stops): the job's own context is not used, since a job taken over meanwhile by another
// node still has its outcome recorded (the store keeps the first one).
func (w *workers) record(job store.Job, e faaspot.Execution, write recordFunc) error {
	err := write(w.hard, job, e)
	for attempt, wait := 1, finishRetryFirst; err != nil && errors.Is(err, store.ErrUnavailable); attempt++ {
		if attempt == 1 || attempt%10 == 0 {
			w.log.Warn("the store did not take a run's outcome; retrying until it does", "job", job.String(),
				"attempt", attempt, "err", err)
		}
		if !sleep(w.hard, w.clock, wait) {
			return err
		}
		wait = min(2*wait, finishRetryMax)
		err = write(w.hard, job, e)
	}
	return err
}

// refused reports whether the store refused a record for what it holds (it will refuse it again).
func refused(err error) bool {
	return errors.Is(err, store.ErrRecordTooLarge) || errors.Is(err, store.ErrRecordInvalid)
}

// unstored is the failure recorded in place of e, whose record the store refused with err:
// RecordTooLarge or StoreError, naming how the run ended; the result, output and error are
// dropped (the output flagged truncated), the arguments kept.
func unstored(e faaspot.Execution, err error) faaspot.Execution {
	typ, why := errTypeStoreError, "could not be encoded"
	if errors.Is(err, store.ErrRecordTooLarge) {
		typ, why = errTypeRecordTooLarge, fmt.Sprintf("is over the record size limit of %d bytes", store.MaxExecutionBytes)
	}
	ended := string(e.Status)
	if e.Error != nil && e.Error.Type != typ {
		ended += " with " + e.Error.Type
	}
	e.StdoutTruncated, e.StderrTruncated = e.StdoutTruncated || e.Stdout != "", e.StderrTruncated || e.Stderr != ""
	e.Status, e.Result, e.Stdout, e.Stderr = faaspot.ExecFailed, nil, "", ""
	e.Error = &faaspot.ExecError{Type: typ, Message: fmt.Sprintf("the run ended (%.300s) but its outcome %s; "+
		"its result, output and error were dropped", ended, why)}
	return e
}

// applyResult copies a sandbox result into the execution record, and adds the attempt's
// resources (its time, CPU time, and memory limit memoryBytes) to the execution's usage.
func applyResult(e *faaspot.Execution, res sandbox.Result, memoryBytes int64) {
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
		e.Error = &faaspot.ExecError{Type: res.Error.Type, Message: res.Error.Message, Traceback: res.Error.Traceback,
			MessageTruncated: res.Error.MessageTruncated, TracebackTruncated: res.Error.TracebackTruncated}
	}
	e.Stdout, e.Stderr = res.Stdout, res.Stderr
	e.StdoutTruncated, e.StderrTruncated = res.StdoutTruncated, res.StderrTruncated
	e.DurationMS, e.AcquireMS, e.CPUMS = ms(res.Duration), ms(res.Acquire), ms(res.CPU)
	if e.Usage == nil {
		e.Usage = &faaspot.ExecUsage{}
	}
	e.Usage.Add(e.DurationMS, e.CPUMS, memoryBytes)
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

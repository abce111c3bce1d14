package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/imagebuilder"
	"github.com/faaspot/faaspot/sandbox"
	"github.com/faaspot/faaspot/store"
)

// Run output caps.
const (
	outputLimit = 256 << 10
	resultLimit = 1 << 20
)

// workers pulls jobs from the queues. Stopping (soft) ends the loops; in-flight jobs get a grace
// period before their context (hard) is cancelled and they are left pending for another worker.
type workers struct {
	d        *Daemon
	consumer string
	hard     context.Context
	contexts contextCache
	// rebuilding serialises the rare rebuilds of images missing on this node (see localImage).
	rebuilding sync.Mutex
}

func (d *Daemon) startWorkers(soft context.Context) {
	hard, hardCancel := context.WithCancel(context.Background())
	host, _ := os.Hostname()
	w := &workers{d: d, consumer: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), randomHex(4)), hard: hard}
	var loops sync.WaitGroup
	for i := 0; i < d.cfg.Workers; i++ {
		loops.Add(1)
		go func() { defer loops.Done(); w.loop(soft, store.Runs) }()
	}
	for i := 0; i < d.cfg.BuildWorkers; i++ {
		loops.Add(1)
		go func() { defer loops.Done(); w.loop(soft, store.Builds) }()
	}
	loops.Add(1)
	go func() { defer loops.Done(); w.reclaimLoop(soft) }()
	if d.cfg.JanitorInterval > 0 {
		loops.Add(1)
		go func() { defer loops.Done(); d.janitorLoop(soft) }()
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		<-soft.Done()
		grace := time.AfterFunc(20*time.Second, hardCancel)
		loops.Wait()
		grace.Stop()
		hardCancel()
	}()
}

// loop takes one job at a time from q until soft is cancelled.
func (w *workers) loop(soft context.Context, q store.Queue) {
	for soft.Err() == nil {
		job, err := w.d.store.NextJob(soft, q, w.consumer, 5*time.Second)
		if err != nil {
			if soft.Err() == nil {
				w.d.log.Warn("read queue", "queue", q, "err", err)
				sleep(soft, time.Second)
			}
			continue
		}
		if job != nil {
			w.handle(*job)
		}
	}
}

// reclaimLoop takes over jobs whose worker died (delivered, never acknowledged, not touched).
func (w *workers) reclaimLoop(soft context.Context) {
	for sleep(soft, w.d.cfg.ReclaimIdle/3) {
		for _, q := range []store.Queue{store.Builds, store.Runs} {
			jobs, err := w.d.store.Reclaim(soft, q, w.consumer, w.d.cfg.ReclaimIdle, 1)
			if err != nil {
				w.d.log.Warn("reclaim", "queue", q, "err", err)
				continue
			}
			for _, j := range jobs { // one at a time: a job claimed here and left waiting would age again
				w.d.log.Info("reclaimed job of a dead worker", "job", j.String())
				w.handle(j)
			}
		}
	}
}

// handle runs one job, touching it periodically so that no other worker reclaims it meanwhile.
func (w *workers) handle(job store.Job) {
	ctx, cancel := context.WithCancel(w.hard)
	defer cancel()
	go func() {
		t := time.NewTicker(w.d.cfg.ReclaimIdle / 4)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := w.d.store.Touch(ctx, job, w.consumer); errors.Is(err, store.ErrLost) {
					// Another worker runs it now: stop here rather than run it twice.
					w.d.log.Warn("job was reclaimed by another worker; abandoning it here", "job", job.String())
					cancel()
					return
				}
			}
		}
	}()
	if !job.Enqueued.IsZero() {
		w.d.metrics.QueueWait.WithLabelValues(job.Queue.String()).Observe(time.Since(job.Enqueued).Seconds())
	}
	var err error
	if job.Queue == store.Builds {
		err = w.build(ctx, job)
	} else {
		err = w.run(ctx, job)
	}
	if err != nil && ctx.Err() == nil {
		w.d.log.Error("job failed; left pending for retry", "job", job.String(), "err", err)
	}
}

// build builds one deployment version and records the outcome.
func (w *workers) build(ctx context.Context, job store.Job) error {
	dep, err := w.d.store.GetDeployment(ctx, job.Tenant, job.Name)
	if errors.Is(err, store.ErrNotFound) {
		return w.d.store.Ack(ctx, job)
	}
	if err != nil {
		return err
	}
	if job.Version < dep.Version {
		_, err := w.d.store.FinishBuild(ctx, job, store.BuildOutcome{Error: fmt.Sprintf("superseded by version %d", dep.Version)})
		return ignoreNotFound(err)
	}
	ver, err := w.d.store.LoadVersion(ctx, job.Tenant, job.Name, job.Version)
	if errors.Is(err, store.ErrNotFound) {
		return w.d.store.Ack(ctx, job)
	}
	if err != nil {
		return err
	}
	start := time.Now()
	tag, buildLog, err := w.d.builder.Build(ctx, imagebuilder.Spec{TenantID: job.Tenant, DeploymentID: dep.ID,
		Code: ver.Source.Code, Requirements: ver.Source.Requirements})
	out := store.BuildOutcome{Image: tag, Log: buildLog}
	var be *imagebuilder.BuildError
	switch {
	case errors.As(err, &be):
		out.Error, out.Log = be.Message, be.Log
	case err != nil && ctx.Err() != nil:
		return err // shutting down: leave the job for another worker
	case err != nil:
		w.d.log.Error("build failed in the engine", "job", job.String(), "err", err)
		out.Error = "the image build could not run (container engine error); try again"
	}
	result := faaspot.StatusReady
	if out.Error != "" {
		result = faaspot.StatusFailed
	} else if job.Version >= dep.Version {
		w.d.prewarm(ctx, job.Tenant, dep, job.Version, tag)
	}
	w.d.metrics.BuildDuration.WithLabelValues(string(result)).Observe(time.Since(start).Seconds())
	after, err := w.d.store.FinishBuild(ctx, job, out)
	w.d.log.Info("build finished", "job", job.String(), "result", result, "seconds", time.Since(start).Seconds())
	if err == nil {
		w.d.versionRecorded(job.Tenant, dep, after, job.Version)
	}
	if errors.Is(err, store.ErrNotFound) && tag != "" {
		// Deleted while it was being built: what it built and pre-warmed goes too.
		if err := w.d.removeGone(ctx, imagebuilder.Ref{TenantID: job.Tenant, DeploymentID: dep.ID}); err != nil {
			w.d.log.Debug("images of a deployment deleted during its build kept", "err", err)
		}
	}
	if err == nil && dep.Image != "" && after.Image != dep.Image {
		// The previous ready image serves no new run; in-flight runs keep it alive (removal of an
		// image in use fails, and the janitor removes it once unused).
		if err := w.d.builder.RemoveImage(ctx, dep.Image); err != nil {
			w.d.log.Debug("keep previous image", "image", dep.Image, "err", err)
		}
	}
	return ignoreNotFound(err)
}

// localImage builds, on this node's engine, the image of dep's ready version from the source the
// store keeps for it, and returns its tag: the same as dep.Image when this node's build settings
// are the building node's. Runs that need it meanwhile wait for the one build.
func (w *workers) localImage(ctx context.Context, tid string, dep faaspot.Deployment) (string, error) {
	w.rebuilding.Lock()
	defer w.rebuilding.Unlock()
	ver, err := w.d.store.LoadVersion(ctx, tid, dep.Name, dep.ReadyVersion)
	if err != nil {
		return "", err
	}
	start := time.Now()
	tag, _, err := w.d.builder.Build(ctx, imagebuilder.Spec{TenantID: tid, DeploymentID: dep.ID,
		Code: ver.Source.Code, Requirements: ver.Source.Requirements})
	if err != nil {
		return "", err
	}
	w.d.log.Info("image built on this node for a run", "tenant", tid, "deployment", dep.Name,
		"version", dep.ReadyVersion, "image", tag, "seconds", time.Since(start).Seconds())
	return tag, nil
}

// markRunningAfter is how long a run goes before its record says "running": a warm run is over
// long before, and skipping the write saves a round trip on the hot path.
const markRunningAfter = 50 * time.Millisecond

// run executes one queued execution and writes its terminal record.
func (w *workers) run(ctx context.Context, job store.Job) error {
	e, dep, err := w.d.store.RunInputs(ctx, job.Tenant, job.ID, job.Deployment)
	switch {
	case e.ID == "" && errors.Is(err, store.ErrNotFound):
		return w.d.store.Ack(ctx, job) // expired or never written: nothing to run
	case e.ID != "" && e.Terminal():
		return w.d.store.Ack(ctx, job)
	case errors.Is(err, store.ErrNotFound) || (err == nil && dep.ReadyVersion == 0):
		return w.finish(ctx, job, e, failure(faaspot.ExecFailed, "DeploymentNotFound",
			fmt.Sprintf("deployment %q no longer exists", e.Deployment)))
	case err != nil:
		return err
	}
	now := time.Now().UTC()
	e.StartedAt, e.QueueMS = &now, ms(now.Sub(e.CreatedAt))
	secrets, dep, err := w.context(ctx, job.Tenant, dep)
	if errors.Is(err, store.ErrSecretKey) || errors.Is(err, store.ErrNotFound) {
		w.d.log.Error("context unavailable", "job", job.String(), "err", err)
		return w.finish(ctx, job, e, failure(faaspot.ExecFailed, "ContextUnavailable",
			"the deployment's context cannot be read on this server; redeploy it or ask the operator"))
	}
	if err != nil {
		return err
	}
	e.Status, e.Version = faaspot.ExecRunning, dep.ReadyVersion
	marked := w.markRunningLater(job.Tenant, e)
	req := w.d.runRequest(job.Tenant, dep, e, secrets)
	res, err := w.d.sandbox.Run(ctx, req)
	if err != nil && ctx.Err() == nil && cerrdefs.IsNotFound(err) {
		// This node's engine lacks the image (another node built it, or it was removed by hand).
		if req.Image, err = w.localImage(ctx, job.Tenant, dep); err != nil {
			marked()
			w.d.log.Error("image missing on this node and not rebuilt", "job", job.String(), "err", err)
			return w.finish(ctx, job, e, failure(faaspot.ExecFailed, "ImageUnavailable",
				"the deployment's image is not on this worker and could not be built here; try again or redeploy"))
		}
		res, err = w.d.sandbox.Run(ctx, req)
	}
	marked()
	if err != nil {
		if ctx.Err() != nil {
			return err // shutting down or reclaimed: the job stays with its owner
		}
		w.d.log.Error("run failed in the engine", "job", job.String(), "err", err)
		return w.finish(ctx, job, e, failure(faaspot.ExecFailed, "EngineError",
			"the container engine could not run the function; try again"))
	}
	applyResult(&e, res)
	mode := "cold"
	if !res.ColdStart {
		mode = "warm"
	} else {
		w.d.metrics.ColdStarts.Inc()
	}
	w.d.metrics.ContainerAcquire.WithLabelValues(mode).Observe(res.Acquire.Seconds())
	w.d.metrics.RunDuration.WithLabelValues(string(e.Status)).Observe(res.Duration.Seconds())
	return w.finish(ctx, job, e, nil)
}

// markRunningLater records the run as running if it is still going after markRunningAfter. The
// returned function, called when the run ends, cancels that or waits for its write, so that the
// terminal record is always written last.
func (w *workers) markRunningLater(tid string, e faaspot.Execution) func() {
	var mu sync.Mutex
	done := false
	t := time.AfterFunc(markRunningAfter, func() {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			_ = w.d.store.MarkRunning(w.hard, tid, e)
		}
	})
	return func() {
		t.Stop()
		mu.Lock()
		done = true
		mu.Unlock()
	}
}

// context returns the decrypted context of dep's ready version, from the worker's cache when it
// has it (a version's context never changes). When the version was replaced meanwhile (its
// context dropped), it reloads the deployment once and returns the one it used.
func (w *workers) context(ctx context.Context, tid string, dep faaspot.Deployment) ([]byte, faaspot.Deployment, error) {
	for attempt := 0; ; attempt++ {
		key := versionKey(tid, dep.ID, dep.ReadyVersion)
		if c, ok := w.contexts.get(key); ok {
			return c, dep, nil
		}
		c, err := w.d.store.LoadContext(ctx, tid, dep.Name, dep.ReadyVersion)
		if err == nil {
			w.contexts.put(key, c)
			return c, dep, nil
		}
		if !errors.Is(err, store.ErrNotFound) || attempt > 0 {
			return nil, dep, err
		}
		if dep, err = w.d.store.GetDeployment(ctx, tid, dep.Name); err != nil {
			return nil, dep, err
		}
	}
}

// finish writes the terminal record (applying f when given) and acknowledges the job.
func (w *workers) finish(ctx context.Context, job store.Job, e faaspot.Execution, f func(*faaspot.Execution)) error {
	if f != nil {
		f(&e)
	}
	now := time.Now().UTC()
	e.FinishedAt = &now
	if err := w.d.store.FinishRun(ctx, job, e); err != nil {
		return err
	}
	w.d.metrics.Executions.WithLabelValues(string(e.Status)).Inc()
	return nil
}

// runLimits turns a deployment's limits into the sandbox's, applying operator defaults and caps.
func runLimits(l faaspot.Limits, cfg Config) sandbox.Limits {
	mem, cpus, timeout := l.MemoryMB, l.CPUs, l.TimeoutS
	if mem <= 0 {
		mem = cfg.DefaultMemMB
	}
	if cpus <= 0 {
		cpus = cfg.DefaultCPUs
	}
	if timeout <= 0 {
		timeout = cfg.DefaultTimeout
	}
	mem, cpus, timeout = min(mem, cfg.MaxMemMB), min(cpus, cfg.MaxCPUs), min(timeout, cfg.MaxTimeout)
	return sandbox.Limits{
		MemoryBytes: int64(mem) << 20,
		NanoCPUs:    int64(cpus * 1e9),
		Timeout:     time.Duration(timeout) * time.Second,
		OutputBytes: outputLimit,
		ResultBytes: resultLimit,
	}
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

func failure(status faaspot.ExecStatus, typ, msg string) func(*faaspot.Execution) {
	return func(e *faaspot.Execution) {
		e.Status = status
		e.Error = &faaspot.ExecError{Type: typ, Message: msg}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func ignoreNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

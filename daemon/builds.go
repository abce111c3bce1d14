package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/imagebuilder"
	"github.com/faaspot/faaspot/store"
)

// engineBuildFailed is the user's message for a build the engine could not run.
const engineBuildFailed = "the image build could not run (container engine error); try again"

// build builds one deployment version and records the outcome, acknowledging the job:
//   - the deployment or the version's source is gone: the job is acknowledged, nothing built;
//   - a newer version was requested: the build is recorded failed, "superseded by version N";
//   - the user's code or requirements fail (*imagebuilder.BuildError): recorded failed with the
//     builder's message and log; an engine failure: recorded failed with a generic message;
//   - a success: the version's containers are pre-warmed (when the image is the deployment's
//     own), then it is recorded (becoming the ready version when newer), and the previous ready
//     image and containers are removed.
//
// It returns an error, leaving the job pending, when the store fails or ctx ends mid-build.
func (w *workers) build(ctx context.Context, job store.Job) error {
	dep, err := w.builds.GetDeployment(ctx, job.Tenant, job.Name)
	if errors.Is(err, store.ErrNotFound) {
		return w.queue.Ack(ctx, job)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", job, err)
	}
	if job.Version < dep.Version {
		_, err := w.builds.FinishBuild(ctx, job, store.BuildOutcome{Error: fmt.Sprintf("superseded by version %d", dep.Version)})
		return ignoreNotFound(err)
	}
	ver, err := w.builds.LoadVersion(ctx, job.Tenant, job.Name, job.Version)
	if errors.Is(err, store.ErrNotFound) {
		return w.queue.Ack(ctx, job)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", job, err)
	}
	start := w.clock.Now()
	out, err := w.buildImage(ctx, job, dep, ver)
	if err != nil {
		return err
	}
	out.Duration = w.clock.Now().Sub(start) // the build's own time, in the tenant's usage: not the pre-warm
	result := faaspot.StatusReady
	if out.Error != "" {
		result = faaspot.StatusFailed
	} else if job.Version >= dep.Version && w.ownImage(job, dep.ID, out.Image) {
		w.prewarm(ctx, job.Tenant, dep, job.Version, out.Image)
	}
	w.metrics.BuildDuration.WithLabelValues(string(result)).Observe(w.clock.Now().Sub(start).Seconds())
	after, err := w.builds.FinishBuild(ctx, job, out)
	w.logBuild(job, dep.ID, result, out.Error, w.clock.Now().Sub(start))
	switch {
	case err == nil:
		// The outcome is recorded: the job is over, and what follows must not depend on it (its
		// keep-alive may find it acknowledged and cancel ctx).
		w.buildRecorded(w.hard, job, dep, after)
	case errors.Is(err, store.ErrNotFound) && out.Image != "":
		// Deleted while it was being built: what it built and pre-warmed goes too.
		if err := w.removeGone(w.hard, imagebuilder.Ref{TenantID: job.Tenant, DeploymentID: dep.ID}); err != nil {
			w.log.Debug("images of a deployment deleted during its build kept", "err", err)
		}
	}
	return ignoreNotFound(err)
}

// buildImage builds ver's image and returns the outcome to record: the image and log, or the
// user's error message. It returns an error only when ctx ended (shutting down or reclaimed),
// leaving the job for another worker.
func (w *workers) buildImage(ctx context.Context, job store.Job, dep faaspot.Deployment, ver faaspot.Version) (store.BuildOutcome, error) {
	tag, buildLog, err := w.buildSpec(ctx, imagebuilder.Spec{TenantID: job.Tenant, DeploymentID: dep.ID,
		Code: ver.Source.Code, Requirements: ver.Source.Requirements})
	out := store.BuildOutcome{Image: tag, Log: buildLog}
	var be *imagebuilder.BuildError
	switch {
	case errors.As(err, &be):
		out.Error, out.Log = be.Message, be.Log
	case err != nil && ctx.Err() != nil:
		return out, fmt.Errorf("%s: %w", job, err)
	case err != nil:
		w.log.Error("build failed in the engine", "job", job.String(), "err", err)
		out.Error = engineBuildFailed
	}
	return out, nil
}

// buildRecorded cleans up after a build whose outcome the store recorded: the containers of the
// version it replaced (or of the built one, when it did not become ready), and the previous
// ready image when no kept version names it any more (kept versions keep their images for pinned
// runs and rollbacks; the janitor removes the others). In-flight runs keep that image alive
// (removal of an image in use fails, and the janitor removes it once unused). An image the
// record names that is not the deployment's own is never removed (see ownImage).
func (w *workers) buildRecorded(ctx context.Context, job store.Job, before, after faaspot.Deployment) {
	w.versionRecorded(job.Tenant, before, after, job.Version)
	if before.Image == "" || after.Image == before.Image || !w.ownImage(job, before.ID, before.Image) {
		return
	}
	keep, err := w.keptImages(ctx, job.Tenant, after)
	if err != nil || slices.Contains(keep, before.Image) {
		return
	}
	if err := w.builder.RemoveImage(ctx, before.Image); err != nil {
		w.log.Debug("keep previous image", "image", before.Image, "err", err)
	}
}

// rebuild builds, on this node's engine, the image of dep's ready version from the source the
// store keeps for it, and returns its tag: the same as dep.Image when this node's build settings
// are the building node's. Rebuilds take turns (the next finds the image built). The store's
// errors (store.ErrNotFound when the version's source is gone) and the builder's come back
// wrapped; an image built but not pushed to the registry is used all the same (logged). See
// localImage, which pulls first when a registry is set.
func (w *workers) rebuild(ctx context.Context, tid string, dep faaspot.Deployment) (string, error) {
	w.rebuilding.Lock()
	defer w.rebuilding.Unlock()
	ver, err := w.runs.LoadVersion(ctx, tid, dep.Name, dep.ReadyVersion)
	if err != nil {
		return "", fmt.Errorf("load version %d of %s: %w", dep.ReadyVersion, dep.Name, err)
	}
	start := w.clock.Now()
	tag, _, err := w.buildSpec(ctx, imagebuilder.Spec{TenantID: tid, DeploymentID: dep.ID,
		Code: ver.Source.Code, Requirements: ver.Source.Requirements})
	var pe *imagebuilder.PushError
	if errors.As(err, &pe) {
		// Built here, not pushed (the registry down, say): the run needs only the former.
		w.log.Warn("image built on this node for a run could not be pushed to the registry", "image", pe.Image, "err", err)
		tag, err = pe.Image, nil
	}
	if err != nil {
		return "", fmt.Errorf("rebuild version %d of %s: %w", dep.ReadyVersion, dep.Name, err)
	}
	w.log.Info("image built on this node for a run", "tenant", tid, "deployment", dep.Name,
		"version", dep.ReadyVersion, "image", tag, "seconds", w.clock.Now().Sub(start).Seconds())
	return tag, nil
}

// buildSpec builds spec's image while no image of another store is being removed (see
// workers.building).
func (w *workers) buildSpec(ctx context.Context, spec imagebuilder.Spec) (tag, buildLog string, err error) {
	w.building.RLock()
	defer w.building.RUnlock()
	return w.builder.Build(ctx, spec)
}

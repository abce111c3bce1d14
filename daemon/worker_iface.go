package daemon

import (
	"context"
	"encoding/json"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/imagebuilder"
	"github.com/faaspot/faaspot/sandbox"
	"github.com/faaspot/faaspot/store"
)

// The workers reach the store, the image builder and the sandbox through these interfaces, each
// holding only the calls the workers make: *store.Store, *imagebuilder.Builder and
// *sandbox.Sandbox satisfy them (checked below), and the tests substitute hand-written fakes.

// jobQueue is the work queue: jobs are delivered to one consumer, kept alive while they run and
// acknowledged once their outcome is recorded.
type jobQueue interface {
	// NextJob returns the next job of q for consumer, nil when none came within block.
	NextJob(ctx context.Context, q store.Queue, consumer string, block time.Duration) (*store.Job, error)
	// Reclaim takes over up to count jobs of q of dead consumers, or untouched for minIdle.
	Reclaim(ctx context.Context, q store.Queue, consumer string, minIdle time.Duration, count int64) ([]store.Job, error)
	// TakeOwn takes back up to count jobs of q pending for consumer itself (a previous life's).
	TakeOwn(ctx context.Context, q store.Queue, consumer string, count int64) ([]store.Job, error)
	// Heartbeat marks consumer alive for ttl; Leave marks it dead at once.
	Heartbeat(ctx context.Context, consumer string, ttl time.Duration) error
	Leave(ctx context.Context, consumer string) error
	// Touch tells the queue the job is still being worked on; store.ErrLost when another
	// consumer took it over.
	Touch(ctx context.Context, j store.Job, consumer string) error
	// Ack removes a job that needs no outcome recorded.
	Ack(ctx context.Context, j store.Job) error
}

// buildRecords is what a build reads and writes. GetDeployment and LoadVersion return
// store.ErrNotFound for what is gone; FinishBuild records the outcome and acknowledges the job,
// and returns store.ErrNotFound (with the job acknowledged) when the deployment was deleted.
type buildRecords interface {
	GetDeployment(ctx context.Context, tid, name string) (faaspot.Deployment, error)
	LoadVersion(ctx context.Context, tid, name string, version int) (faaspot.Version, error)
	FinishBuild(ctx context.Context, job store.Job, out store.BuildOutcome) (faaspot.Deployment, error)
}

// runRecords is what a run reads and writes. JobInputs and RunTarget return the deployment as
// the run uses it: the version to run (pinned, else the ready one) with its image and settings;
// JobInputs may return the execution together with a store.ErrNotFound for its deployment or a
// *faaspot.VersionError for its pinned version; LoadContext returns store.ErrNotFound when the version's
// context was dropped and store.ErrSecretKey when it cannot be decrypted; FinishRun writes the
// terminal record and acknowledges the job in one step. LogWriter appends a run's live output to
// its log while it runs, EndLog marks the log ended once the terminal record is written (both
// write nothing when there is no output and nobody follows).
type runRecords interface {
	// JobInputs is store.RunInputs of a run job, from what its claim read with it when it did.
	JobInputs(ctx context.Context, j store.Job) (faaspot.Execution, faaspot.Deployment, error)
	RunTarget(ctx context.Context, tid, name string, pinned int) (faaspot.Deployment, error)
	LoadVersion(ctx context.Context, tid, name string, version int) (faaspot.Version, error)
	LoadContext(ctx context.Context, tid, name string, version int) (json.RawMessage, error)
	MarkRunning(ctx context.Context, tid string, e faaspot.Execution) error
	// StartOnce is MarkRunning only while the record says queued; false when it did not write.
	StartOnce(ctx context.Context, tid string, e faaspot.Execution) (bool, error)
	FinishRun(ctx context.Context, job store.Job, e faaspot.Execution) error
	// FinishDead is FinishRun for a run that failed its last attempt: it is listed as a dead
	// letter. RetryLater records e queued again and runs it at due; ReleaseDue queues the retries
	// due by now.
	FinishDead(ctx context.Context, job store.Job, e faaspot.Execution) error
	RetryLater(ctx context.Context, job store.Job, e faaspot.Execution, due time.Time) error
	ReleaseDue(ctx context.Context, now time.Time) (int, error)
	LogWriter(ctx context.Context, tid, id string) *store.LogWriter
	EndLog(ctx context.Context, tid, id string) error
}

// deploymentLister lists a tenant's deployments and their kept versions (whose images stay), for
// the image janitor.
type deploymentLister interface {
	ListDeployments(ctx context.Context, tid string) ([]faaspot.Deployment, error)
	ListVersions(ctx context.Context, tid, name string) ([]faaspot.VersionInfo, error)
}

// imageBuilder builds and removes the images of deployments on this node's engine. Build returns
// an *imagebuilder.BuildError for a failure of the user's making, another error when the engine
// failed.
type imageBuilder interface {
	Build(ctx context.Context, spec imagebuilder.Spec) (tag, buildLog string, err error)
	RemoveImage(ctx context.Context, tag string) error
	Remove(ctx context.Context, tenantID, deploymentID string) error
	Prune(ctx context.Context, r imagebuilder.Ref, keep []string, minAge time.Duration) (int, error)
	Owned(ctx context.Context) ([]imagebuilder.Ref, error)
	// PruneDeps removes this node's dependencies images that no image names and that were made
	// before before; it returns how many it removed.
	PruneDeps(ctx context.Context, before time.Time) (int, error)
	// Pull pulls an image named in the registry; imagebuilder.ErrNotInRegistry when the
	// registry does not have it.
	Pull(ctx context.Context, ref string) error
}

// runner runs executions in containers and keeps warm ones. Run returns an error only when the
// engine failed (a containerd NotFound when the image is missing); the function's own failures
// are in the Result.
type runner interface {
	Run(ctx context.Context, req sandbox.Request) (sandbox.Result, error)
	Prewarm(ctx context.Context, req sandbox.Request, n int) error
	Retire(prefix string) int
}

var (
	_ jobQueue         = (*store.Store)(nil)
	_ buildRecords     = (*store.Store)(nil)
	_ runRecords       = (*store.Store)(nil)
	_ deploymentLister = (*store.Store)(nil)
	_ imageBuilder     = (*imagebuilder.Builder)(nil)
	_ runner           = (*sandbox.Sandbox)(nil)
)

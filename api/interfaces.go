package api

import (
	"context"
	"time"

	"github.com/faaspot/faaspot"
)

// The API's view of the services it calls: one small interface per resource, holding only the
// methods the handlers use. *store.Store satisfies every store interface (checked in
// interfaces_test.go). Errors are the faaspot sentinels, which writeError maps to HTTP: an
// implementation returns (or wraps) faaspot.ErrNotFound, ErrExists, ErrUnavailable, or a
// *faaspot.QuotaError, and any other error is answered as an internal error.

// Authenticator resolves a tenant's token.
type Authenticator interface {
	// Authenticate returns the tenant owning token and takes one request from its rate quota (its
	// own RequestsPerSecond, else defaultRate; 0: no limit). Over the rate, the returned duration
	// is positive: the wait until the next request is allowed. ErrNotFound for an unknown token.
	Authenticate(ctx context.Context, token string, defaultRate float64) (faaspot.Tenant, time.Duration, error)
}

// TenantStore holds tenants, their tokens and their quotas: what the operator's routes need.
type TenantStore interface {
	// CreateTenant creates a tenant and returns it with its first token. ErrExists when the name
	// is taken.
	CreateTenant(ctx context.Context, name string) (faaspot.Tenant, string, error)
	// TenantByName returns the tenant with that name. ErrNotFound when none.
	TenantByName(ctx context.Context, name string) (faaspot.Tenant, error)
	// ListTenants returns every tenant, sorted by name.
	ListTenants(ctx context.Context) ([]faaspot.Tenant, error)
	// DeleteTenant revokes the tenant's tokens, removes its records and returns the deployments it
	// had, so that their images can be removed.
	DeleteTenant(ctx context.Context, tid string) ([]faaspot.Deployment, error)
	// IssueToken gives the tenant a new token and returns its id and value.
	IssueToken(ctx context.Context, tid string) (id, token string, err error)
	// ListTokens returns the tenant's tokens (ids and dates, never values).
	ListTokens(ctx context.Context, tid string) ([]faaspot.Token, error)
	// RevokeToken makes a token unusable at once. ErrNotFound for an unknown id.
	RevokeToken(ctx context.Context, tid, id string) error
	// SetQuotas stores the tenant's own quotas (zero fields: the defaults). ErrNotFound for an
	// unknown tenant.
	SetQuotas(ctx context.Context, tid string, q faaspot.Quotas) error
}

// DeploymentStore holds a tenant's deployments and queues their builds.
type DeploymentStore interface {
	// PutDeployment records a new version of spec.Name (creating the deployment when new) and
	// durably queues its build (created true); a spec identical to the newest version, when that
	// version has not failed, changes nothing and returns the deployment as it is (created
	// false). When maxDeployments > 0, a new name past that many deployments is refused with a
	// *faaspot.QuotaError and nothing is written.
	PutDeployment(ctx context.Context, tid string, spec faaspot.DeploymentSpec, maxDeployments int) (d faaspot.Deployment, created bool, err error)
	// ListVersions returns the records of the deployment's kept versions, newest first, the
	// ready one marked. ErrNotFound when the tenant has no deployment of that name.
	ListVersions(ctx context.Context, tid, name string) ([]faaspot.VersionInfo, error)
	// Rollback makes version v the deployment's ready version (the one runs use) and returns the
	// deployment. ErrNotFound when the tenant has no deployment of that name; a
	// *faaspot.VersionError when v is not kept or cannot run.
	Rollback(ctx context.Context, tid, name string, v int) (faaspot.Deployment, error)
	// RunnableVersion returns version v's record when a run can be pinned to it; errors as
	// Rollback's.
	RunnableVersion(ctx context.Context, tid, name string, v int) (faaspot.VersionInfo, error)
	// GetDeployment returns the tenant's deployment. ErrNotFound when it has none of that name.
	GetDeployment(ctx context.Context, tid, name string) (faaspot.Deployment, error)
	// ListDeployments returns the tenant's deployments sorted by name.
	ListDeployments(ctx context.Context, tid string) ([]faaspot.Deployment, error)
	// DeleteDeployment removes the deployment and returns the record it removed, so that its
	// images can be removed. ErrNotFound when absent.
	DeleteDeployment(ctx context.Context, tid, name string) (faaspot.Deployment, error)
	// WaitBuilt blocks until the build of the version has ended or timeout passes, and reports
	// whether it ended.
	WaitBuilt(ctx context.Context, tid, name string, version int, timeout time.Duration) (bool, error)
}

// LogStore holds the live output of runs.
type LogStore interface {
	// FollowLog hands emit the output of the tenant's execution e (its record as just read):
	// each stream's text once, in order within the stream, first what the run sent while it went
	// on, then the rest from the terminal record. Without follow it returns at once, with e or
	// the terminal record; with follow it waits until the record is terminal and returns it.
	// When ctx ends first it returns the record as last read and ctx's error; an error of emit
	// ends it and is returned.
	FollowLog(ctx context.Context, tid string, e faaspot.Execution, follow bool, emit func(stream, data string) error) (faaspot.Execution, error)
}

// ExecutionStore queues runs and holds their records and their live output.
type ExecutionStore interface {
	LogStore
	// EnqueueRun stores the queued execution e and queues its run atomically: on nil the run is
	// durably queued. maxQueued > 0 bounds the tenant's runs waiting to start; past it the error
	// is a *faaspot.QuotaError. With sync, the terminal record is pushed to WaitExecution.
	// ErrNotFound when the tenant no longer exists. When e's idempotency key gave an execution
	// already, nothing is queued and the error is a *faaspot.ExistingRunError naming it.
	EnqueueRun(ctx context.Context, tid string, e faaspot.Execution, maxQueued int, sync bool) error
	// EnqueueOrPark is EnqueueRun for a deployment seen without a ready version: while its first
	// version builds, the run is stored queued and parked (parked true) until the build ends,
	// then run, or failed with the build's reason; if it became ready meanwhile the run is
	// queued as by EnqueueRun. faaspot.ErrBuildFailed when the build failed first; ErrNotFound
	// when the deployment (or the tenant) is gone.
	EnqueueOrPark(ctx context.Context, tid string, e faaspot.Execution, maxQueued int, sync bool) (parked bool, err error)
	// ListDeadLetters returns the summaries of the tenant's runs that failed their last retry,
	// newest first, at most limit; RemoveDeadLetter takes one off the list.
	ListDeadLetters(ctx context.Context, tid string, limit int) ([]faaspot.ExecutionSummary, error)
	RemoveDeadLetter(ctx context.Context, tid, id string) error
	// GetExecution returns the tenant's execution. ErrNotFound when it has none with that id.
	GetExecution(ctx context.Context, tid, id string) (faaspot.Execution, error)
	// ListExecutions returns one page of the tenant's executions selected by q, newest first, as
	// summaries, and the cursor of the next page ("" on the last). A page may hold fewer than
	// q.Limit executions before the last. A cursor no page answered is a *faaspot.Error.
	ListExecutions(ctx context.Context, tid string, q faaspot.ExecutionQuery) ([]faaspot.ExecutionSummary, string, error)
	// ListExecutionRecords is ListExecutions with whole records.
	ListExecutionRecords(ctx context.Context, tid string, q faaspot.ExecutionQuery) ([]faaspot.Execution, string, error)
	// WaitExecution blocks until the synchronous execution id is terminal and returns its record
	// (ok true), or until timeout passes (ok false). It returns ctx's error when ctx ends first.
	// shared leaves the notification to the other waiters of the same execution (runs with an
	// idempotency key).
	WaitExecution(ctx context.Context, tid, id string, timeout time.Duration, shared bool) (e faaspot.Execution, ok bool, err error)
}

// WebhookStore holds each tenant's callback signing secret.
type WebhookStore interface {
	// WebhookSecret returns the tenant's secret, made on first use; RotateWebhookSecret replaces
	// it and returns the new one.
	WebhookSecret(ctx context.Context, tid string) (string, error)
	RotateWebhookSecret(ctx context.Context, tid string) (string, error)
}

// CallbackChecker decides whether a callback URL may be used: its form, and every address its
// host resolves to (*callback.Guard). The error says why not.
type CallbackChecker interface {
	CheckURL(ctx context.Context, raw string) error
}

// Pinger reports whether a backing service answers; /readyz calls it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Engine is the container engine as far as the API cares: is it up, and retiring a deleted
// deployment's containers and images.
type Engine interface {
	Ping(ctx context.Context) error
	// RemoveImages removes the images and warm containers of a deployment. The API calls it after
	// the record is deleted and only logs its failure.
	RemoveImages(ctx context.Context, tenantID, deploymentID string) error
}

// Deps are the services a Server calls. Every field but Engine must be set; New does not check.
// A daemon passes its *store.Store for each store field.
type Deps struct {
	Auth        Authenticator
	Tenants     TenantStore
	Deployments DeploymentStore
	Executions  ExecutionStore
	// Store is the record store's health, checked by /readyz.
	Store Pinger
	// Engine may be nil on a node that runs no containers: /readyz then ignores the engine and a
	// deletion removes only the records.
	Engine Engine
	// Webhooks may be nil: /v1/webhook-secret is then not served.
	Webhooks WebhookStore
	// Usage may be nil: /v1/usage and /v1/tenants/{tenant}/usage are then not served.
	Usage UsageStore
	// Callbacks checks callback URLs; nil refuses every address inside the server's network
	// (callback.Guard's zero value).
	Callbacks CallbackChecker
	// Direct, on a node that also runs workers, runs synchronous runs here when it can (nil:
	// every run goes through the queue).
	Direct DirectRunner
	// Runs reads the deployment of a run request (nil: Deployments.GetDeployment); a cache may
	// serve it (*store.Cache).
	Runs RunLookup
}

// UsageStore holds the tenants' usage (usage.go).
type UsageStore interface {
	// Usage returns the tenant's usage of each UTC day from from to to, both included, oldest
	// first, days without use included. A *faaspot.Error naming "to" when the range is backwards
	// or too long.
	Usage(ctx context.Context, tid string, from, to time.Time) ([]faaspot.UsageDay, error)
	// BytesStored measures the bytes of the tenant's records in the store now.
	BytesStored(ctx context.Context, tid string) (int64, error)
}

// RunLookup reads the deployment a run request runs, possibly from a cache whose entries are
// dropped when the deployment changes. ErrNotFound when the tenant has none of that name.
type RunLookup interface {
	RunDeployment(ctx context.Context, tid, name string) (faaspot.Deployment, error)
}

// DirectRunner queues a synchronous run and runs it on this node at once when it can.
type DirectRunner interface {
	// RunDirect queues the run e of the tenant's deployment d (as read for this request) as
	// ExecutionStore.EnqueueRun does with sync, with its errors; when it runs the run here it
	// returns a channel that gets its terminal record (closed without one if it is not
	// written), else nil: wait for the run as for any queued run.
	RunDirect(ctx context.Context, tid string, d faaspot.Deployment, e faaspot.Execution, maxQueued int) (<-chan faaspot.Execution, error)
}

package faaspot

import (
	"encoding/json"
	"time"
)

// DeploymentStatus is the state of a deployment's newest requested version.
type DeploymentStatus string

// Deployment statuses: building → ready | failed.
const (
	StatusBuilding DeploymentStatus = "building"
	StatusReady    DeploymentStatus = "ready"
	StatusFailed   DeploymentStatus = "failed"
)

// Limits are the resources of one run. Zero values mean "operator default".
type Limits struct {
	MemoryMB int     `json:"memory_mb"`
	CPUs     float64 `json:"cpus"`
	TimeoutS int     `json:"timeout_s"`
}

// WarmPolicy is a deployment's own wish for warm containers; the operator's settings cap it.
type WarmPolicy struct {
	// MaxIdle is how many idle containers to keep; 0 keeps none (every run cold).
	MaxIdle *int `json:"max_idle,omitempty"`
	// Prewarm is how many containers to start as soon as a version is ready.
	Prewarm *int `json:"prewarm,omitempty"`
	// MaxRuns is how many runs one container serves (1: a fresh container for every run).
	MaxRuns int `json:"max_runs,omitempty"`
	// IdleTTLS is how long, in seconds, an idle container is kept.
	IdleTTLS int `json:"idle_ttl_s,omitempty"`
	// Isolation is how a warm container runs successive runs: IsolationProcess (one process,
	// module globals kept between runs) or IsolationFork (a fresh process forked for each run:
	// nothing of one run reaches the next). Empty: the operator's FAASPOT_WARM_MODE.
	Isolation string `json:"isolation,omitempty"`
}

// The values of WarmPolicy.Isolation.
const (
	IsolationProcess = "process"
	IsolationFork    = "fork"
)

// RetryPolicy is how a deployment's failed or timed-out async runs are run again. The operator's
// settings cap it.
type RetryPolicy struct {
	// MaxAttempts is how many times a run may run in all, the first included (1: never again).
	MaxAttempts int `json:"max_attempts"`
	// BackoffS is the wait, in seconds, before the first retry; each next one waits twice longer.
	BackoffS float64 `json:"backoff_s"`
}

// Deployment is a tenant's deployment as the API shows it. Version is the newest requested
// version and Status/Error/BuildLog describe its build; ReadyVersion is the version runs use:
// the newest that built successfully, or the one a rollback chose. The context's values are
// never part of it, only its keys.
type Deployment struct {
	ID           string           `json:"id"`
	Name         string           `json:"name"`
	Version      int              `json:"version"`
	Status       DeploymentStatus `json:"status"`
	Error        string           `json:"error,omitempty"`
	BuildLog     string           `json:"build_log,omitempty"`
	ReadyVersion int              `json:"ready_version"`
	Limits       Limits           `json:"limits"`
	Warm         *WarmPolicy      `json:"warm,omitempty"`
	Retry        *RetryPolicy     `json:"retry,omitempty"`
	// CallbackURL, when set, receives the terminal record of every async run (see Callback).
	CallbackURL string    `json:"callback_url,omitempty"`
	ContextKeys []string  `json:"context_keys"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`

	// Image is the engine's tag of the ready version's image: internal, never served.
	Image string `json:"-"`
	// RolledBackAt is the newest version when a rollback last chose the ready version: a build of
	// a version up to it never replaces the ready version. Internal, never served.
	RolledBackAt int `json:"-"`
}

// Source is what a build needs: the code and requirements of one version.
type Source struct {
	Code         string
	Requirements string
}

// Version is one immutable version of a deployment, numbered from 1: what was deployed.
type Version struct {
	Deployment string
	Number     int
	Source     Source
}

// DeploymentSpec is a validated create-or-update request, ready to be stored.
type DeploymentSpec struct {
	Name   string
	Source Source
	// Context is the deployment's secret context as a JSON object (nil for none).
	Context map[string]any
	Limits  Limits
	Warm    *WarmPolicy
	Retry   *RetryPolicy
	// CallbackURL is where the terminal records of async runs are posted ("" for nowhere).
	CallbackURL string
}

// DeploymentRequest is the body of PUT /api/deployments/ and POST /v1/deployments. Context is a
// JSON object or a JSON string holding context-file text (key = "value" lines); see ContextJSON.
type DeploymentRequest struct {
	Name         string          `json:"name"`
	Code         string          `json:"code"`
	Requirements string          `json:"requirements,omitempty"`
	Context      json.RawMessage `json:"context,omitempty"`
	Limits       *Limits         `json:"limits,omitempty"`
	Warm         *WarmPolicy     `json:"warm,omitempty"`
	Retry        *RetryPolicy    `json:"retry,omitempty"`
	CallbackURL  string          `json:"callback_url,omitempty"`
}

// ContextJSON encodes a context for a DeploymentRequest: a map of secrets, or context-file text.
func ContextJSON(v any) (json.RawMessage, error) {
	return json.Marshal(v)
}

// BuildFailure is the body of a 422 answer to a create that waited for a build that failed.
type BuildFailure struct {
	Error      *Error     `json:"error"`
	Deployment Deployment `json:"deployment"`
}

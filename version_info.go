package faaspot

import "time"

// VersionInfo describes one immutable version of a deployment as the API lists it: what was
// deployed (its content hash, limits and context keys, never the context's values) and how its
// build went. Status is building, ready (built) or failed; Ready marks the deployment's ready
// version, the one runs use (the newest built one, or the one a rollback chose).
type VersionInfo struct {
	Version     int              `json:"version"`
	Status      DeploymentStatus `json:"status"`
	Error       string           `json:"error,omitempty"`
	Ready       bool             `json:"ready"`
	Hash        string           `json:"hash"`
	Limits      Limits           `json:"limits"`
	Warm        *WarmPolicy      `json:"warm,omitempty"`
	Retry       *RetryPolicy     `json:"retry,omitempty"`
	CallbackURL string           `json:"callback_url,omitempty"`
	ContextKeys []string         `json:"context_keys"`
	CreatedAt   time.Time        `json:"created_at"`
	FinishedAt  *time.Time       `json:"finished_at,omitempty"`

	// Image is the engine's tag of the version's image once built: internal, never served.
	Image string `json:"-"`
}

// RollbackRequest is the body of POST /v1/deployments/{name}/rollback: the version to make the
// one that runs.
type RollbackRequest struct {
	Version int `json:"version"`
}

package api

import (
	"time"

	"github.com/faaspot/faaspot"
)

// Config holds the API's settings. The api has no defaults of its own: the caller (the daemon,
// from its DefaultConfig) must set every field but AdminToken. New does not check them; a zero
// size cap refuses every body, a zero SyncWait answers every synchronous run 202 at once.
type Config struct {
	// AdminToken guards the operator routes; empty disables them (403).
	AdminToken string
	// AccessLog writes one INFO line per request (see Server.instrument).
	AccessLog bool
	// DefaultLimits fill what a deployment leaves out; MaxLimits cap what it may ask for.
	DefaultLimits, MaxLimits faaspot.Limits
	// MaxRetryAttempts caps a deployment's retry.max_attempts (1: no retries allowed).
	MaxRetryAttempts int
	// SyncWait is how long a synchronous run request waits before answering 202.
	SyncWait time.Duration
	// MaxSyncWaiters caps a tenant's synchronous requests waiting at once on this node; past it
	// they answer 202 with the execution id at once, so one tenant cannot hold every connection.
	// 0 means no cap.
	MaxSyncWaiters int
	// BuildWait is how long ?wait=true on a deployment waits for its build.
	BuildWait time.Duration
	// MaxBuildWaiters caps a tenant's creates waiting for their build (?wait=true) at once on this
	// node; past it they answer 202 with the deployment at once. 0 means no cap.
	MaxBuildWaiters int
	// DefaultQuotas apply to tenants without their own (see faaspot.Quotas.WithDefaults).
	// MaxConcurrentRuns is enforced by the store's scheduler, which must be given the same value.
	DefaultQuotas faaspot.Quotas
	// Size caps, in bytes: a whole request body, and the code, requirements, context and run
	// arguments within it.
	MaxBodyBytes, MaxCodeBytes, MaxRequirementsBytes, MaxContextBytes, MaxArgsBytes int64
}

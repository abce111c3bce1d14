// Package faaspot holds the vocabulary every part of faaspot speaks: tenants and their quotas,
// deployments and their versions, executions, the errors a caller may meet, and the request and
// answer bodies of the HTTP API. It imports nothing of the engine: the api serves these types,
// the client decodes them, the store maps them to its own records, and the workers pass them
// between the store, the image builder and the sandbox.
//
// The JSON form of each type is the wire form of the HTTP API (DESIGN.md §3). Fields that are
// internal to the engine carry `json:"-"` and are never served to a tenant.
package faaspot

import (
	"errors"
	"fmt"
	"time"
)

// Error codes: the stable "code" of an API error. The api maps each to one HTTP status.
const (
	ECodeInvalid          = "invalid_argument"   // 400: a field of the request is wrong
	ECodeUnauthorized     = "unauthorized"       // 401: missing or unknown token
	ECodeForbidden        = "forbidden"          // 403: the route is disabled
	ECodeNotFound         = "not_found"          // 404: no such record for the caller, or no route
	ECodeMethodNotAllowed = "method_not_allowed" // 405
	ECodeNotReady         = "not_ready"          // 409: the deployment cannot run yet
	ECodeExists           = "exists"             // 409: the unique name is taken
	ECodeTooLarge         = "too_large"          // 413: a body or field over its size limit
	ECodeBuildFailed      = "build_failed"       // 422: a waited build failed
	ECodeQuota            = "quota_exceeded"     // 429: a quota refuses the request
	ECodeInternal         = "internal"           // 500: details are logged, never served
	ECodeUnavailable      = "unavailable"        // 503: Redis or Docker does not answer
)

// Error is an error meant for the caller: a stable code, a message, and, for invalid input, the
// field at fault. It is the "error" member of every error answer of the API.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// RetryAfter, when positive, tells the caller when to try again (the Retry-After header).
	RetryAfter time.Duration `json:"-"`
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a ECodeInvalid error naming field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: ECodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the *Error in err's chain, ECodeInternal when there is none.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ECodeInternal
}

// ErrorResponse is the body of every error answer: {"error": {code, message, field}}.
type ErrorResponse struct {
	Error *Error `json:"error"`
}

// Errors a store returns. Callers test them with errors.Is.
var (
	// ErrNotFound means the record does not exist for the calling tenant (it may exist for another).
	ErrNotFound = errors.New("not found")
	// ErrExists means a record with that unique name exists already.
	ErrExists = errors.New("already exists")
	// ErrBuildFailed means the deployment has no ready version and its last build failed.
	ErrBuildFailed = errors.New("the deployment's build failed")
	// ErrUnavailable wraps failures to reach Redis (or another backing service).
	ErrUnavailable = errors.New("store unavailable")
	// ErrStoreFull means the store refuses writes for lack of memory (Redis over maxmemory); it
	// comes with ErrUnavailable. Reads still work.
	ErrStoreFull = errors.New("store out of memory")
	// ErrReplicas means the master made a write that too few replicas acknowledged in time
	// (FAASPOT_REDIS_MIN_REPLICAS); it comes with ErrUnavailable. The write may or may not survive
	// the master's loss.
	ErrReplicas = errors.New("too few Redis replicas acknowledged the write")
	// ErrQuota means a tenant's quota refuses the request; the error is a *QuotaError.
	ErrQuota = errors.New("quota exceeded")
	// ErrVersionNotFound means the deployment exists but keeps no version of that number.
	ErrVersionNotFound = errors.New("version not kept")
	// ErrVersionNotReady means the version is kept but cannot run: it is building, it failed to
	// build, or what it needs to run (its image record, source or context) is gone.
	ErrVersionNotReady = errors.New("version cannot run")
)

// QuotaError says which quota refused a request. It wraps ErrQuota.
type QuotaError struct {
	What  string // "queued runs", "deployments", "requests per second"
	Limit float64
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("quota exceeded: at most %g %s", e.Limit, e.What)
}

func (e *QuotaError) Unwrap() error { return ErrQuota }

// VersionError says why a version of a deployment cannot be run or rolled back to. It wraps
// ErrVersionNotFound or ErrVersionNotReady.
type VersionError struct {
	Version int
	Reason  string // completes "version N of deployment D …": "is not kept", "failed to build", …
	Err     error
}

func (e *VersionError) Error() string { return fmt.Sprintf("version %d %s", e.Version, e.Reason) }

func (e *VersionError) Unwrap() error { return e.Err }

// ExistingRunError is how a store answers a run request whose idempotency key it has seen: the
// run was queued before, as execution ID, and nothing new was queued. It is no failure: the
// caller answers with that execution.
type ExistingRunError struct{ ID string }

func (e *ExistingRunError) Error() string {
	return "a run with this idempotency key exists: execution " + e.ID
}

package faaspot

import (
	"encoding/json"
	"time"
)

// ExecStatus is the state of an execution.
type ExecStatus string

// Execution statuses: queued → running → completed | failed | timeout.
const (
	ExecQueued    ExecStatus = "queued"
	ExecRunning   ExecStatus = "running"
	ExecCompleted ExecStatus = "completed"
	ExecFailed    ExecStatus = "failed"
	ExecTimeout   ExecStatus = "timeout"
)

// Terminal reports whether the status is final.
func (s ExecStatus) Terminal() bool {
	switch s {
	case ExecCompleted, ExecFailed, ExecTimeout:
		return true
	}
	return false
}

// ExecError describes why an execution failed: the function's exception, or what the engine saw
// (Timeout, OutOfMemory, ProcessExited, ...).
type ExecError struct {
	Type      string `json:"type"`
	Message   string `json:"message"`
	Traceback string `json:"traceback,omitempty"`
	// MessageTruncated and TracebackTruncated say that the text was cut to its cap (64 KiB each:
	// a message keeps its head, a traceback its head and its tail).
	MessageTruncated   bool `json:"message_truncated,omitempty"`
	TracebackTruncated bool `json:"traceback_truncated,omitempty"`
}

// Execution is the record of one run, as GET /v1/executions/{id} answers it.
type Execution struct {
	ID         string `json:"id"`
	Deployment string `json:"deployment"`
	Version    int    `json:"version"`
	// Pinned says the run asked for Version (…/versions/{n}/rpc/) rather than the current one.
	Pinned bool `json:"pinned,omitempty"`
	// IdempotencyKey is the Idempotency-Key the run was requested with: the same key (per tenant
	// and deployment, for a while) gives this execution again, and the function runs once.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Attempts is how many times the run started: more than 1 when the deployment's retry
	// policy ran it again after a failure or a timeout (0 while it never started).
	Attempts        int             `json:"attempts,omitempty"`
	Status          ExecStatus      `json:"status"`
	Args            json.RawMessage `json:"args"`
	Result          json.RawMessage `json:"result"`
	Error           *ExecError      `json:"error"`
	Stdout          string          `json:"stdout"`
	Stderr          string          `json:"stderr"`
	StdoutTruncated bool            `json:"stdout_truncated"`
	StderrTruncated bool            `json:"stderr_truncated"`
	CreatedAt       time.Time       `json:"created_at"`
	StartedAt       *time.Time      `json:"started_at"`
	FinishedAt      *time.Time      `json:"finished_at"`
	QueueMS         float64         `json:"queue_ms"`
	AcquireMS       float64         `json:"acquire_ms"`
	DurationMS      float64         `json:"duration_ms"`
	// CPUMS is the CPU time the function's container used during the run (its last attempt), as
	// its cgroup counts it: 0 when the engine's cgroups cannot be read on the worker.
	CPUMS     float64 `json:"cpu_ms"`
	ColdStart bool    `json:"cold_start"`
	ExitCode  *int    `json:"exit_code"`
	OOMKilled bool    `json:"oom_killed"`
	// Usage is what the run adds to its tenant's usage (usage.go), summed over its attempts; nil
	// while it never ran in a container.
	Usage *ExecUsage `json:"usage,omitempty"`
	// Callback is the delivery of the terminal record to a callback URL, when the run has one.
	Callback *Callback `json:"callback,omitempty"`
}

// Terminal reports whether the execution has ended.
func (e *Execution) Terminal() bool { return e.Status.Terminal() }

// HeaderExecutionID carries the execution id on every run answer.
const HeaderExecutionID = "X-Faaspot-Execution-Id"

// HeaderIdempotencyKey on a run request makes it idempotent (see Execution.IdempotencyKey).
const HeaderIdempotencyKey = "Idempotency-Key"

// RunFailure is the body of a synchronous run that failed (500) or timed out (504).
type RunFailure struct {
	Error       *ExecError `json:"error"`
	ExecutionID string     `json:"execution_id"`
	Status      ExecStatus `json:"status"`
}

// RunPending is the body of a synchronous run that outlasted the server's sync wait (202).
type RunPending struct {
	ExecutionID string     `json:"execution_id"`
	Status      ExecStatus `json:"status"`
}

// ExecutionSummary is an execution as GET /v1/executions lists it by default: what a listing
// shows, without the arguments, the result or the output (GET /v1/executions/{id}, or the list
// with ?view=full, has them).
type ExecutionSummary struct {
	ID         string     `json:"id"`
	Deployment string     `json:"deployment"`
	Version    int        `json:"version"`
	Status     ExecStatus `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	DurationMS float64    `json:"duration_ms"`
	ColdStart  bool       `json:"cold_start"`
	// ErrorType is the type of the execution's error ("ValueError", "Timeout", ...), empty when
	// it has none.
	ErrorType string `json:"error_type,omitempty"`
}

// Summary returns the execution's summary.
func (e *Execution) Summary() ExecutionSummary {
	s := ExecutionSummary{ID: e.ID, Deployment: e.Deployment, Version: e.Version, Status: e.Status,
		CreatedAt: e.CreatedAt, StartedAt: e.StartedAt, FinishedAt: e.FinishedAt,
		DurationMS: e.DurationMS, ColdStart: e.ColdStart}
	if e.Error != nil {
		s.ErrorType = e.Error.Type
	}
	return s
}

// ExecutionQuery selects one page of a tenant's executions, newest first.
type ExecutionQuery struct {
	// Deployment restricts the page to one deployment's executions when not empty.
	Deployment string
	// Limit is the most executions the page holds (a page may hold fewer and still not be the
	// last: only an empty next cursor ends the listing).
	Limit int
	// Cursor is empty for the first page, else the next cursor a previous page answered.
	Cursor string
}

// HeaderNextCursor carries, on a page of GET /v1/executions, the opaque cursor of the next page
// (?cursor=...); it is absent on the last page.
const HeaderNextCursor = "X-Faaspot-Next-Cursor"

package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/faaspot/faaspot"
)

// The records below are how the store keeps deployments and executions in Redis. They are the
// store's own: the API's types (package faaspot) may change without a migration of the data, and
// a change here is never an API break. Their JSON names are those of the records written by
// earlier releases, so existing data keeps decoding.

// deploymentRecord is the stored form of a deployment.
type deploymentRecord struct {
	ID           string       `json:"id"`
	Name         string       `json:"name"`
	Version      int          `json:"version"`
	Status       string       `json:"status"`
	Error        string       `json:"error,omitempty"`
	BuildLog     string       `json:"build_log,omitempty"`
	ReadyVersion int          `json:"ready_version"`
	RolledBackAt int          `json:"rolled_back_at,omitempty"`
	Image        string       `json:"image,omitempty"`
	Limits       limitsRecord `json:"limits"`
	Warm         *warmRecord  `json:"warm,omitempty"`
	Retry        *retryRecord `json:"retry,omitempty"`
	CallbackURL  string       `json:"callback_url,omitempty"`
	ContextKeys  []string     `json:"context_keys"`
	CreatedAt    time.Time    `json:"created_at"`
	UpdatedAt    time.Time    `json:"updated_at"`
}

type retryRecord struct {
	MaxAttempts int     `json:"max_attempts"`
	BackoffS    float64 `json:"backoff_s"`
}

func retryRecordOf(p *faaspot.RetryPolicy) *retryRecord {
	if p == nil {
		return nil
	}
	return &retryRecord{MaxAttempts: p.MaxAttempts, BackoffS: p.BackoffS}
}

func (r *retryRecord) domain() *faaspot.RetryPolicy {
	if r == nil {
		return nil
	}
	return &faaspot.RetryPolicy{MaxAttempts: r.MaxAttempts, BackoffS: r.BackoffS}
}

type warmRecord struct {
	MaxIdle   *int   `json:"max_idle,omitempty"`
	Prewarm   *int   `json:"prewarm,omitempty"`
	MaxRuns   int    `json:"max_runs,omitempty"`
	IdleTTLS  int    `json:"idle_ttl_s,omitempty"`
	Isolation string `json:"isolation,omitempty"`
}

func warmRecordOf(w *faaspot.WarmPolicy) *warmRecord {
	if w == nil {
		return nil
	}
	return &warmRecord{MaxIdle: w.MaxIdle, Prewarm: w.Prewarm, MaxRuns: w.MaxRuns, IdleTTLS: w.IdleTTLS, Isolation: w.Isolation}
}

func (w *warmRecord) domain() *faaspot.WarmPolicy {
	if w == nil {
		return nil
	}
	return &faaspot.WarmPolicy{MaxIdle: w.MaxIdle, Prewarm: w.Prewarm, MaxRuns: w.MaxRuns, IdleTTLS: w.IdleTTLS, Isolation: w.Isolation}
}

type limitsRecord struct {
	MemoryMB int     `json:"memory_mb"`
	CPUs     float64 `json:"cpus"`
	TimeoutS int     `json:"timeout_s"`
}

func (r deploymentRecord) domain() faaspot.Deployment {
	d := faaspot.Deployment{ID: r.ID, Name: r.Name, Version: r.Version,
		Status: faaspot.DeploymentStatus(r.Status), Error: r.Error, BuildLog: r.BuildLog,
		ReadyVersion: r.ReadyVersion, RolledBackAt: r.RolledBackAt, Image: r.Image,
		Limits:      faaspot.Limits{MemoryMB: r.Limits.MemoryMB, CPUs: r.Limits.CPUs, TimeoutS: r.Limits.TimeoutS},
		ContextKeys: r.ContextKeys, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	d.Warm = r.Warm.domain()
	d.Retry, d.CallbackURL = r.Retry.domain(), r.CallbackURL
	return d
}

func deploymentRecordOf(d faaspot.Deployment) deploymentRecord {
	r := deploymentRecord{ID: d.ID, Name: d.Name, Version: d.Version, Status: string(d.Status),
		Error: d.Error, BuildLog: d.BuildLog, ReadyVersion: d.ReadyVersion, RolledBackAt: d.RolledBackAt, Image: d.Image,
		Limits:      limitsRecord{MemoryMB: d.Limits.MemoryMB, CPUs: d.Limits.CPUs, TimeoutS: d.Limits.TimeoutS},
		ContextKeys: d.ContextKeys, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	r.Warm = warmRecordOf(d.Warm)
	r.Retry, r.CallbackURL = retryRecordOf(d.Retry), d.CallbackURL
	return r
}

// executionRecord is the stored form of an execution.
type executionRecord struct {
	ID              string          `json:"id"`
	Deployment      string          `json:"deployment"`
	Version         int             `json:"version"`
	Pinned          bool            `json:"pinned,omitempty"`
	IdempotencyKey  string          `json:"idempotency_key,omitempty"`
	Attempts        int             `json:"attempts,omitempty"`
	Status          string          `json:"status"`
	Args            json.RawMessage `json:"args"`
	Result          json.RawMessage `json:"result"`
	Error           *errorRecord    `json:"error"`
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
	CPUMS           float64         `json:"cpu_ms,omitempty"`
	ColdStart       bool            `json:"cold_start"`
	ExitCode        *int            `json:"exit_code"`
	OOMKilled       bool            `json:"oom_killed"`
	Callback        *callbackRecord `json:"callback,omitempty"`
	Usage           *usageRecord    `json:"usage,omitempty"`
}

// usageRecord is an execution's resources over its attempts (faaspot.ExecUsage).
type usageRecord struct {
	WallMS    float64 `json:"wall_ms"`
	CPUMS     float64 `json:"cpu_ms"`
	GBSeconds float64 `json:"gb_seconds"`
}

type callbackRecord struct {
	URL         string     `json:"url"`
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	LastStatus  int        `json:"last_status,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
}

type errorRecord struct {
	Type               string `json:"type"`
	Message            string `json:"message"`
	Traceback          string `json:"traceback,omitempty"`
	MessageTruncated   bool   `json:"message_truncated,omitempty"`
	TracebackTruncated bool   `json:"traceback_truncated,omitempty"`
}

func (r executionRecord) domain() faaspot.Execution {
	e := faaspot.Execution{ID: r.ID, Deployment: r.Deployment, Version: r.Version, Pinned: r.Pinned, IdempotencyKey: r.IdempotencyKey, Attempts: r.Attempts,
		Status: faaspot.ExecStatus(r.Status), Args: r.Args, Result: r.Result,
		Stdout: r.Stdout, Stderr: r.Stderr, StdoutTruncated: r.StdoutTruncated, StderrTruncated: r.StderrTruncated,
		CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		QueueMS: r.QueueMS, AcquireMS: r.AcquireMS, DurationMS: r.DurationMS,
		ColdStart: r.ColdStart, ExitCode: r.ExitCode, OOMKilled: r.OOMKilled, CPUMS: r.CPUMS}
	if u := r.Usage; u != nil {
		e.Usage = &faaspot.ExecUsage{WallMS: u.WallMS, CPUMS: u.CPUMS, GBSeconds: u.GBSeconds}
	}
	if r.Error != nil {
		e.Error = &faaspot.ExecError{Type: r.Error.Type, Message: r.Error.Message, Traceback: r.Error.Traceback,
			MessageTruncated: r.Error.MessageTruncated, TracebackTruncated: r.Error.TracebackTruncated}
	}
	if c := r.Callback; c != nil {
		e.Callback = &faaspot.Callback{URL: c.URL, State: faaspot.CallbackState(c.State), Attempts: c.Attempts,
			LastStatus: c.LastStatus, LastError: c.LastError, DeliveredAt: c.DeliveredAt}
	}
	return e
}

func executionRecordOf(e faaspot.Execution) executionRecord {
	r := executionRecord{ID: e.ID, Deployment: e.Deployment, Version: e.Version, Pinned: e.Pinned, IdempotencyKey: e.IdempotencyKey, Attempts: e.Attempts,
		Status: string(e.Status), Args: e.Args, Result: e.Result,
		Stdout: e.Stdout, Stderr: e.Stderr, StdoutTruncated: e.StdoutTruncated, StderrTruncated: e.StderrTruncated,
		CreatedAt: e.CreatedAt, StartedAt: e.StartedAt, FinishedAt: e.FinishedAt,
		QueueMS: e.QueueMS, AcquireMS: e.AcquireMS, DurationMS: e.DurationMS,
		ColdStart: e.ColdStart, ExitCode: e.ExitCode, OOMKilled: e.OOMKilled, CPUMS: e.CPUMS}
	if u := e.Usage; u != nil {
		r.Usage = &usageRecord{WallMS: u.WallMS, CPUMS: u.CPUMS, GBSeconds: u.GBSeconds}
	}
	if e.Error != nil {
		r.Error = &errorRecord{Type: e.Error.Type, Message: e.Error.Message, Traceback: e.Error.Traceback,
			MessageTruncated: e.Error.MessageTruncated, TracebackTruncated: e.Error.TracebackTruncated}
	}
	if c := e.Callback; c != nil {
		r.Callback = &callbackRecord{URL: c.URL, State: string(c.State), Attempts: c.Attempts,
			LastStatus: c.LastStatus, LastError: c.LastError, DeliveredAt: c.DeliveredAt}
	}
	return r
}

// MaxExecutionBytes bounds the stored JSON of one execution record. A record within the
// engine's caps (arguments 256 KiB, result 1 MiB, stdout and stderr 256 KiB each, error message
// and traceback 64 KiB each) stays far below it, even with every character of its texts escaped.
const MaxExecutionBytes = 8 << 20

// Errors of an execution record that cannot be stored; nothing was written. The caller may store
// a smaller record in its place.
var (
	// ErrRecordTooLarge: the record's JSON is over MaxExecutionBytes.
	ErrRecordTooLarge = errors.New("execution record over the size limit")
	// ErrRecordInvalid: the record cannot be encoded (its result or arguments are not JSON).
	ErrRecordInvalid = errors.New("execution record cannot be encoded")
)

// encodeExecution is the stored JSON of an execution. It returns ErrRecordTooLarge (wrapped) for
// a record over MaxExecutionBytes and ErrRecordInvalid for one that is not JSON: every record
// written to Redis goes through here, so none exceeds the limit. The encoding leaves <, > and &
// unescaped: the record is no HTML, and escaping them would make a record six times larger.
func encodeExecution(e faaspot.Execution) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(executionRecordOf(e)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRecordInvalid, err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(b) > MaxExecutionBytes {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrRecordTooLarge, len(b), MaxExecutionBytes)
	}
	return b, nil
}

// decodeExecution reads a stored execution.
func decodeExecution(b []byte) (faaspot.Execution, error) {
	var r executionRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return faaspot.Execution{}, err
	}
	return r.domain(), nil
}

// Caps of a deployment record's texts, far above what the builder makes (a build log is its
// tail, 64 KiB by default), so that no record grows without bound whatever it is given.
const (
	maxDeploymentErrorBytes = 64 << 10
	maxBuildLogBytes        = 1 << 20
)

// encodeDeployment is the stored JSON of a deployment, its error cut to its head and its build
// log to its tail within their caps.
func encodeDeployment(d faaspot.Deployment) []byte {
	r := deploymentRecordOf(d)
	r.Error = headOf(r.Error, maxDeploymentErrorBytes)
	r.BuildLog = tailOf(r.BuildLog, maxBuildLogBytes)
	b, _ := json.Marshal(r) // plain fields: cannot fail
	return b
}

// headOf and tailOf return the longest head (tail) of s within limit bytes at a character
// boundary.
func headOf(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	i := limit
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

func tailOf(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	i := len(s) - limit
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return s[i:]
}

// decodeDeployment reads a stored deployment.
func decodeDeployment(b []byte) (faaspot.Deployment, error) {
	var r deploymentRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return faaspot.Deployment{}, err
	}
	return r.domain(), nil
}

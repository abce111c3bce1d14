// Package sandbox runs executions of deployments in hardened, resource-limited Docker containers
// and reports what happened: the function's value or error, its captured output, the exit code,
// a timeout or an out-of-memory kill. The containers' confinement is package hardening's. Containers
// of one deployment version may be kept warm between runs (pool.go, warm.go); a container that
// failed is never reused, and every container is removed when its runs end.
package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Outcomes of a run.
const (
	Completed = "completed"
	Failed    = "failed"
	Timeout   = "timeout"
)

// Error types the sandbox reports for failures that are not the function's own exceptions.
const (
	ErrTypeTimeout        = "Timeout"
	ErrTypeOutOfMemory    = "OutOfMemory"
	ErrTypeProcessExit    = "ProcessExited"
	ErrTypeProtocol       = "ProtocolError"
	ErrTypeResultTooLarge = "ResultTooLarge"
)

// ErrEngine wraps failures to talk to the Docker engine; the run did not happen or its outcome is unknown.
var ErrEngine = errors.New("container engine error")

// Request is one run.
type Request struct {
	Image       string
	TenantID    string
	ExecutionID string
	// Key names the deployment version ("tenant/deployment/version"): a container serves runs
	// of one key only, ever.
	Key     string
	Args    json.RawMessage
	Context json.RawMessage
	Limits  Limits
	// Policy says how the run's container is kept afterwards.
	Policy PoolPolicy
	// Output, when set, is given the run's output while the run goes on: pieces of stream
	// StreamStdout or StreamStderr, in order within each stream, each stream's pieces together
	// at most Limits.OutputBytes and a head of the Result's text when the runner answers (a run
	// that times out or dies has no frame: its Result holds no output, only its pieces do). The
	// runner sends a piece once it has waited about 150 ms, so a run that ends sooner gives
	// none. Output is called by Run's goroutine and must not block.
	Output func(stream, data string)
}

// FuncError describes a failed run.
type FuncError struct {
	Type      string `json:"type"`
	Message   string `json:"message"`
	Traceback string `json:"traceback,omitempty"`
	// MessageTruncated and TracebackTruncated say that the text was cut to its cap
	// (MaxErrorMessageBytes, MaxTracebackBytes), by the runner or by the sandbox.
	MessageTruncated   bool `json:"message_truncated,omitempty"`
	TracebackTruncated bool `json:"traceback_truncated,omitempty"`
}

// Result is what happened in a run.
type Result struct {
	Outcome         string
	Value           json.RawMessage
	Error           *FuncError
	Stdout, Stderr  string
	StdoutTruncated bool
	StderrTruncated bool
	ExitCode        int
	OOMKilled       bool
	// ColdStart is true when the run started a container; false when a warm one served it.
	ColdStart bool
	// Acquire is how long getting a ready container took (for a cold start: create, start and
	// the function's import); Duration is the function's own time, request to frame.
	Acquire  time.Duration
	Duration time.Duration
	// CPU is the CPU time the container used from the request to the answer (cpu.go): 0 when
	// its cgroup cannot be read.
	CPU time.Duration
}

// dockerAPI holds the Engine calls the sandbox makes; *client.Client satisfies it.
type dockerAPI interface {
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (container.CreateResponse, error)
	ContainerAttach(ctx context.Context, container string, options container.AttachOptions) (types.HijackedResponse, error)
	ContainerStart(ctx context.Context, container string, options container.StartOptions) error
	ContainerWait(ctx context.Context, container string, condition container.WaitCondition) (<-chan container.WaitResponse, <-chan error)
	ContainerInspect(ctx context.Context, container string) (container.InspectResponse, error)
	ContainerKill(ctx context.Context, container, signal string) error
	ContainerRemove(ctx context.Context, container string, options container.RemoveOptions) error
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
}

// Sandbox runs functions in containers, keeping warm ones between runs. It is safe for
// concurrent use.
type Sandbox struct {
	docker   dockerAPI
	cfg      Config
	log      *slog.Logger
	pool     pool
	removals sync.WaitGroup
	// channels is the directory of the containers' channel directories ("": no channels).
	channels string
	// Replacements of single-use containers (refill.go): bg ends at Close.
	bg      context.Context
	stopBg  context.CancelFunc
	bgMu    sync.Mutex // orders refill's Add with stopRefills' Wait
	refills sync.WaitGroup
	// busyProcess and busyFork count the boxes of each mode a run holds (see Containers).
	busyProcess, busyFork atomic.Int64
}

// New returns a Sandbox. Zero fields of cfg take their DefaultConfig value, so a partial Config is
// never less hardened than the default; a root user (wrapping hardening.ErrRootUser) and an
// unknown Mode are refused.
func New(docker dockerAPI, cfg Config, log *slog.Logger) (*Sandbox, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Sandbox{docker: docker, cfg: cfg, log: log.With("component", "sandbox")}
	if cfg.Channel {
		dir, err := os.MkdirTemp("", "faaspot-ch-") // short: a socket's path is at most 107 bytes
		if err != nil {
			return nil, fmt.Errorf("channel directory: %w", err)
		}
		s.channels = dir
	}
	s.pool.max = cfg.MaxIdle
	s.bg, s.stopBg = context.WithCancel(context.Background())
	return s, nil
}

// Idle returns the idle containers of key and in all.
func (s *Sandbox) Idle(key string) (int, int) { return s.pool.size(key) }

// Close removes every idle container and waits for all removals, those of runs included. Runs
// after Close still run; their containers are not kept.
func (s *Sandbox) Close() {
	s.stopRefills()
	for _, b := range s.pool.drain("", true) {
		s.discard(b)
	}
	s.removals.Wait()
	if s.channels != "" {
		_ = os.RemoveAll(s.channels)
	}
}

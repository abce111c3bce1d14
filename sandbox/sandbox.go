// Package sandbox runs one execution of a deployment in a fresh, hardened, resource-limited Docker
// container and reports what happened: the function's value or error, its captured output, the
// exit code, a timeout or an out-of-memory kill. Containers are always removed afterwards.
package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"
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
	ErrTypeTimeout      = "Timeout"
	ErrTypeOutOfMemory  = "OutOfMemory"
	ErrTypeProcessExit  = "ProcessExited"
	ErrTypeProtocol     = "ProtocolError"
	ErrTypeOutputTooBig = "ResultTooLarge"
)

// ErrEngine wraps failures to talk to the Docker engine; the run did not happen or its outcome is unknown.
var ErrEngine = errors.New("container engine error")

// Request is one run.
type Request struct {
	Image       string
	TenantID    string
	ExecutionID string
	Args        json.RawMessage
	Context     json.RawMessage
	Limits      Limits
}

// FuncError describes a failed run.
type FuncError struct {
	Type      string `json:"type"`
	Message   string `json:"message"`
	Traceback string `json:"traceback,omitempty"`
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
	ColdStart       bool
	// Started is when the function's container started; Acquire how long getting it took.
	Started  time.Time
	Acquire  time.Duration
	Duration time.Duration
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

// Sandbox starts runs in containers. It is safe for concurrent use.
type Sandbox struct {
	docker dockerAPI
	cfg    Config
	log    *slog.Logger
}

// New returns a Sandbox. Zero fields of cfg take their DefaultConfig value, so a partial Config is
// never less hardened than the default; a root user is refused.
func New(docker dockerAPI, cfg Config, log *slog.Logger) (*Sandbox, error) {
	cfg = cfg.withDefaults()
	if isRoot(cfg.User) {
		return nil, fmt.Errorf("sandbox user %q is root: runs must use a non-root uid", cfg.User)
	}
	return &Sandbox{docker: docker, cfg: cfg, log: log.With("component", "sandbox")}, nil
}

// Run executes req in a fresh container and removes it afterwards. The function's failures —
// exception, timeout, out of memory, crash — are reported in the Result; an error (wrapping
// ErrEngine, or ctx's error) means the engine failed and the run's outcome is unknown.
func (s *Sandbox) Run(ctx context.Context, req Request) (Result, error) {
	t0 := time.Now()
	created, err := s.docker.ContainerCreate(ctx, containerConfig(s.cfg, req), hostConfig(s.cfg, req.Limits), nil, nil, "")
	if err != nil {
		return Result{}, fmt.Errorf("create container for %s: %w: %w", req.ExecutionID, ErrEngine, err)
	}
	id := created.ID
	defer s.remove(id)

	att, err := s.docker.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		return Result{}, fmt.Errorf("attach to %s: %w: %w", id[:12], ErrEngine, err)
	}
	defer att.Close()
	waitC, waitErrC := s.docker.ContainerWait(ctx, id, container.WaitConditionNextExit)
	if err := s.docker.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return Result{}, fmt.Errorf("start %s: %w: %w", id[:12], ErrEngine, err)
	}
	res := Result{ColdStart: true, Started: time.Now()}
	res.Acquire = res.Started.Sub(t0)

	// The frame can be larger than the capped fields it holds: JSON escaping may expand text.
	stdout := &cappedBuffer{limit: 8*(2*req.Limits.OutputBytes+req.Limits.ResultBytes) + 64<<10}
	stderr := &cappedBuffer{limit: 64 << 10}
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(stdout, stderr, att.Reader)
		copied <- err
	}()
	in, _ := json.Marshal(input{Args: req.Args, Context: req.Context,
		OutputLimit: req.Limits.OutputBytes, ResultLimit: req.Limits.ResultBytes})
	go func() {
		// A function that exits without reading stdin closes the pipe; that is not our error.
		_, _ = att.Conn.Write(in)
		_ = att.CloseWrite()
	}()

	timer := time.NewTimer(req.Limits.Timeout)
	defer timer.Stop()
	var exit container.WaitResponse
	select {
	case exit = <-waitC:
	case err := <-waitErrC:
		return Result{}, fmt.Errorf("wait for %s: %w: %w", id[:12], ErrEngine, err)
	case <-timer.C:
		res.Duration = time.Since(res.Started)
		_ = s.docker.ContainerKill(context.WithoutCancel(ctx), id, "KILL")
		res.Outcome, res.ExitCode = Timeout, 137
		res.Error = &FuncError{Type: ErrTypeTimeout, Message: fmt.Sprintf("the function ran longer than %s and was killed", req.Limits.Timeout)}
		return res, nil
	case <-ctx.Done():
		_ = s.docker.ContainerKill(context.WithoutCancel(ctx), id, "KILL")
		return Result{}, ctx.Err()
	}
	res.Duration = time.Since(res.Started)
	res.ExitCode = int(exit.StatusCode)
	// The attach stream ends with the container; wait for the copier to drain it.
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
		att.Close()
		<-copied
	}
	if res.ExitCode != 0 {
		if info, err := s.docker.ContainerInspect(ctx, id); err == nil && info.State != nil {
			res.OOMKilled = info.State.OOMKilled
		}
	}
	s.interpret(&res, stdout, stderr, req.Limits)
	return res, nil
}

// interpret fills the outcome from the container's output and exit state.
func (s *Sandbox) interpret(res *Result, stdout, stderr *cappedBuffer, l Limits) {
	f, err := parseFrame(stdout.Bytes())
	switch {
	case res.OOMKilled:
		res.Outcome = Failed
		res.Error = &FuncError{Type: ErrTypeOutOfMemory,
			Message: fmt.Sprintf("the function exceeded its memory limit of %d MB and was killed", l.MemoryBytes>>20)}
	case stdout.truncated:
		res.Outcome = Failed
		res.Error = &FuncError{Type: ErrTypeOutputTooBig, Message: "the function's result and output exceed the size limits"}
	case err != nil:
		res.Outcome = Failed
		res.Error = &FuncError{Type: ErrTypeProcessExit,
			Message: fmt.Sprintf("the function's process exited with code %d before returning a result", res.ExitCode)}
		if !errors.Is(err, errNoFrame) {
			res.Error = &FuncError{Type: ErrTypeProtocol, Message: "the runner's result could not be read: " + err.Error()}
		}
		res.Stderr = stderr.String()
		res.StderrTruncated = stderr.truncated
		return
	case f.OK:
		res.Outcome, res.Value = Completed, json.RawMessage(f.Result)
	default:
		res.Outcome, res.Error = Failed, f.Error
	}
	res.Stdout, res.Stderr = f.Stdout, f.Stderr
	res.StdoutTruncated, res.StderrTruncated = f.StdoutTruncated, f.StderrTruncated
}

// remove deletes a run's container, whatever happened to the run.
func (s *Sandbox) remove(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.docker.ContainerRemove(ctx, id, container.RemoveOptions{Force: true}); err != nil {
		s.log.Warn("remove container", "container", id[:12], "err", err)
	}
}

// RemoveOrphans removes the sandbox containers of this node (Config.Node) left over by an earlier
// run of it that died mid-run. Other nodes' containers on the same engine are never touched. Call
// it at start-up, before any run.
func (s *Sandbox) RemoveOrphans(ctx context.Context) (int, error) {
	list, err := s.docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("label", LabelManaged+"=true"), filters.Arg("label", LabelRole+"="+roleSandbox),
		filters.Arg("label", LabelNode+"="+s.cfg.Node))})
	if err != nil {
		return 0, fmt.Errorf("list orphans: %w: %w", ErrEngine, err)
	}
	n := 0
	for _, c := range list {
		if err := s.docker.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err == nil {
			n++
		}
	}
	return n, nil
}

var _ io.Writer = (*cappedBuffer)(nil)

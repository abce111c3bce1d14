// Package sandbox runs executions of deployments in hardened, resource-limited Docker containers
// and reports what happened: the function's value or error, its captured output, the exit code,
// a timeout or an out-of-memory kill. Containers of one deployment version may be kept warm
// between runs (pool.go); a container that failed is never reused, and every container is removed
// when its runs end.
package sandbox

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
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
	// Key names the deployment version ("tenant/deployment/version"): a container serves runs
	// of one key only, ever.
	Key     string
	Args    json.RawMessage
	Context json.RawMessage
	Limits  Limits
	// Policy says how the run's container is kept afterwards.
	Policy PoolPolicy
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
	// ColdStart is true when the run started a container; false when a warm one served it.
	ColdStart bool
	// Acquire is how long getting a ready container took (for a cold start: create, start and
	// the function's import); Duration is the function's own time, request to frame.
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

// Sandbox runs functions in containers, keeping warm ones between runs. It is safe for
// concurrent use.
type Sandbox struct {
	docker   dockerAPI
	cfg      Config
	log      *slog.Logger
	pool     pool
	removals sync.WaitGroup
}

// New returns a Sandbox. Zero fields of cfg take their DefaultConfig value, so a partial Config is
// never less hardened than the default; a root user is refused.
func New(docker dockerAPI, cfg Config, log *slog.Logger) (*Sandbox, error) {
	cfg = cfg.withDefaults()
	if isRoot(cfg.User) {
		return nil, fmt.Errorf("sandbox user %q is root: runs must use a non-root uid", cfg.User)
	}
	if cfg.Mode != "process" && cfg.Mode != "fork" {
		return nil, fmt.Errorf("sandbox mode %q: want process or fork", cfg.Mode)
	}
	s := &Sandbox{docker: docker, cfg: cfg, log: log.With("component", "sandbox")}
	s.pool.max = cfg.MaxIdle
	return s, nil
}

// Run executes req in an idle container of its key, or in a fresh one, and keeps the container
// for the next run when req.Policy allows and the run left it clean. The function's failures —
// exception, timeout, out of memory, crash — are reported in the Result, and a container that saw
// a timeout, a crash, a broken protocol or left processes behind is never reused. An error
// (wrapping ErrEngine, or ctx's error) means the engine failed and the outcome is unknown.
func (s *Sandbox) Run(ctx context.Context, req Request) (Result, error) {
	t0 := time.Now()
	b := s.pool.take(req.Key)
	for b != nil && !b.alive() { // an idle container that died is not the function's failure
		s.retire(b, false)
		b = s.pool.take(req.Key)
	}
	res := Result{ColdStart: b == nil}
	if b == nil {
		var err error
		if b, err = s.start(ctx, req); err != nil {
			return Result{}, err
		}
	}
	wasReady := b.ready
	t1 := time.Now()
	f, out, err := b.exec(ctx, req)
	res.Acquire, res.Duration = t1.Sub(t0), time.Since(t1)
	if !wasReady && !b.readyAt.IsZero() { // the import happened during this exec: part of acquiring
		res.Acquire, res.Duration = b.readyAt.Sub(t0), time.Since(b.readyAt)
	}
	switch {
	case err != nil && ctx.Err() != nil:
		s.retire(b, true)
		return Result{}, ctx.Err()
	case out == answered && f.Error != nil && (f.Error.Type == ErrTypeProcessExit || f.OOM):
		// A forked run's process died: the runner lives, but the container is done with.
		fill(&res, f, req.Limits)
		res.ExitCode, res.OOMKilled = f.ExitCode, f.OOM
		if !res.OOMKilled && f.ExitCode == 137 { // killed: ask the engine too
			_, res.OOMKilled = s.exitOf(ctx, b, 0)
		}
		if res.OOMKilled {
			res.Error = &FuncError{Type: ErrTypeOutOfMemory,
				Message: fmt.Sprintf("the function exceeded its memory limit of %d MB and was killed", req.Limits.MemoryBytes>>20)}
		}
		s.retire(b, true)
		return res, nil
	case out == answered:
		fill(&res, f, req.Limits)
		if f.Stray == 0 && s.pool.put(b, req.Policy, func(b *box) { s.retire(b, false) }) {
			return res, nil
		}
		s.retire(b, f.Stray > 0)
		return res, nil
	case out == timedOut:
		s.retire(b, true)
		res.Outcome, res.ExitCode = Timeout, 137
		res.Error = &FuncError{Type: ErrTypeTimeout, Message: fmt.Sprintf("the function ran longer than %s and was killed", req.Limits.Timeout)}
		return res, nil
	}
	// The runner died or broke the protocol: find out how, then the container goes.
	res.Outcome = Failed
	wait := 2 * time.Second // a runner that died is exiting
	if err != nil {
		// A runner that broke the protocol may live on: stop it rather than wait for it.
		_ = s.docker.ContainerKill(context.WithoutCancel(ctx), b.id, "KILL")
		wait = time.Second
	}
	res.ExitCode, res.OOMKilled = s.exitOf(ctx, b, wait)
	s.retire(b, true)
	switch {
	case res.OOMKilled:
		res.Error = &FuncError{Type: ErrTypeOutOfMemory,
			Message: fmt.Sprintf("the function exceeded its memory limit of %d MB and was killed", req.Limits.MemoryBytes>>20)}
	case errors.Is(err, errLineTooLong):
		res.Error = &FuncError{Type: ErrTypeOutputTooBig, Message: "the function's result and output exceed the size limits"}
	case err != nil:
		res.Error = &FuncError{Type: ErrTypeProtocol, Message: "the runner's result could not be read: " + err.Error()}
	default:
		res.Error = &FuncError{Type: ErrTypeProcessExit,
			Message: fmt.Sprintf("the function's process exited with code %d before returning a result", res.ExitCode)}
		res.Stderr, res.StderrTruncated = b.stderr.String(), b.stderr.Truncated()
	}
	return res, nil
}

// fill copies a frame into the result, enforcing the size limits again: the runner that applied
// them shares its process with the function, which may have forged its frame.
func fill(res *Result, f frame, l Limits) {
	res.Outcome = Completed
	switch {
	case !f.OK:
		res.Outcome, res.Error = Failed, f.Error
	case l.ResultBytes > 0 && len(f.Result) > l.ResultBytes:
		res.Outcome = Failed
		res.Error = &FuncError{Type: ErrTypeOutputTooBig,
			Message: fmt.Sprintf("the return value is %d bytes; the limit is %d", len(f.Result), l.ResultBytes)}
	default:
		res.Value = json.RawMessage(f.Result)
	}
	res.Stdout, res.StdoutTruncated = capText(f.Stdout, f.StdoutTruncated, l.OutputBytes)
	res.Stderr, res.StderrTruncated = capText(f.Stderr, f.StderrTruncated, l.OutputBytes)
}

// capText cuts s to limit bytes (when limit > 0), flagging the cut.
func capText(s string, truncated bool, limit int) (string, bool) {
	if limit > 0 && len(s) > limit {
		return s[:limit], true
	}
	return s, truncated
}

// exitOf waits up to wait for a broken box's container to end and reports its exit code and
// whether the kernel's OOM killer struck in it.
func (s *Sandbox) exitOf(ctx context.Context, b *box, wait time.Duration) (int, bool) {
	code := -1
	select {
	case w := <-b.exited:
		code = int(w.StatusCode)
	case <-b.waitErr:
	case <-time.After(wait):
	}
	info, err := s.docker.ContainerInspect(context.WithoutCancel(ctx), b.id)
	if err != nil || info.State == nil {
		return code, false
	}
	if code < 0 {
		code = info.State.ExitCode
	}
	return code, info.State.OOMKilled
}

// Prewarm starts n containers for req's key, waits until each has imported the function (its
// ready line), and keeps them idle so that the next runs are warm. The daemon calls it before it
// announces a version ready, so the first run after a deploy finds a ready container.
func (s *Sandbox) Prewarm(ctx context.Context, req Request, n int) error {
	idle, total := s.pool.size(req.Key)
	n = min(n, req.Policy.MaxIdle-idle, s.pool.max-total)
	var boxes []*box
	var firstErr error
	for range n { // started together: their imports overlap
		b, err := s.start(ctx, req)
		if err != nil {
			firstErr = err
			break
		}
		boxes = append(boxes, b)
	}
	for _, b := range boxes {
		if err := b.awaitReady(ctx); err != nil {
			s.retire(b, true)
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		if !s.pool.put(b, req.Policy, func(b *box) { s.retire(b, false) }) {
			s.retire(b, false)
		}
	}
	return firstErr
}

// Retire removes the idle containers of every key with the prefix: a redeployed version
// ("tenant/deployment/version/") or a deleted deployment ("tenant/deployment/"). Containers busy
// with a run of such a key are removed when the run ends: the pool takes none of them back.
// Retire returns once the idle containers are removed, so that their image can go next.
func (s *Sandbox) Retire(prefix string) int {
	s.pool.forbid(prefix)
	boxes := s.pool.drain(prefix, false)
	var wg sync.WaitGroup
	for _, b := range boxes {
		close(b.done)
		b.att.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.remove(b.id)
		}()
	}
	wg.Wait()
	return len(boxes)
}

// Idle returns the idle containers of key and in all.
func (s *Sandbox) Idle(key string) (int, int) { return s.pool.size(key) }

// Close removes every idle container and waits for all removals.
func (s *Sandbox) Close() {
	for _, b := range s.pool.drain("", true) {
		s.retire(b, false)
	}
	s.removals.Wait()
}

// retire removes a box's container in the background (the run's answer does not wait for it);
// with kill, it is killed first so that nothing it runs goes on meanwhile.
func (s *Sandbox) retire(b *box, kill bool) {
	close(b.done)
	if kill {
		_ = s.docker.ContainerKill(context.Background(), b.id, "KILL")
	}
	b.att.Close()
	s.removals.Add(1)
	go func() {
		defer s.removals.Done()
		s.remove(b.id)
	}()
}

// remove deletes a container, whatever happened to its runs.
func (s *Sandbox) remove(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.docker.ContainerRemove(ctx, id, container.RemoveOptions{Force: true}); err != nil {
		s.log.Warn("remove container", "container", short(id), "err", err)
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

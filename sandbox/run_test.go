package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// process is what the fake container does with the JSON document it reads on stdin.
type process struct {
	stdout, stderr string
	exit           int64
	oom            bool
	hang           bool // run until killed
}

// fakeDocker is a hand-written dockerAPI: one container at a time, attached through a real
// loopback TCP connection (so CloseWrite ends stdin as with the Engine), calls counted.
type fakeDocker struct {
	t       *testing.T
	proc    process
	failOn  string // "create", "attach", "start": that call fails
	mu      sync.Mutex
	calls   []string
	created *container.Config
	host    *container.HostConfig
	stdin   []byte
	server  net.Conn // the container's end
	waitC   chan container.WaitResponse
	killed  chan struct{}
	once    sync.Once
	orphans []container.Summary
	listed  container.ListOptions
}

var _ dockerAPI = (*fakeDocker)(nil)

const fakeID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func (f *fakeDocker) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakeDocker) callList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeDocker) ContainerCreate(ctx context.Context, cfg *container.Config, host *container.HostConfig, _ *network.NetworkingConfig, _ *ocispec.Platform, _ string) (container.CreateResponse, error) {
	f.record("create")
	if f.failOn == "create" {
		return container.CreateResponse{}, errors.New("no such image")
	}
	f.created, f.host = cfg, host
	f.waitC, f.killed = make(chan container.WaitResponse, 1), make(chan struct{})
	return container.CreateResponse{ID: fakeID}, nil
}

func (f *fakeDocker) ContainerAttach(ctx context.Context, id string, _ container.AttachOptions) (types.HijackedResponse, error) {
	f.record("attach")
	if f.failOn == "attach" {
		return types.HijackedResponse{}, errors.New("attach failed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return types.HijackedResponse{}, err
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return types.HijackedResponse{}, err
	}
	server, err := ln.Accept()
	if err != nil {
		return types.HijackedResponse{}, err
	}
	f.server = server
	f.t.Cleanup(func() { server.Close(); client.Close() })
	return types.HijackedResponse{Conn: client, Reader: bufio.NewReader(client)}, nil
}

func (f *fakeDocker) ContainerWait(ctx context.Context, id string, _ container.WaitCondition) (<-chan container.WaitResponse, <-chan error) {
	f.record("wait")
	return f.waitC, make(chan error)
}

func (f *fakeDocker) ContainerStart(ctx context.Context, id string, _ container.StartOptions) error {
	f.record("start")
	if f.failOn == "start" {
		return errors.New("start failed")
	}
	go f.run()
	return nil
}

// run plays the container's process.
func (f *fakeDocker) run() {
	in, _ := io.ReadAll(f.server) // until the sandbox closes stdin
	f.mu.Lock()
	f.stdin = in
	f.mu.Unlock()
	if f.proc.hang {
		<-f.killed
		f.exit(137)
		return
	}
	_, _ = stdcopy.NewStdWriter(f.server, stdcopy.Stdout).Write([]byte(f.proc.stdout))
	if f.proc.stderr != "" {
		_, _ = stdcopy.NewStdWriter(f.server, stdcopy.Stderr).Write([]byte(f.proc.stderr))
	}
	f.exit(f.proc.exit)
}

func (f *fakeDocker) exit(code int64) {
	f.once.Do(func() {
		f.server.Close()
		f.waitC <- container.WaitResponse{StatusCode: code}
	})
}

func (f *fakeDocker) ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error) {
	f.record("inspect")
	return container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{
		State: &container.State{OOMKilled: f.proc.oom, ExitCode: int(f.proc.exit)}}}, nil
}

func (f *fakeDocker) ContainerKill(ctx context.Context, id, signal string) error {
	f.record("kill " + signal)
	select {
	case <-f.killed:
	default:
		close(f.killed)
	}
	return nil
}

func (f *fakeDocker) ContainerRemove(ctx context.Context, id string, opts container.RemoveOptions) error {
	if !opts.Force {
		f.t.Errorf("remove without Force")
	}
	f.record("remove " + id)
	if strings.HasPrefix(id, "gone") {
		return errors.New("no such container")
	}
	return nil
}

func (f *fakeDocker) ContainerList(ctx context.Context, opts container.ListOptions) ([]container.Summary, error) {
	f.record("list")
	f.listed = opts
	return f.orphans, nil
}

func TestRun(t *testing.T) {
	okFrame := `{"ok": true, "result": "{\"x\": 1}", "stdout": "hi\n", "stderr": "", "stdout_truncated": false, "stderr_truncated": false}` + "\n"
	limits := Limits{MemoryBytes: 128 << 20, NanoCPUs: 5e8, Timeout: 5 * time.Second, OutputBytes: 1 << 10, ResultBytes: 1 << 10}
	tests := []struct {
		name     string
		proc     process
		failOn   string
		timeout  time.Duration
		wantErr  bool
		outcome  string
		errType  string
		value    string
		wantCall string // a call that must have happened
		removed  bool
	}{
		{name: "completed", proc: process{stdout: okFrame}, outcome: Completed, value: `{"x": 1}`, removed: true},
		{name: "timeout", proc: process{hang: true}, timeout: 50 * time.Millisecond, outcome: Timeout,
			errType: ErrTypeTimeout, wantCall: "kill KILL", removed: true},
		{name: "out of memory", proc: process{exit: 137, oom: true}, outcome: Failed, errType: ErrTypeOutOfMemory,
			wantCall: "inspect", removed: true},
		{name: "crash without frame", proc: process{exit: 1, stderr: "Fatal Python error\n"}, outcome: Failed,
			errType: ErrTypeProcessExit, removed: true},
		{name: "create fails", failOn: "create", wantErr: true},
		{name: "attach fails", failOn: "attach", wantErr: true, removed: true},
		{name: "start fails", failOn: "start", wantErr: true, removed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fd := &fakeDocker{t: t, proc: tt.proc, failOn: tt.failOn}
			s := mustNew(t, fd)
			l := limits
			if tt.timeout > 0 {
				l.Timeout = tt.timeout
			}
			req := Request{Image: "img", TenantID: "t1", ExecutionID: "e1", Args: json.RawMessage(`{"a":1}`),
				Context: json.RawMessage(`{"k":"SECRET-CTX"}`), Limits: l}
			res, err := s.Run(context.Background(), req)
			calls := strings.Join(fd.callList(), ",")

			if removed := strings.Contains(calls, "remove "+fakeID); removed != tt.removed {
				t.Errorf("container removed = %v, want %v (calls %s)", removed, tt.removed, calls)
			}
			if tt.wantErr {
				if !errors.Is(err, ErrEngine) {
					t.Errorf("Run error = %v, want ErrEngine", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Outcome != tt.outcome {
				t.Errorf("outcome = %q, want %q (%+v)", res.Outcome, tt.outcome, res.Error)
			}
			if tt.errType != "" && (res.Error == nil || res.Error.Type != tt.errType) {
				t.Errorf("error = %+v, want %s", res.Error, tt.errType)
			}
			if tt.value != "" && string(res.Value) != tt.value {
				t.Errorf("value = %s, want %s", res.Value, tt.value)
			}
			if tt.wantCall != "" && !strings.Contains(calls, tt.wantCall) {
				t.Errorf("calls %s lack %q", calls, tt.wantCall)
			}
			if !res.ColdStart || res.Started.IsZero() {
				t.Errorf("timing = %+v", res)
			}
			// The create call carried the hardened configuration, the stdin the one document.
			if fd.host == nil || fd.host.Resources.Memory != l.MemoryBytes || string(fd.host.NetworkMode) != "none" {
				t.Errorf("host config = %+v", fd.host)
			}
			if tt.outcome != Timeout {
				fd.mu.Lock()
				var in input
				if err := json.Unmarshal(fd.stdin, &in); err != nil {
					t.Errorf("stdin %q: %v", fd.stdin, err)
				} else if string(in.Args) != `{"a":1}` || string(in.Context) != `{"k":"SECRET-CTX"}` ||
					in.OutputLimit != l.OutputBytes || in.ResultLimit != l.ResultBytes {
					t.Errorf("stdin document = %+v", in)
				}
				fd.mu.Unlock()
			}
			for _, e := range fd.created.Env {
				if strings.Contains(e, "SECRET-CTX") {
					t.Error("the context reached the environment")
				}
			}
		})
	}
}

func TestRunCancelled(t *testing.T) {
	fd := &fakeDocker{t: t, proc: process{hang: true}}
	s := mustNew(t, fd)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := s.Run(ctx, Request{Image: "img", ExecutionID: "e1", Args: json.RawMessage(`{}`),
		Limits: Limits{Timeout: 10 * time.Second, MemoryBytes: 64 << 20}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	calls := strings.Join(fd.callList(), ",")
	if !strings.Contains(calls, "kill KILL") || !strings.Contains(calls, "remove "+fakeID) {
		t.Errorf("calls = %s, want the container killed and removed", calls)
	}
}

func TestRemoveOrphans(t *testing.T) {
	fd := &fakeDocker{t: t, orphans: []container.Summary{{ID: "aaaa00000000aaaa"}, {ID: "gone00000000gone"}, {ID: "bbbb00000000bbbb"}}}
	cfg := DefaultConfig()
	cfg.Node = "node-a"
	s, err := New(fd, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.RemoveOrphans(context.Background())
	if err != nil || n != 2 {
		t.Errorf("RemoveOrphans = %d, %v; want 2 removed (one was gone already)", n, err)
	}
	if !fd.listed.All {
		t.Error("stopped containers are not listed")
	}
	labels := fd.listed.Filters.Get("label")
	// Only this node's containers: another node's runs on a shared engine are not orphans.
	for _, want := range []string{LabelManaged + "=true", LabelRole + "=sandbox", LabelNode + "=node-a"} {
		if !slices.Contains(labels, want) {
			t.Errorf("list filter labels %v lack %q", labels, want)
		}
	}
	if calls := strings.Join(fd.callList(), ","); calls != "list,remove aaaa00000000aaaa,remove gone00000000gone,remove bbbb00000000bbbb" {
		t.Errorf("calls = %s", calls)
	}
}

func mustNew(t *testing.T, fd dockerAPI) *Sandbox {
	t.Helper()
	s, err := New(fd, DefaultConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

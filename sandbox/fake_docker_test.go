package sandbox

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
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

// reply is what the fake runner does at one step: after delay, write stderr then stdout (raw,
// multiplexed as the Engine does), then exit if exits.
type reply struct {
	delay  time.Duration
	stdout string
	stderr string
	hang   bool // never answer: run until killed
	exits  bool
	code   int64
	oom    bool // the kernel's OOM killer struck in the container (before the output)
}

// process is what the fake container runs in place of runner.py --serve.
type process struct {
	early      *reply        // before the ready line (an import that crashes)
	gate       chan struct{} // when set, the ready line waits for it to close
	readyDelay time.Duration
	ready      string // the ready line; empty: readyLine
	// unsolicited is written right after the ready line, before any request (a chattering runner).
	unsolicited string
	deaf        bool    // after the ready line, never read stdin
	replies     []reply // reply i answers request i; the last repeats; none: okLine
	// channel is what the runner does with a channel (sandbox/channel.go): "socket" connects
	// and speaks there, "stdio" says it cannot and speaks over stdio; "" ignores it, as the
	// runners of earlier releases do.
	channel string
}

func (p process) reply(i int) reply {
	if len(p.replies) == 0 {
		return reply{stdout: okLine}
	}
	return p.replies[min(i, len(p.replies)-1)]
}

const (
	readyLine = `{"ready": true, "pid": 7}` + "\n"
	okLine    = `{"ok": true, "result": "{\"x\": 1}", "stdout": "hi\n", "stderr": "", "stdout_truncated": false, "stderr_truncated": false, "stray": 0}` + "\n"
)

// fakeContainer is one container of the fake engine; its stdin and stdout are the two ends of a
// real loopback TCP connection, so closes and buffering behave as with the Engine.
type fakeContainer struct {
	id       string
	cfg      *container.Config
	host     *container.HostConfig
	proc     process
	server   net.Conn // the container's end of the attach stream
	chConn   net.Conn // the runner's connection to its channel, once made
	waitC    chan container.WaitResponse
	dead     chan struct{}
	once     sync.Once
	mu       sync.Mutex
	oom      bool
	code     int
	requests [][]byte
}

// exit ends the container's process once: its attach stream closes, its wait answers.
func (c *fakeContainer) exit(code int64) {
	c.once.Do(func() {
		c.mu.Lock()
		c.code = int(code)
		server := c.server
		c.mu.Unlock()
		close(c.dead)
		if c.chConn != nil {
			_ = c.chConn.Close()
		}
		if server != nil {
			// As the Engine does, end the stream cleanly and discard what is sent after; a plain
			// Close with unread stdin would reset the connection.
			_ = server.(*net.TCPConn).CloseWrite()
			go func() {
				_, _ = io.Copy(io.Discard, server)
				server.Close()
			}()
		}
		c.waitC <- container.WaitResponse{StatusCode: code}
	})
}

// serve plays runner.py --serve: a ready line, then one answer per request line.
func (c *fakeContainer) serve() {
	var out io.Writer = stdcopy.NewStdWriter(c.server, stdcopy.Stdout)
	var in io.Reader = c.server
	errw := stdcopy.NewStdWriter(c.server, stdcopy.Stderr)
	act := func(r reply) (ended bool) {
		if r.delay > 0 {
			select {
			case <-time.After(r.delay):
			case <-c.dead:
				return true
			}
		}
		if r.hang {
			<-c.dead
			return true
		}
		if r.oom {
			c.mu.Lock()
			c.oom = true
			c.mu.Unlock()
		}
		if r.stderr != "" {
			_, _ = errw.Write([]byte(r.stderr))
		}
		if r.stdout != "" {
			_, _ = out.Write([]byte(r.stdout))
		}
		if r.exits {
			c.exit(r.code)
		}
		return r.exits
	}
	p := c.proc
	if p.early != nil && act(*p.early) { // a runner that dies before it chose its channel
		return
	}
	if conn := c.openChannel(out); conn != nil {
		out, in = conn, conn
	}
	if p.gate != nil {
		select {
		case <-p.gate:
		case <-c.dead:
			return
		}
	}
	if act(reply{delay: p.readyDelay, stdout: cmp.Or(p.ready, readyLine) + p.unsolicited}) {
		return
	}
	if p.deaf {
		<-c.dead
		return
	}
	lines := bufio.NewReader(in)
	for i := 0; ; i++ {
		line, err := lines.ReadBytes('\n')
		if err != nil {
			c.exit(0) // stdin ended: the runner returns
			return
		}
		select {
		case <-c.dead:
			return
		default:
		}
		c.mu.Lock()
		c.requests = append(c.requests, line)
		c.mu.Unlock()
		if act(p.reply(i)) {
			return
		}
	}
}

// openChannel plays the runner's channel_fds: with proc.channel "socket" it connects to the
// socket of the container's channel mount and returns the connection; with "stdio" it says on
// out that it cannot. Without a channel mount, or for "", it does nothing.
func (c *fakeContainer) openChannel(out io.Writer) net.Conn {
	var source string
	for _, m := range c.host.Mounts {
		if m.Target == channelMount {
			source = m.Source
		}
	}
	switch {
	case source == "" || c.proc.channel == "":
		return nil
	case c.proc.channel == "stdio":
		_, _ = out.Write([]byte(stdioHello + "\n"))
		return nil
	}
	conn, err := net.Dial("unix", source+"/"+channelSocket)
	if err != nil {
		_, _ = out.Write([]byte(stdioHello + "\n"))
		return nil
	}
	c.mu.Lock()
	c.chConn = conn
	c.mu.Unlock()
	return conn
}

// fakeDocker is a hand-written dockerAPI: containers numbered ctr1, ctr2… in creation order, each
// running the process set when it was created; calls recorded as "create", "kill ctr1", ….
type fakeDocker struct {
	t           *testing.T
	failOn      string        // "create", "attach", "start", "list": that call fails
	removeDelay time.Duration // how long ContainerRemove takes

	mu         sync.Mutex
	proc       process
	first      []process   // what the next containers created run, in order, before proc
	started    chan string // when set, gets the id of every container started
	calls      []string
	containers map[string]*fakeContainer
	orphans    []container.Summary // what ContainerList lists, as its label filters select
	listed     container.ListOptions
}

var _ dockerAPI = (*fakeDocker)(nil)

func newFake(t *testing.T, p process) *fakeDocker {
	return &fakeDocker{t: t, proc: p, containers: map[string]*fakeContainer{}}
}

// setProc sets what containers created from now on run.
func (f *fakeDocker) setProc(p process) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.proc = p
}

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

// count returns how many times call was made.
func (f *fakeDocker) count(call string) int {
	n := 0
	for _, c := range f.callList() {
		if c == call {
			n++
		}
	}
	return n
}

func (f *fakeDocker) container(id string) *fakeContainer {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	if c == nil {
		f.t.Errorf("no container %q", id)
		return &fakeContainer{id: id, dead: make(chan struct{}), waitC: make(chan container.WaitResponse, 1)}
	}
	return c
}

// requests returns the request lines container id read.
func (f *fakeDocker) requests(id string) [][]byte {
	c := f.container(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.requests...)
}

func (f *fakeDocker) ContainerCreate(ctx context.Context, cfg *container.Config, host *container.HostConfig, _ *network.NetworkingConfig, _ *ocispec.Platform, _ string) (container.CreateResponse, error) {
	f.record("create")
	if err := ctx.Err(); err != nil {
		return container.CreateResponse{}, err
	}
	if f.failOn == "create" {
		return container.CreateResponse{}, errors.New("no such image")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	proc := f.proc
	if len(f.first) > 0 {
		proc, f.first = f.first[0], f.first[1:]
	}
	c := &fakeContainer{id: fmt.Sprintf("ctr%d", len(f.containers)+1), cfg: cfg, host: host, proc: proc,
		waitC: make(chan container.WaitResponse, 1), dead: make(chan struct{})}
	f.containers[c.id] = c
	return container.CreateResponse{ID: c.id}, nil
}

func (f *fakeDocker) ContainerAttach(ctx context.Context, id string, _ container.AttachOptions) (types.HijackedResponse, error) {
	f.record("attach " + id)
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
		client.Close()
		return types.HijackedResponse{}, err
	}
	c := f.container(id)
	c.mu.Lock()
	c.server = server
	c.mu.Unlock()
	f.t.Cleanup(func() { server.Close(); client.Close() })
	return types.HijackedResponse{Conn: client, Reader: bufio.NewReader(client)}, nil
}

func (f *fakeDocker) ContainerWait(ctx context.Context, id string, _ container.WaitCondition) (<-chan container.WaitResponse, <-chan error) {
	f.record("wait " + id)
	return f.container(id).waitC, make(chan error)
}

func (f *fakeDocker) ContainerStart(ctx context.Context, id string, _ container.StartOptions) error {
	f.record("start " + id)
	if err := ctx.Err(); err != nil {
		return err
	}
	if f.failOn == "start" {
		return errors.New("start failed")
	}
	go f.container(id).serve()
	if f.started != nil {
		f.started <- id
	}
	return nil
}

func (f *fakeDocker) ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error) {
	f.record("inspect " + id)
	c := f.container(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	return container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{
		State: &container.State{OOMKilled: c.oom, ExitCode: c.code}}}, nil
}

func (f *fakeDocker) ContainerKill(ctx context.Context, id, signal string) error {
	f.record("kill " + id)
	if signal != "KILL" {
		f.t.Errorf("kill %s with %s, want KILL", id, signal)
	}
	f.container(id).exit(exitKilled)
	return nil
}

func (f *fakeDocker) ContainerRemove(ctx context.Context, id string, opts container.RemoveOptions) error {
	if !opts.Force {
		f.t.Errorf("remove %s without Force", id)
	}
	if strings.HasPrefix(id, "gone") {
		f.record("remove " + id)
		return errors.New("no such container")
	}
	if f.removeDelay > 0 {
		select {
		case <-time.After(f.removeDelay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.record("remove " + id)
	f.mu.Lock()
	c := f.containers[id]
	f.mu.Unlock()
	if c != nil {
		c.exit(exitKilled) // a forced removal kills what still runs
	}
	return nil
}

func (f *fakeDocker) ContainerList(ctx context.Context, opts container.ListOptions) ([]container.Summary, error) {
	f.record("list")
	if f.failOn == "list" {
		return nil, errors.New("engine gone")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listed = opts
	var out []container.Summary
	for _, c := range f.orphans {
		if opts.Filters.MatchKVList("label", c.Labels) {
			out = append(out, c)
		}
	}
	return out, nil
}

func mustNew(t *testing.T, fd dockerAPI) *Sandbox {
	t.Helper()
	return mustNewConfig(t, fd, DefaultConfig())
}

func mustNewConfig(t *testing.T, fd dockerAPI, cfg Config) *Sandbox {
	t.Helper()
	s, err := New(fd, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

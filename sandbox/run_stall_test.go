package sandbox

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// stallingDocker is the fake engine with the Docker engine's flaw that issue 9 met: while what a
// container wrote to its attached stdout is not read, the engine's kill and inspect of that
// container block (the stream copier holds the container's lock), until the attach is read to
// the end or closed. As the engine does, it multiplexes the container's output in frames of at
// most engineFrame bytes. want is how many bytes of output the container writes in all.
type stallingDocker struct {
	*fakeDocker
	want int64

	mu     sync.Mutex
	read   atomic.Int64  // bytes of output the client has read
	moved  chan struct{} // closed and replaced whenever the client reads
	closed chan struct{} // closed when the client closes the attach
}

// engineFrame is the most output the engine puts in one frame of an attach stream.
const engineFrame = 32 << 10

func newStallingDocker(t *testing.T, p process, want int64) *stallingDocker {
	return &stallingDocker{fakeDocker: newFake(t, p), want: want, closed: make(chan struct{}), moved: make(chan struct{})}
}

// ContainerAttach re-frames the fake container's stream as the engine would, through a pipe
// whose writes return once the client read them.
func (d *stallingDocker) ContainerAttach(ctx context.Context, id string, o container.AttachOptions) (types.HijackedResponse, error) {
	att, err := d.fakeDocker.ContainerAttach(ctx, id, o)
	if err != nil {
		return att, err
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(&reframer{w: stdcopy.NewStdWriter(pw, stdcopy.Stdout), d: d},
			&reframer{w: stdcopy.NewStdWriter(pw, stdcopy.Stderr), d: d}, att.Reader)
		pw.CloseWithError(err)
	}()
	conn := &closeNotifyConn{Conn: att.Conn, d: d, pr: pr}
	return types.HijackedResponse{Conn: conn, Reader: bufio.NewReader(pr)}, nil
}

// stall blocks until the client read all the container wrote, closed the attach, or ctx ends.
func (d *stallingDocker) stall(ctx context.Context) error {
	for {
		d.mu.Lock()
		moved := d.moved
		d.mu.Unlock()
		if d.read.Load() >= d.want {
			return nil
		}
		select {
		case <-d.closed:
			return nil
		case <-moved:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (d *stallingDocker) ContainerKill(ctx context.Context, id, signal string) error {
	if err := d.stall(ctx); err != nil {
		return err
	}
	return d.fakeDocker.ContainerKill(ctx, id, signal)
}

func (d *stallingDocker) ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error) {
	if err := d.stall(ctx); err != nil {
		return container.InspectResponse{}, err
	}
	return d.fakeDocker.ContainerInspect(ctx, id)
}

// reframer writes output in frames of at most engineFrame bytes, counting what the client read.
type reframer struct {
	w io.Writer
	d *stallingDocker
}

func (r *reframer) Write(p []byte) (int, error) {
	for rest := p; len(rest) > 0; {
		n := min(engineFrame, len(rest))
		if _, err := r.w.Write(rest[:n]); err != nil {
			return len(p) - len(rest), err
		}
		rest = rest[n:]
		r.d.read.Add(int64(n))
		r.d.mu.Lock()
		close(r.d.moved)
		r.d.moved = make(chan struct{})
		r.d.mu.Unlock()
	}
	return len(p), nil
}

type closeNotifyConn struct {
	net.Conn
	d    *stallingDocker
	pr   *io.PipeReader
	once sync.Once
}

func (c *closeNotifyConn) Close() error {
	c.once.Do(func() {
		close(c.d.closed)
		c.pr.CloseWithError(io.ErrClosedPipe)
	})
	return c.Conn.Close()
}

// TestRunEndsWhenTheRunnerFloodsTheProtocol: a runner that writes a line over the frame limit
// (a huge exception, or a function writing on the protocol's descriptor) and more after it ends
// its run as failed with ResultTooLarge, promptly, on an engine that blocks kill and inspect of
// a container whose output is not read. Before the fix the sandbox stopped reading at the limit
// and its inspect, without a deadline, waited for ever: the execution stayed "running".
func TestRunEndsWhenTheRunnerFloodsTheProtocol(t *testing.T) {
	flood := strings.Repeat("E", frameLimit(testLimits)+1) + "\n" + strings.Repeat("more\n", 100_000)
	fd := newStallingDocker(t, process{replies: []reply{{stdout: flood}}}, int64(len(readyLine)+len(flood)))
	s := mustNew(t, fd)
	type answer struct {
		res Result
		err error
	}
	done := make(chan answer, 1)
	go func() {
		res, err := s.Run(context.Background(), testRequest(keyA))
		done <- answer{res, err}
	}()
	// A deadline that only a sandbox waiting on the stalled engine reaches (kill and inspect are
	// bounded by killTimeout each).
	deadline := time.NewTimer(killTimeout / 2)
	defer deadline.Stop()
	var a answer
	select {
	case a = <-done:
	case <-deadline.C:
		t.Fatalf("Run did not end: the sandbox waits on an engine it does not read (calls %q)", fd.callList())
	}
	if a.err != nil || a.res.Outcome != Failed || a.res.Error == nil || a.res.Error.Type != ErrTypeResultTooLarge ||
		!strings.Contains(a.res.Error.Message, "size limits") {
		t.Fatalf("Run = %+v (error %+v), %v; want failed with ResultTooLarge", a.res, a.res.Error, a.err)
	}
	s.removals.Wait()
	if fd.count("kill ctr1") == 0 || fd.count("remove ctr1") != 1 {
		t.Errorf("the flooding container was not killed and removed: %q", fd.callList())
	}
}

package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// box is one running container of one deployment version, its runner in serve mode: requests go
// in as JSON lines, frames come back as JSON lines, over the box's channel (channel.go) or, when
// the runner cannot use one, the attached stdin and stdout. A box serves one run at a time;
// between runs it waits in the pool.
type box struct {
	id  string
	key string
	// mode is how the box's runner serves successive runs (Config.modeOf its first request).
	mode Mode
	att  types.HijackedResponse
	// ch is the box's channel while its runner has not connected (nil: the box has none);
	// conn is where requests go once decided is closed: the channel's connection, the attach's
	// (stdio), or nil when the runner ended before it chose.
	ch         *channel
	conn       net.Conn
	decided    chan struct{}
	decideOnce sync.Once
	frames     chan frameOrErr // every line the runner writes, in order; closed at EOF
	done       chan struct{}   // closed when the box is retired: the reader stops delivering
	exited     <-chan container.WaitResponse
	waitErr    <-chan error
	stderr     *cappedBuffer // the runner's own stderr (its crashes), not the function's
	runs       int
	epoch      uint64    // the pool's epoch when the container's creation began (see pool.forbid)
	ready      bool      // the ready line was read
	readyAt    time.Time // when it was read
	// unconfined: the ready line said the runner cannot keep runs apart (see frame.Unconfined);
	// the box serves one run.
	unconfined bool
	idle       timer // armed while the box is idle in the pool (see PoolPolicy.IdleTTL)
	// stopped is closed when the box's reader returns: nothing reads its container's stream.
	stopped chan struct{}
	// cpu is where the container's CPU time is read, once cpuFound (cpu.go).
	cpu      cpuCounter
	cpuFound bool
}

type frameOrErr struct {
	f   frame
	err error
}

// start creates, attaches and starts a serve-mode container for req. The runner imports the
// function while the caller sends the first request: start does not wait for the ready line. The
// box's epoch is taken before the creation: a Retire of its key while it is created refuses it.
func (s *Sandbox) start(ctx context.Context, req Request) (*box, error) {
	epoch := s.pool.currentEpoch()
	cc, hc := containerConfig(s.cfg, req), hostConfig(s.cfg, req)
	ch := s.channelFor(cc, hc)
	created, err := s.docker.ContainerCreate(ctx, cc, hc, nil, nil, "")
	if err != nil {
		if ch != nil {
			ch.close()
		}
		return nil, fmt.Errorf("create container for %s: %w: %w", req.Key, ErrEngine, err)
	}
	b := &box{id: created.ID, key: req.Key, mode: s.cfg.modeOf(req), epoch: epoch, ch: ch, decided: make(chan struct{}),
		frames: make(chan frameOrErr, 1), done: make(chan struct{}), stopped: make(chan struct{}),
		stderr: &cappedBuffer{limit: runnerStderrLimit}}
	fail := func(what string, err error) (*box, error) {
		if ch != nil {
			ch.close()
		}
		s.remove(b.id)
		return nil, fmt.Errorf("%s %s: %w: %w", what, short(b.id), ErrEngine, err)
	}
	if b.att, err = s.docker.ContainerAttach(ctx, b.id, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true}); err != nil {
		return fail("attach to", err)
	}
	// Wait is registered before start so that no exit can be missed; its context outlives ctx.
	b.exited, b.waitErr = s.docker.ContainerWait(context.WithoutCancel(ctx), b.id, container.WaitConditionNextExit)
	if err := s.docker.ContainerStart(ctx, b.id, container.StartOptions{}); err != nil {
		b.att.Close()
		return fail("start", err)
	}
	limit := frameLimit(req.Limits)
	if ch == nil {
		b.decide(b.att.Conn)
	} else {
		go b.connect(limit)
	}
	go b.read(limit)
	return b, nil
}

// runnerStderrLimit bounds what is kept of the runner's own stderr.
const runnerStderrLimit = 64 << 10

// frameLimit bounds one frame: JSON escaping may expand the capped fields it holds.
func frameLimit(l Limits) int {
	return 8*(2*l.OutputBytes+l.ResultBytes+MaxErrorMessageBytes+MaxTracebackBytes) + 64<<10
}

// read demultiplexes the attach stream and turns stdout into frames until the container ends,
// the box is discarded or the runner breaks the protocol (a line over limit, or one that is
// not a frame: its error is delivered); then it closes b.frames. Whatever the container writes
// after is drained unread until the stream ends (the container exits or discard closes the
// attach), and only then is b.stopped closed: an engine whose output stream is not read
// blocks the container's writes, and then its own kill and inspect of that container, for ever.
func (b *box) read(limit int) {
	defer close(b.stopped)
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, b.stderr, b.att.Reader)
		pw.CloseWithError(err)
	}()
	r := bufio.NewReaderSize(pr, 64<<10)
	if b.ch == nil || b.stdioChosen(r, limit) {
		b.readFrames(r, limit)
		close(b.frames)
		_, _ = io.Copy(io.Discard, r) // ends with the stream: its error is the stream's end
		return
	}
	_, _ = io.Copy(b.stderr, r) // not the protocol: kept with the runner's stderr, for a crash's story
}

// readFrames delivers the frames read from r until the stream ends, the box is retired or the
// runner breaks the protocol.
func (b *box) readFrames(r *bufio.Reader, limit int) {
	for {
		line, err := readLine(r, limit)
		if err != nil {
			if err != io.EOF {
				b.deliver(frameOrErr{err: err})
			}
			return
		}
		if len(line) == 0 {
			continue
		}
		f, err := parseFrame(line)
		if !b.deliver(frameOrErr{f: f, err: err}) || err != nil {
			return
		}
	}
}

// deliver hands a line to the run waiting for it; false once the box is retired (nobody will).
func (b *box) deliver(fe frameOrErr) bool {
	select {
	case b.frames <- fe:
		return true
	case <-b.done:
		return false
	}
}

// alive reports whether the container is still running (an idle one may have died).
func (b *box) alive() bool {
	select {
	case <-b.exited:
		return false
	case <-b.waitErr:
		return false
	default:
		return true
	}
}

// outcome of one exec on a box.
type outcome int

const (
	answered outcome = iota // a frame came back: the box may serve again
	timedOut                // the run outlived its timeout: the box was killed
	broken                  // the runner died or broke the protocol: the box is done
)

// exec sends one request and waits for its frame, the timeout or ctx, handing the live output
// lines that come first to req.Output (see liveOutput). The caller retires the box unless exec
// answered and the frame shows nothing left behind.
func (b *box) exec(ctx context.Context, req Request) (frame, outcome, error) {
	live := newLiveOutput(req)
	in, err := json.Marshal(input{Args: req.Args, Context: req.Context,
		OutputLimit: req.Limits.OutputBytes, ResultLimit: req.Limits.ResultBytes, Live: live != nil})
	if err != nil {
		return frame{}, broken, fmt.Errorf("encode request: %w", err)
	}
	b.runs++
	timer := time.NewTimer(req.Limits.Timeout)
	defer timer.Stop()
	select {
	case <-b.decided:
	case <-timer.C:
		return frame{}, timedOut, nil
	case <-ctx.Done():
		return frame{}, broken, ctx.Err()
	}
	if b.conn == nil {
		return frame{}, broken, nil // the runner ended before it chose its channel
	}
	// A runner that never reads (an import that hangs) must not block the write past the timeout.
	_ = b.conn.SetWriteDeadline(time.Now().Add(req.Limits.Timeout))
	if _, err := b.conn.Write(append(in, '\n')); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return frame{}, timedOut, nil
		}
		return frame{}, broken, nil // the runner is gone; the exit tells why
	}
	for {
		select {
		case fe, ok := <-b.frames:
			switch {
			case !ok || fe.err != nil:
				return frame{}, broken, fe.err
			case fe.f.Ready:
				b.markReady(fe.f)
				continue
			case fe.f.Out != "":
				live.pass(fe.f.Out, fe.f.Data)
				continue
			}
			return fe.f, answered, nil
		case <-timer.C:
			return frame{}, timedOut, nil
		case <-ctx.Done():
			return frame{}, broken, ctx.Err()
		}
	}
}

// awaitReady waits for the runner's ready line (the function imported).
func (b *box) awaitReady(ctx context.Context) error {
	select {
	case fe, ok := <-b.frames:
		if !ok || fe.err != nil || !fe.f.Ready {
			return fmt.Errorf("runner of %s did not become ready: %v (stderr %q)", short(b.id), fe.err, b.stderr.String())
		}
		b.markReady(fe.f)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// markReady records the runner's ready line. Only the first counts: a later "ready" line is a
// run's forgery and changes nothing.
func (b *box) markReady(f frame) {
	if !b.ready {
		b.ready, b.readyAt, b.unconfined = true, time.Now(), f.Unconfined
	}
}

func short(id string) string { return id[:min(12, len(id))] }

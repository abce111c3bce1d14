package sandbox

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
)

// The channel. A warm container's runner speaks the protocol over a unix socket of its own when
// it can, rather than over the attached stdio: attach crosses the engine and the containerd shim
// both ways, about 0.3 ms and their CPU per run, where a socket costs about 0.02 ms. The sandbox
// listens on a socket in a directory made for the container alone, mounted read-only at
// channelMount; the runner connects to it first thing, before the function is imported, so no
// code of the tenant's runs before the one connection is taken, and then the socket file and its
// directory are removed: nothing else can connect. A runner that cannot connect (gVisor keeps
// host sockets out of its sandbox) says so on stdout ({"channel": "stdio"}) and speaks over
// stdio as before; the sandbox then uses the attach.

// channelMount is where a container finds its channel directory; channelSocket names the socket
// (the runner's CHANNEL_PATH is the two together; runners of earlier releases do not look for
// it, and speak over stdio, as the box then does).
const (
	channelMount  = "/run/faaspot"
	channelSocket = "s"
	// channelAcceptWait bounds the wait for the runner's connection: it connects before it
	// imports the function, within the interpreter's start.
	channelAcceptWait = 30 * time.Second
)

// channel is the listening socket of one container, until its runner connects.
type channel struct {
	dir  string
	ln   *net.UnixListener
	once sync.Once
}

// openChannel makes a fresh directory under root holding a listening socket the container's
// user can connect to.
func openChannel(root string) (*channel, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	dir := filepath.Join(root, hex.EncodeToString(b[:]))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("channel directory: %w", err)
	}
	path := filepath.Join(dir, channelSocket)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err == nil {
		ln.SetUnlinkOnClose(true)
		err = os.Chmod(path, 0o666) // the container's user is not ours
	}
	if err != nil {
		if ln != nil {
			_ = ln.Close()
		}
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("channel socket: %w", err)
	}
	return &channel{dir: dir, ln: ln}, nil
}

// mount is the read-only bind of the channel's directory into its container.
func (c *channel) mount() mount.Mount {
	return mount.Mount{Type: mount.TypeBind, Source: c.dir, Target: channelMount, ReadOnly: true}
}

// accept waits up to channelAcceptWait for the runner's connection; the channel is closed after,
// whatever happened: one connection only.
func (c *channel) accept() (*net.UnixConn, error) {
	defer c.close()
	_ = c.ln.SetDeadline(time.Now().Add(channelAcceptWait))
	return c.ln.AcceptUnix()
}

// close stops listening and removes the socket and its directory (the container keeps its empty
// mount). Safe to call more than once.
func (c *channel) close() {
	c.once.Do(func() {
		_ = c.ln.Close()
		_ = os.RemoveAll(c.dir)
	})
}

// channelFor gives a container about to be created a channel, when the sandbox uses them: the
// mount of its directory, where the runner looks for the socket (no environment variable: a
// container's environment holds nothing of faaspot's). Without one (none configured, or its
// socket could not be made) the box speaks over stdio.
func (s *Sandbox) channelFor(cc *container.Config, hc *container.HostConfig) *channel {
	if s.channels == "" {
		return nil
	}
	ch, err := openChannel(s.channels)
	if err != nil {
		s.log.Warn("no channel for a container; it speaks over stdio", "err", err)
		return nil
	}
	hc.Mounts = append(hc.Mounts, ch.mount())
	return ch
}

// decide records how the box's runner speaks: over conn (nil: it ended first). Only the first
// decision counts; it reports whether it was this one.
func (b *box) decide(conn net.Conn) (won bool) {
	b.decideOnce.Do(func() {
		b.conn, won = conn, true
		close(b.decided)
	})
	return won
}

// connect takes the runner's connection to the box's channel and, if the box speaks over it,
// delivers the frames it reads until it ends.
func (b *box) connect(limit int) {
	conn, err := b.ch.accept()
	if err != nil {
		return // the runner speaks stdio, ended, or the box was retired
	}
	if !b.decide(conn) {
		_ = conn.Close()
		return
	}
	b.readFrames(bufio.NewReaderSize(conn, 64<<10), limit)
	close(b.frames)
}

// stdioChosen reads the first line of a channel box's stdout and reports whether the box speaks
// over stdio (the reader then delivers the frames): the runner said so, or is of an earlier
// release (its first line is a frame: it is delivered). A stream that ends first means the
// runner ended before it chose; a box that took its channel's connection first ignores stdout.
func (b *box) stdioChosen(r *bufio.Reader, limit int) bool {
	line, err := readLine(r, limit)
	if err != nil {
		if b.decide(nil) {
			b.ch.close()
			close(b.frames)
		}
		return false
	}
	if !b.decide(b.att.Conn) {
		return false
	}
	b.ch.close()
	if bytes.Equal(bytes.TrimSpace(line), []byte(stdioHello)) {
		return true
	}
	f, err := parseFrame(line)
	if !b.deliver(frameOrErr{f: f, err: err}) || err != nil {
		close(b.frames)
		return false
	}
	return true
}

// stdioHello is the line a runner that cannot use its channel writes first on stdout.
const stdioHello = `{"channel": "stdio"}`

// stop ends the box's protocol: its readers stop delivering, and its attach, its channel and
// the channel's connection close (the runner, reading from either, ends). Call it once.
func (b *box) stop() {
	close(b.done)
	b.att.Close()
	if b.ch != nil {
		b.ch.close()
	}
	select {
	case <-b.decided:
		if b.conn != nil && b.conn != b.att.Conn {
			_ = b.conn.Close()
		}
	default:
	}
}

package sandbox

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func channelSandbox(t *testing.T, fd *fakeDocker) *Sandbox {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Channel = true
	return mustNewConfig(t, fd, cfg)
}

// channelDirOf returns the host directory of a container's channel mount ("" for none).
func channelDirOf(fd *fakeDocker, id string) string {
	c := fd.container(id)
	for _, m := range c.host.Mounts {
		if m.Target == channelMount && m.ReadOnly {
			return m.Source
		}
	}
	return ""
}

// TestChannelSocket: a runner that connects to its channel gets its requests there and answers
// there (nothing on the attach); its socket and directory are gone once it connected, so nothing
// else can connect; the sandbox's directory is removed at Close.
func TestChannelSocket(t *testing.T) {
	fd := newFake(t, process{channel: "socket"})
	s := channelSandbox(t, fd)
	run(t, s, testRequest(keyA))
	if res := run(t, s, testRequest(keyA)); res.ColdStart || string(res.Value) != `{"x": 1}` {
		t.Fatalf("second run over the channel: %+v", res)
	}
	if n := len(fd.requests("ctr1")); n != 2 {
		t.Fatalf("the runner read %d requests on its channel, want 2", n)
	}
	dir := channelDirOf(fd, "ctr1")
	if dir == "" || filepath.Dir(dir) != s.channels {
		t.Fatalf("channel mount source %q, want a directory of %s", dir, s.channels)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the channel directory is still there after the runner connected: %v", err)
	}
	if c, err := net.DialTimeout("unix", filepath.Join(dir, channelSocket), time.Second); err == nil {
		c.Close()
		t.Fatal("a second connection to the channel succeeded")
	}
	root := s.channels
	s.Close()
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("the channels' directory is left after Close: %v", err)
	}
}

// TestChannelFallback: a runner that cannot connect says so and speaks over stdio; one of an
// earlier release ignores the channel and speaks over stdio from its first line; both serve
// warm runs, and their channels are closed.
func TestChannelFallback(t *testing.T) {
	for _, ch := range []string{"stdio", ""} {
		t.Run("channel="+ch, func(t *testing.T) {
			fd := newFake(t, process{channel: ch})
			s := channelSandbox(t, fd)
			run(t, s, testRequest(keyA))
			if res := run(t, s, testRequest(keyA)); res.ColdStart {
				t.Fatal("the second run was cold")
			}
			if n := len(fd.requests("ctr1")); n != 2 {
				t.Fatalf("the runner read %d requests on stdin, want 2", n)
			}
			if _, err := os.Stat(channelDirOf(fd, "ctr1")); !os.IsNotExist(err) {
				t.Errorf("the unused channel's directory is left: %v", err)
			}
		})
	}
}

// TestChannelRunnerDiesFirst: a runner that exits before it chooses a channel fails the run
// (not a hang until the timeout).
func TestChannelRunnerDiesFirst(t *testing.T) {
	fd := newFake(t, process{channel: "socket", early: &reply{stderr: "Traceback: boom\n", exits: true, code: 1}})
	s := channelSandbox(t, fd)
	req := testRequest(keyA)
	req.Limits.Timeout = time.Minute
	start := time.Now()
	res, err := s.Run(context.Background(), req)
	if err != nil || res.Outcome != Failed || time.Since(start) > 10*time.Second {
		t.Fatalf("Run = %+v, %v after %v; want a failure at once", res, err, time.Since(start))
	}
}

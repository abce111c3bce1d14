package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/client"
	"golang.org/x/sys/unix"
)

// secondEngine is a Docker engine of the test's own beside the machine's: a dockerd with its own
// data root, exec root (and so its own containerd) and socket, and no bridge. It runs in a network
// namespace of its own, because a dockerd started with --bridge=none in the host's namespace
// deletes the host's docker0 (it removes the default bridge it does not use), cutting the
// machine's engine off its containers. The namespace has only its loopback; ports of the host's
// loopback the engine must reach (the registry) are forwarded into it (forward).
type secondEngine struct {
	// host is the engine's DOCKER_HOST.
	host string
	cli  *client.Client
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// startSecondEngine starts the engine and waits until it answers; the test's cleanup stops it
// (SIGTERM, as dockerd unmounts its layers on the way out) and removes its data.
func startSecondEngine(t *testing.T) *secondEngine {
	t.Helper()
	for _, bin := range []string{"dockerd", "unshare", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("a second engine needs %s (docker.io, util-linux, iproute2): %v", bin, err)
		}
	}
	info, err := env.docker.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "fs-engine-") // short: unix socket paths are bounded
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "docker.sock")
	dockerd := strings.Join([]string{"dockerd", "--config-file", filepath.Join(dir, "daemon.json"),
		"--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--host", "unix://" + sock, "--pidfile", filepath.Join(dir, "docker.pid"),
		"--bridge", "none", "--iptables=false", "--ip-masq=false", "--ip6tables=false",
		"--storage-driver", info.Driver}, " ")
	cmd := exec.Command("unshare", "--net", "--", "sh", "-c", "ip link set lo up && exec "+dockerd)
	log, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &secondEngine{host: "unix://" + sock, dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = log.Close(); close(e.done) }()
	t.Cleanup(func() { e.stop(t) })
	if e.cli, err = client.NewClientWithOpts(client.WithHost(e.host), client.WithAPIVersionNegotiation()); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := e.cli.Ping(context.Background()); err == nil {
			break
		}
		select {
		case <-e.done:
			t.Fatalf("the second dockerd exited:\n%s", e.log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second dockerd did not answer within 60 s:\n%s", e.log())
		}
	}
	return e
}

// log returns the engine's log.
func (e *secondEngine) log() string {
	b, _ := os.ReadFile(filepath.Join(e.dir, "dockerd.log"))
	return string(b)
}

// stop ends dockerd (SIGTERM, then SIGKILL after 30 s) and removes its directory.
func (e *secondEngine) stop(t *testing.T) {
	if e.cli != nil {
		_ = e.cli.Close()
	}
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(30 * time.Second):
		t.Errorf("the second dockerd did not stop within 30 s of SIGTERM; killed")
		_ = e.cmd.Process.Kill()
		<-e.done
	}
	if err := os.RemoveAll(e.dir); err != nil {
		t.Logf("remove the second engine's data: %v", err)
	}
}

// forward makes the host's 127.0.0.1:port reachable at 127.0.0.1:port inside the engine's
// network namespace, until the test ends: a listener opened in that namespace (by a thread that
// entered it and is then discarded) whose connections are relayed to the host's loopback.
func (e *secondEngine) forward(t *testing.T, port int) {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread stays locked: it leaves the host's namespace, so it must end with this
		// goroutine rather than serve others.
		runtime.LockOSThread()
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", e.cmd.Process.Pid))
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("enter the engine's network namespace: %w", err)}
			return
		}
		ln, err := net.Listen("tcp", addr)
		ch <- result{ln, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("forward %s into the second engine's namespace: %v", addr, r.err)
	}
	t.Cleanup(func() { _ = r.ln.Close() })
	go func() {
		for {
			in, err := r.ln.Accept()
			if err != nil {
				return
			}
			go relay(in, addr)
		}
	}()
}

// relay copies between in and a new connection to the host's addr, both ways, until both end.
func relay(in net.Conn, addr string) {
	defer in.Close()
	out, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	defer out.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(out, in)
		if c, ok := out.(*net.TCPConn); ok {
			_ = c.CloseWrite()
		}
		close(done)
	}()
	_, err = io.Copy(in, out)
	if c, ok := in.(*net.TCPConn); ok && !errors.Is(err, net.ErrClosed) {
		_ = c.CloseWrite()
	}
	<-done
}

// Package redistest starts Debian's redis-server and redis-sentinel as processes of a test, on
// loopback ports: replication, Sentinel failover and Cluster need servers that address each
// other at the addresses clients dial, which containers behind published ports do not give.
// Every process is killed by its PID when the test ends.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Binary returns the path of the named program (redis-server, redis-sentinel, redis-cli). When
// it is missing the test is skipped, or fails when FAASPOT_TEST_REDIS=required (CI installs
// Debian's redis-server and redis-sentinel).
func Binary(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s is not installed (apt-get install redis-server redis-sentinel): %v", name, err)
	if os.Getenv("FAASPOT_TEST_REDIS") == "required" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
	return ""
}

// Server is one redis-server or redis-sentinel process on 127.0.0.1.
type Server struct {
	Port int
	// Addr is "127.0.0.1:Port".
	Addr string
	Dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// FreePort returns a loopback port nothing listens on right now.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// StartServer starts redis-server on a free loopback port with no persistence, in a directory
// of its own, with args appended to its command line (e.g. "--replicaof", "127.0.0.1", "6379"),
// and waits until it answers PING.
func StartServer(tb testing.TB, args ...string) *Server {
	tb.Helper()
	bin := Binary(tb, "redis-server")
	port := FreePort(tb)
	dir := tb.TempDir()
	base := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--protected-mode", "no",
		"--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log")}
	return start(tb, bin, port, dir, append(base, args...))
}

// SentinelConfig is what a sentinel watches.
type SentinelConfig struct {
	Master       string // the master's name in Sentinel, e.g. "fsmaster"
	MasterAddr   string // its first address, host:port on loopback
	Quorum       int
	DownAfter    time.Duration // down-after-milliseconds
	FailoverTime time.Duration // failover-timeout
}

// StartSentinel starts redis-sentinel on a free loopback port watching cfg's master, and waits
// until it answers PING.
func StartSentinel(tb testing.TB, cfg SentinelConfig) *Server {
	tb.Helper()
	bin := Binary(tb, "redis-sentinel")
	port := FreePort(tb)
	dir := tb.TempDir()
	host, mport, err := net.SplitHostPort(cfg.MasterAddr)
	if err != nil {
		tb.Fatal(err)
	}
	conf := strings.Join([]string{
		"port " + strconv.Itoa(port), "bind 127.0.0.1", "protected-mode no", "dir " + dir,
		"logfile " + filepath.Join(dir, "sentinel.log"),
		fmt.Sprintf("sentinel monitor %s %s %s %d", cfg.Master, host, mport, cfg.Quorum),
		fmt.Sprintf("sentinel down-after-milliseconds %s %d", cfg.Master, cfg.DownAfter.Milliseconds()),
		fmt.Sprintf("sentinel failover-timeout %s %d", cfg.Master, cfg.FailoverTime.Milliseconds()),
		fmt.Sprintf("sentinel parallel-syncs %s 2", cfg.Master),
	}, "\n") + "\n"
	path := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	return start(tb, bin, port, dir, []string{path})
}

// start runs bin with args and waits up to 10 s for it to answer on port.
func start(tb testing.TB, bin string, port int, dir string, args []string) *Server {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	s := &Server{Port: port, Addr: "127.0.0.1:" + strconv.Itoa(port), Dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	tb.Cleanup(s.Kill)
	c := s.Client()
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); c.Ping(context.Background()).Err() != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("%s on %s did not answer within 10 s", filepath.Base(bin), s.Addr)
		}
	}
	return s
}

// Client returns a client of this one process.
func (s *Server) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second})
}

// Kill ends the process with SIGKILL (what it did not replicate is lost) and waits for it.
func (s *Server) Kill() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// Running reports whether the process still runs.
func (s *Server) Running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// WaitReplicas waits up to 10 s until n replicas hold a write made on this master: a freshly
// synced replica streams only after its first acknowledgement, up to a second after it shows
// online.
func (s *Server) WaitReplicas(tb testing.TB, n int) {
	tb.Helper()
	c := s.Client()
	defer c.Close()
	ctx := context.Background()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var wait *redis.Cmd
		_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error { // one connection: WAIT covers the SET
			p.Set(ctx, "redistest:probe", "1", time.Minute)
			wait = p.Do(ctx, "WAIT", n, 100)
			return nil
		})
		if got, _ := wait.Int(); got >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d replicas of %s did not hold a write within 10 s", n, s.Addr)
		}
	}
}

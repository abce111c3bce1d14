package store_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// The store's tests run against a real Redis Cluster of three masters on loopback when
// FAASPOT_TEST_REDIS_CLUSTER is set: "required" fails them when the cluster cannot start, any
// other value skips them when redis-server or redis-cli is missing. The cluster is started once
// for the package (Debian's redis-server in cluster mode, 127.0.0.1 only) and its processes are
// killed, by their ids, when the tests end. Every store gets a key prefix of its own, so that
// tests never see each other's keys. Tests that need miniredis itself (its clock, its command
// count, a synctest bubble) skip there, saying why.

const clusterEnv = "FAASPOT_TEST_REDIS_CLUSTER"

// onCluster reports whether the tests run against the Redis Cluster.
func onCluster() bool { return os.Getenv(clusterEnv) != "" }

// splitSteps reports whether the stores take the single-slot steps of a Cluster: on the Cluster,
// and on miniredis when FAASPOT_TEST_SPLIT_STEPS is set (the Cluster's code paths, without one).
func splitSteps() bool { return onCluster() || os.Getenv("FAASPOT_TEST_SPLIT_STEPS") != "" }

// skipOnCluster skips the test on the Redis Cluster, naming why it cannot run there.
func skipOnCluster(tb testing.TB, why string) {
	tb.Helper()
	if onCluster() {
		tb.Skip("skipped on Redis Cluster: " + why)
	}
}

// bubbleReason is why a test in a testing/synctest bubble skips on the Cluster.
const bubbleReason = "it runs in a testing/synctest bubble, which needs miniredis's in-memory pipes (a socket is not durably blocking) and fake clock"

// testCluster is the package's cluster: started once, stopped by TestMain.
var testCluster struct {
	once  sync.Once
	addrs []string
	procs []*exec.Cmd
	dir   string
	err   error
	// prefixes numbers the stores' key prefixes.
	prefixes atomic.Int64
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopCluster()
	os.Exit(code)
}

// clusterClient returns a client of the package's cluster, starting it on first use, and a key
// prefix no other store of the run has; it fails or skips the test as clusterEnv says when the
// cluster cannot start.
func clusterClient(tb testing.TB) (*redis.ClusterClient, string) {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil && os.Getenv(clusterEnv) != "required" {
		tb.Skipf("%s is set but redis-server is not on PATH (apt-get install redis-server redis-tools)", clusterEnv)
	}
	if _, err := exec.LookPath("redis-cli"); err != nil && os.Getenv(clusterEnv) != "required" {
		tb.Skipf("%s is set but redis-cli is not on PATH (apt-get install redis-tools)", clusterEnv)
	}
	testCluster.once.Do(func() { testCluster.err = startCluster() })
	if testCluster.err != nil {
		tb.Fatalf("start the Redis Cluster: %v", testCluster.err)
	}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                    testCluster.addrs,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	tb.Cleanup(func() { _ = rdb.Close() })
	return rdb, fmt.Sprintf("fs%d:", testCluster.prefixes.Add(1))
}

// startCluster starts three redis-server processes in cluster mode on free loopback ports, joins
// them into one cluster with all slots assigned, and waits until every node says so.
func startCluster() error {
	dir, err := os.MkdirTemp("", "faaspot-cluster-")
	if err != nil {
		return err
	}
	testCluster.dir = dir
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	for _, p := range ports {
		port := strconv.Itoa(p)
		cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--protected-mode", "no",
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes-"+port+".conf"),
			"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, port+".log"))
		// Killed with the test binary should it die before TestMain's end (a panic, a timeout).
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start redis-server: %w", err)
		}
		testCluster.procs = append(testCluster.procs, cmd)
		testCluster.addrs = append(testCluster.addrs, "127.0.0.1:"+port)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, addr := range testCluster.addrs {
		if err := waitPing(ctx, addr); err != nil {
			return err
		}
	}
	args := append([]string{"--cluster", "create"}, testCluster.addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("redis-cli --cluster create: %w: %s", err, out)
	}
	for _, addr := range testCluster.addrs {
		if err := waitClusterOK(ctx, addr); err != nil {
			return err
		}
	}
	return nil
}

// freePorts returns n loopback ports free now, each with its cluster bus port (+10000) free too.
func freePorts(n int) ([]int, error) {
	var out []int
	for tries := 0; len(out) < n && tries < 200; tries++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if p+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		if err != nil {
			continue
		}
		_ = bus.Close()
		out = append(out, p)
	}
	if len(out) < n {
		return nil, errors.New("no free loopback ports for the cluster")
	}
	return out, nil
}

// waitPing waits until the Redis at addr answers.
func waitPing(ctx context.Context, addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	defer c.Close()
	for {
		if c.Ping(ctx).Err() == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis-server at %s did not answer", addr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitClusterOK waits until the node at addr reports cluster_state:ok.
func waitClusterOK(ctx context.Context, addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	defer c.Close()
	for {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the node at %s never reported cluster_state:ok: %v %s", addr, err, info)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stopCluster kills the cluster's processes (only those the tests started, by their ids) and
// removes their directory.
func stopCluster() {
	for _, cmd := range testCluster.procs {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	if testCluster.dir != "" {
		_ = os.RemoveAll(testCluster.dir)
	}
}

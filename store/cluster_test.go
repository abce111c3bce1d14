package store_test

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/faaspot/faaspot/internal/redistest"
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
	c     *redistest.Cluster
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

// startCluster starts the package's 3-master cluster (internal/redistest).
func startCluster() error {
	c, err := redistest.StartCluster(3)
	testCluster.c = c
	if err != nil {
		return err
	}
	testCluster.addrs = c.Addrs
	return nil
}

// stopCluster kills the cluster's processes (only those the tests started) and removes their
// directory.
func stopCluster() {
	if testCluster.c != nil {
		testCluster.c.Stop()
	}
}

package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"
	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/internal/redistest"
)

// Fault injection needs what a test cannot do to an in-process daemon: kill it with SIGKILL,
// signal it, or take its Redis away. procNode is a faaspotd process; testRedis a Redis container
// of one test, on a fixed loopback port so that it comes back where it was after a kill.

// procNode is a running faaspotd process.
type procNode struct {
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
	done chan struct{} // closed once the process exited
}

// freePort returns a loopback TCP port free at the time of the call.
func freePort(t *testing.T) int { return redistest.FreePort(t) }

// procEnv is the environment of a faaspotd of the suite on redisURL under prefix, as node id,
// with vars (KEY=VALUE) added last.
func procEnv(t *testing.T, redisURL, prefix, nodeID string, vars ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FAASPOT_") {
			out = append(out, kv)
		}
	}
	env.mu.Lock()
	env.nodes = append(env.nodes, nodeID)
	env.mu.Unlock()
	out = append(out, "FAASPOT_REDIS_URL="+redisURL, "FAASPOT_KEY_PREFIX="+prefix, "FAASPOT_NODE_ID="+nodeID,
		"FAASPOT_ADMIN_TOKEN="+adminToken, "FAASPOT_SECRET_KEY_FILE="+env.keyFile, "FAASPOT_BASE_IMAGE="+env.baseImage,
		"FAASPOT_PIP_INDEX_URL="+env.index.URL+"/simple", "FAASPOT_BUILD_NETWORK=host", "FAASPOT_DATA_DIR="+t.TempDir(),
		"FAASPOT_SYNC_WAIT=30s")
	return append(out, vars...)
}

// startProc starts faaspotd with envv (see procEnv) listening on a free loopback port and waits
// until it answers /healthz. The test's cleanup stops it (SIGTERM, then SIGKILL).
func startProc(t *testing.T, envv []string) *procNode {
	t.Helper()
	port := freePort(t)
	p := &procNode{url: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(buildCommand(t, "faaspotd"))
	p.cmd.Env = append(envv, fmt.Sprintf("FAASPOT_LISTEN=127.0.0.1:%d", port))
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t, syscall.SIGTERM, 60*time.Second)
		if t.Failed() {
			t.Logf("faaspotd log:\n%s", p.logs.String())
		}
	})
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(p.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("faaspotd exited at start:\n%s", p.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("faaspotd did not answer within a minute:\n%s", p.logs.String())
		}
	}
}

// stop sends sig and waits up to wait for the process to exit (then kills it); it reports how
// long the process took to exit.
func (p *procNode) stop(t *testing.T, sig os.Signal, wait time.Duration) time.Duration {
	start := time.Now()
	select {
	case <-p.done:
		return 0
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(wait):
		t.Errorf("faaspotd did not exit within %v of %v; killed", wait, sig)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return time.Since(start)
}

// tenant creates a tenant on the process and returns a client of it.
func (p *procNode) tenant(t *testing.T) (*fsclient.Client, string) {
	t.Helper()
	token, err := fsclient.New(p.url, adminToken).CreateTenant(context.Background(), fmt.Sprintf("t%d", time.Now().UnixNano()%1e9))
	if err != nil {
		t.Fatalf("create tenant: %v", err)
	}
	return fsclient.New(p.url, token), token
}

// testRedis is a Redis container of one test on a fixed loopback port.
type testRedis struct {
	id  string
	url string
	rdb *redis.Client
}

// startRedis starts a Redis of the suite's image with args (after redis-server), published on a
// free loopback port; the test's cleanup removes it.
func startRedis(t *testing.T, args ...string) *testRedis {
	t.Helper()
	ctx := context.Background()
	port := fmt.Sprint(freePort(t))
	image := envOr("FAASPOT_TEST_REDIS_IMAGE", "faaspot/redis:bookworm")
	cfg := &container.Config{Image: image, Labels: map[string]string{"io.faaspot.managed": "true"},
		Cmd:          append([]string{"redis-server", "--protected-mode", "no", "--save", ""}, args...),
		ExposedPorts: nat.PortSet{"6379/tcp": {}}}
	hc := &container.HostConfig{PortBindings: nat.PortMap{"6379/tcp": {{HostIP: "127.0.0.1", HostPort: port}}}}
	created, err := env.docker.ContainerCreate(ctx, cfg, hc, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	r := &testRedis{id: created.ID, url: "redis://127.0.0.1:" + port}
	t.Cleanup(func() {
		_ = r.rdb.Close()
		_ = env.docker.ContainerRemove(context.Background(), r.id, container.RemoveOptions{Force: true})
	})
	r.rdb = redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port})
	r.start(t)
	return r
}

// start starts the container (again) and waits until Redis answers.
func (r *testRedis) start(t *testing.T) {
	t.Helper()
	if err := env.docker.ContainerStart(context.Background(), r.id, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); r.rdb.Ping(context.Background()).Err() != nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Redis did not answer within 30 s")
		}
	}
}

// kill ends Redis with SIGKILL: what it had not written to its append-only file is lost.
func (r *testRedis) kill(t *testing.T) {
	t.Helper()
	if err := env.docker.ContainerKill(context.Background(), r.id, "KILL"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if info, err := env.docker.ContainerInspect(context.Background(), r.id); err == nil && !info.State.Running {
			return
		}
	}
	t.Fatal("Redis still runs after SIGKILL")
}

// waitAll waits up to timeout for every execution of ids to be terminal and returns the records
// and when each was first seen terminal.
func waitAll(t *testing.T, c *fsclient.Client, ids []string, timeout time.Duration) (map[string]faaspot.Execution, map[string]time.Time) {
	t.Helper()
	recs, seen := map[string]faaspot.Execution{}, map[string]time.Time{}
	for deadline := time.Now().Add(timeout); len(recs) < len(ids); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d executions ended within %v", len(recs), len(ids), timeout)
		}
		for _, id := range ids {
			if _, ok := recs[id]; ok {
				continue
			}
			if e, err := c.GetExecution(context.Background(), id); err == nil && e.Terminal() {
				recs[id], seen[id] = e, time.Now()
			}
		}
	}
	return recs, seen
}

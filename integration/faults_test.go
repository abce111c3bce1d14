package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/daemon"
)

// Fault injection: each test kills or starves one component while runs are in flight and asserts
// that every accepted run ends, once recorded, and how soon after the component came back. The
// recovery times are logged (go test -v) for the record.

// sleeper sleeps args["s"] seconds and returns args["i"].
var sleeper = faaspot.DeploymentRequest{Name: "sleeper",
	Code: "import time\ndef main(args, context):\n    time.sleep(float(args.get('s', 0)))\n    return args.get('i')\n"}

// submit queues n async runs of the sleeper sleeping s seconds and returns their ids.
func submit(t *testing.T, c *fsclient.Client, n int, s float64) []string {
	t.Helper()
	return submitFrom(t, c, 0, n, s)
}

// submitFrom is submit of the runs numbered from first (each returns its number).
func submitFrom(t *testing.T, c *fsclient.Client, first, n int, s float64) []string {
	t.Helper()
	var ids []string
	for i := first; i < first+n; i++ {
		id, err := c.Run(context.Background(), sleeper.Name, map[string]any{"s": s, "i": i})
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		ids = append(ids, id)
	}
	return ids
}

// waitRunning waits until at least n of ids are running.
func waitRunning(t *testing.T, c *fsclient.Client, ids []string, n int) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		running, states := 0, []string{}
		for _, id := range ids {
			e, err := c.GetExecution(context.Background(), id)
			if err == nil && e.Status == faaspot.ExecRunning {
				running++
			}
			states = append(states, fmt.Sprintf("%s %v %vms %s", e.Status, err, e.DurationMS, e.Args))
		}
		if running >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d runs running after a minute, want %d: %q", running, len(ids), n, states)
		}
	}
}

// checkAll asserts that every run completed with its own value, and returns when the last ended.
func checkAll(t *testing.T, recs map[string]faaspot.Execution, seen map[string]time.Time, ids []string) (first, last time.Time) {
	t.Helper()
	for i, id := range ids {
		e := recs[id]
		if e.Status != faaspot.ExecCompleted || string(e.Result) != fmt.Sprint(i) {
			t.Errorf("run %d (%s) = %s %s %+v; want completed with %d", i, id, e.Status, e.Result, e.Error, i)
		}
		if first.IsZero() || seen[id].Before(first) {
			first = seen[id]
		}
		if seen[id].After(last) {
			last = seen[id]
		}
	}
	return first, last
}

// TestFaultDaemonKill: an all-in-one daemon killed with SIGKILL while two runs go on and four
// wait, and started again under its node id, takes its own runs back at once: all six end, each
// with its value, within seconds of the restart (it was two minutes before).
func TestFaultDaemonKill(t *testing.T) {
	prefix, nodeID := fmt.Sprintf("itk%d:", time.Now().UnixNano()), "it-"+faaspot.NewID()[:12]
	envv := procEnv(t, env.redisURL, prefix, nodeID, "FAASPOT_WORKERS=2", "FAASPOT_MAX_CONCURRENT_RUNS=2")
	p := startProc(t, envv)
	c, token := p.tenant(t)
	if _, err := c.CreateDeployment(context.Background(), sleeper, true); err != nil {
		t.Fatal(err)
	}
	ids := submit(t, c, 6, 2)
	waitRunning(t, c, ids, 2)
	p.stop(t, syscall.SIGKILL, 10*time.Second)

	restart := time.Now()
	p = startProc(t, envv)
	up := time.Since(restart)
	c = fsclient.New(p.url, token)
	recs, seen := waitAll(t, c, ids, 2*time.Minute)
	first, last := checkAll(t, recs, seen, ids)
	ready := restart.Add(up)
	t.Logf("recovery after kill -9 of the daemon: restart took %v; first run ended %v after it answered, the last (6 runs of 2 s on 2 workers) %v after",
		up.Round(time.Millisecond), first.Sub(ready).Round(time.Millisecond), last.Sub(ready).Round(time.Millisecond))
	if d := last.Sub(ready); d > 30*time.Second {
		t.Errorf("the last run ended %v after the restart; want seconds", d)
	}
}

// TestFaultWorkerKill: in split roles, a worker node killed with SIGKILL while it runs two jobs,
// with a second worker node up: the other node takes the dead node's runs once its heartbeat
// expired, within FAASPOT_RECLAIM_IDLE (4 s here) and one turn of its reclaim loop (a third of
// it), and runs them to the end; the queued runs go to it at once.
func TestFaultWorkerKill(t *testing.T) {
	const reclaimIdle = 4 * time.Second
	prefix := fmt.Sprintf("itw%d:", time.Now().UnixNano())
	api := startNode(t, func(c *daemon.Config) { c.KeyPrefix, c.Role = prefix, daemon.RoleAPI })
	worker := func(nodeID string) *procNode {
		return startProc(t, procEnv(t, env.redisURL, prefix, nodeID,
			"FAASPOT_ROLE=worker", "FAASPOT_WORKERS=2", "FAASPOT_MAX_CONCURRENT_RUNS=4", "FAASPOT_RECLAIM_IDLE="+reclaimIdle.String()))
	}
	dead := "it-" + faaspot.NewID()[:12]
	t.Cleanup(func() { removeContainersOf(t, dead) }) // a node that never starts again leaves its containers
	w1 := worker(dead)
	if _, err := api.c.CreateDeployment(context.Background(), sleeper, true); err != nil {
		t.Fatal(err)
	}
	ids := submit(t, api.c, 2, 3)
	waitRunning(t, api.c, ids, 2) // both on w1, the only worker
	worker("it-" + faaspot.NewID()[:12])
	ids = append(ids, submitFrom(t, api.c, 2, 2, 3)...) // queued: w1 is full, the other takes them
	w1.stop(t, syscall.SIGKILL, 10*time.Second)
	killed := time.Now()
	recs, seen := waitAll(t, api.c, ids, 2*time.Minute)
	_, last := checkAll(t, recs, seen, ids)
	var reclaimed time.Duration
	for _, id := range ids[:2] {
		if recs[id].StartedAt == nil {
			t.Fatalf("run %s ended with no start time", id)
		}
		reclaimed = max(reclaimed, recs[id].StartedAt.Sub(killed))
	}
	t.Logf("kill -9 of a worker node running 2 runs of 3 s (FAASPOT_RECLAIM_IDLE=%v): the other node started them again %v after the kill; the last of 4 runs ended %v after it",
		reclaimIdle, reclaimed.Round(time.Millisecond), last.Sub(killed).Round(time.Millisecond))
	if limit := reclaimIdle + reclaimIdle/3 + 2*time.Second; reclaimed > limit {
		t.Errorf("the dead node's runs started again %v after the kill; want within %v", reclaimed, limit)
	}
}

// TestFaultRedisKill: Redis with an append-only file (fsync always) killed with SIGKILL while
// runs go on, and started again: the runs accepted before the kill all end, and so do runs
// accepted after it came back, within seconds.
func TestFaultRedisKill(t *testing.T) {
	r := startRedis(t, "--appendonly", "yes", "--appendfsync", "always", "--dir", "/tmp")
	n := startNode(t, func(c *daemon.Config) {
		c.RedisURL, c.Workers, c.MaxConcurrentRuns, c.ReclaimIdle = r.url, 2, 2, 4*time.Second
	})
	if _, err := n.c.CreateDeployment(context.Background(), sleeper, true); err != nil { // n.deploy reads the suite's Redis
		t.Fatal(err)
	}
	ids := submit(t, n.c, 4, 2)
	waitRunning(t, n.c, ids, 2)
	r.kill(t)
	time.Sleep(time.Second) // the runs end while Redis is away: their records wait for it
	back := time.Now()
	r.start(t)
	ids = append(ids, submit(t, n.c, 2, 0)...)
	recs, seen := waitAll(t, n.c, ids, 2*time.Minute)
	for i, id := range ids {
		if e := recs[id]; e.Status != faaspot.ExecCompleted || string(e.Result) != fmt.Sprint(i%4) {
			t.Errorf("run %d = %s %s %+v, want completed", i, e.Status, e.Result, e.Error)
		}
	}
	var last time.Time
	for _, at := range seen {
		if at.After(last) {
			last = at
		}
	}
	t.Logf("recovery after kill -9 of Redis (AOF, fsync always): the last of 6 runs ended %v after Redis was back",
		last.Sub(back).Round(time.Millisecond))
	if d := last.Sub(back); d > 30*time.Second {
		t.Errorf("the last run ended %v after Redis came back; want seconds", d)
	}
}

// TestFaultRedisOutOfMemory: when Redis refuses writes for lack of memory, reads keep working
// (authentication does not block on the rate limiter), writes answer 503 saying so, a run in
// flight keeps its outcome until Redis takes it, and everything works again once memory is back.
func TestFaultRedisOutOfMemory(t *testing.T) {
	r := startRedis(t)
	n := startNode(t, func(c *daemon.Config) { c.RedisURL = r.url })
	if _, err := n.c.CreateDeployment(context.Background(), sleeper, true); err != nil {
		t.Fatal(err)
	}
	ids := submit(t, n.c, 1, 2)
	waitRunning(t, n.c, ids, 1)
	ctx := context.Background()
	if err := r.rdb.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if a := n.raw(t, http.MethodGet, "/v1/deployments/sleeper", ""); a.status != http.StatusOK {
		t.Errorf("read under OOM = %d %s, want 200", a.status, a.body)
	}
	if a := n.raw(t, http.MethodGet, "/v1/executions/"+ids[0], ""); a.status != http.StatusOK {
		t.Errorf("read of an execution under OOM = %d %s, want 200", a.status, a.body)
	}
	a := n.raw(t, http.MethodPost, "/v1/deployments/sleeper/rpc/", "")
	if a.status != http.StatusServiceUnavailable || !strings.Contains(string(a.body), "out of memory") {
		t.Errorf("a run under OOM = %d %s, want 503 saying the store is out of memory", a.status, a.body)
	}
	time.Sleep(3 * time.Second) // the run in flight ends: its record waits
	if err := r.rdb.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	ids = append(ids, submit(t, n.c, 1, 0)...)
	recs, seen := waitAll(t, n.c, ids, time.Minute)
	for _, id := range ids {
		if recs[id].Status != faaspot.ExecCompleted {
			t.Errorf("run %s = %+v, want completed", id, recs[id])
		}
	}
	t.Logf("after Redis had memory again, the run of the OOM time was recorded %v later",
		seen[ids[0]].Sub(back).Round(time.Millisecond))
}

// TestFaultGracefulStop: SIGTERM with synchronous runs in flight: the waiting requests are
// answered 202 with their execution id at once, the runs end within FAASPOT_STOP_GRACE and are
// recorded, and the process exits.
func TestFaultGracefulStop(t *testing.T) {
	prefix, nodeID := fmt.Sprintf("its%d:", time.Now().UnixNano()), "it-"+faaspot.NewID()[:12]
	envv := procEnv(t, env.redisURL, prefix, nodeID, "FAASPOT_WORKERS=2", "FAASPOT_STOP_GRACE=20s")
	p := startProc(t, envv)
	c, token := p.tenant(t)
	if _, err := c.CreateDeployment(context.Background(), sleeper, true); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		status int
		id     string
		took   time.Duration
	}
	answers := make(chan answer, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/v1/sync/deployments/sleeper/rpc/?s=3&i=%d", p.url, i), nil)
			req.Header.Set("Authorization", "Token "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answers <- answer{status: -1}
				return
			}
			defer resp.Body.Close()
			answers <- answer{status: resp.StatusCode, id: resp.Header.Get(faaspot.HeaderExecutionID), took: time.Since(start)}
		}()
	}
	time.Sleep(1500 * time.Millisecond) // both runs are under way
	exited := p.stop(t, syscall.SIGTERM, 40*time.Second)
	wg.Wait()
	close(answers)
	var ids []string
	for a := range answers {
		if a.status != http.StatusAccepted && a.status != http.StatusOK {
			t.Errorf("sync run during a graceful stop answered %d, want 202 (or 200)", a.status)
		}
		ids = append(ids, a.id)
	}
	t.Logf("graceful stop with 2 sync runs of 3 s in flight: exited %v after SIGTERM", exited.Round(time.Millisecond))
	if exited > 20*time.Second+5*time.Second {
		t.Errorf("exit took %v, past the stop grace", exited)
	}
	reader := startProc(t, envv) // read the records (the node takes nothing: they ended)
	recs, _ := waitAll(t, fsclient.New(reader.url, token), ids, 30*time.Second)
	for _, id := range ids {
		var v any
		if e := recs[id]; e.Status != faaspot.ExecCompleted || json.Unmarshal(e.Result, &v) != nil {
			t.Errorf("run %s = %+v, want completed during the grace", id, e)
		}
	}
}

// TestFaultContainerKill: a run's container killed by hand (docker kill) fails that run with a
// clear error, recorded once; the next run works.
func TestFaultContainerKill(t *testing.T) {
	n := startNode(t)
	n.deploy(t, sleeper)
	ids := submit(t, n.c, 1, 30)
	waitRunning(t, n.c, ids, 1)
	ctx := context.Background()
	killed := 0
	for _, c := range n.sandboxContainers(t) {
		if err := env.docker.ContainerKill(ctx, c.ID, "KILL"); err == nil {
			killed++
		}
	}
	if killed == 0 {
		t.Fatal("no sandbox container to kill")
	}
	recs, _ := waitAll(t, n.c, ids, time.Minute)
	if e := recs[ids[0]]; e.Status != faaspot.ExecFailed || e.Error == nil || e.Error.Message == "" {
		t.Errorf("the killed run = %s %+v, want failed with an error", e.Status, e.Error)
	} else {
		t.Logf("a run whose container was killed: %s %s: %s", e.Status, e.Error.Type, e.Error.Message)
	}
	if v, _, err := n.c.RunSync(ctx, sleeper.Name, map[string]any{"i": 7}); err != nil || string(v) != "7" {
		t.Errorf("the next run = %s, %v", v, err)
	}
}

// TestIdempotencyKeyRunsOnce: three requests with one Idempotency-Key, async and sync, give one
// execution: the function runs once (one record of the deployment), every answer names it, and
// the sync ones get its value.
func TestIdempotencyKeyRunsOnce(t *testing.T) {
	n := startNode(t)
	n.deploy(t, sleeper)
	send := func(method, path string) (int, string, string) {
		req, _ := http.NewRequest(method, n.url+path, nil)
		req.Header.Set("Authorization", "Token "+n.token)
		req.Header.Set(faaspot.HeaderIdempotencyKey, "order-42")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get(faaspot.HeaderExecutionID), strings.TrimSpace(string(body))
	}
	status, id, _ := send(http.MethodPost, "/v1/deployments/sleeper/rpc/?s=1&i=5")
	if status != http.StatusAccepted || id == "" {
		t.Fatalf("first keyed run = %d %q", status, id)
	}
	for _, path := range []string{"/v1/sync/deployments/sleeper/rpc/?i=6", "/v1/sync/deployments/sleeper/rpc/?i=7"} {
		status, again, body := send(http.MethodPost, path)
		if status != http.StatusOK || again != id || body != `"5"` {
			t.Errorf("repeated keyed run = %d %s %s, want 200 with execution %s's value 5", status, again, body, id)
		}
	}
	list, _, err := n.c.ListExecutions(context.Background(), faaspot.ExecutionQuery{Deployment: "sleeper"})
	if err != nil || len(list) != 1 || list[0].ID != id {
		t.Errorf("executions of the deployment = %+v, %v; want the one keyed execution", list, err)
	}
}

// removeContainersOf removes the sandbox containers of a node killed for good (its next start
// would remove them as orphans).
func removeContainersOf(t *testing.T, nodeID string) {
	ctx := context.Background()
	cs, err := containersOf(ctx, nodeID)
	if err != nil {
		t.Errorf("list the containers of %s: %v", nodeID, err)
		return
	}
	for _, c := range cs {
		if err := env.docker.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil {
			t.Errorf("remove container %s of %s: %v", c.ID, nodeID, err)
		}
	}
}

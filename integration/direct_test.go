package integration

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
)

// directRuns is how many sync runs TestDirectDispatch makes one after another.
const directRuns = 8

// TestDirectDispatch: sync runs that find an idle warm container of their version on the node
// they arrive at are dispatched directly (daemon/direct.go), one after another each time, since
// a run's container is back in the pool before its record is written and its answer sent; each
// leaves one complete execution record and nothing in the run queue. A run that would pass its
// tenant's concurrency cap is queued instead.
func TestDirectDispatch(t *testing.T) {
	n := startNode(t)
	tenant, err := n.admin.CreateTenantRecord(context.Background(), fmt.Sprintf("direct%d", time.Now().UnixNano()%1e9))
	if err != nil {
		t.Fatal(err)
	}
	n.token, n.c = tenant.Token, fsclient.New(n.url, tenant.Token) // a tenant whose quotas the test sets
	d := n.deploy(t, faaspot.DeploymentRequest{Name: "direct",
		Code: "import time\ndef main(args, context):\n    time.sleep(args.get('sleep', 0))\n    return {'i': args.get('i')}\n"})
	ctx := context.Background()
	first := n.runRecord(t, "direct", map[string]any{"i": -1})
	if first.Status != faaspot.ExecCompleted {
		t.Fatalf("first run: %+v", first)
	}
	eventually(t, "one warm container of the version", func() bool { return n.keysOf(t)[keyOf(d)] == 1 })
	direct, queued := dispatchCounts(t, n)

	ids := make([]string, directRuns)
	for i := range directRuns {
		raw, id, err := n.c.RunSync(ctx, "direct", map[string]any{"i": i})
		if err != nil || string(raw) != fmt.Sprintf(`{"i":%d}`, i) {
			t.Fatalf("run %d: %s %v", i, raw, err)
		}
		ids[i] = id
	}
	if d2, q2 := dispatchCounts(t, n); d2-direct != directRuns || q2 != queued {
		t.Errorf("path=\"direct\" grew by %v and path=\"queued\" by %v over %d sync runs, want %d and 0",
			d2-direct, q2-queued, directRuns, directRuns)
	}
	for i, id := range ids {
		e, err := n.c.GetExecution(ctx, id)
		if err != nil || e.Status != faaspot.ExecCompleted || string(e.Result) != fmt.Sprintf(`{"i":%d}`, i) ||
			e.Version != 1 || e.ColdStart || e.StartedAt == nil || e.FinishedAt == nil {
			t.Errorf("record of run %d: %+v %v; want completed with its result, warm, version 1", i, e, err)
		}
	}
	checkRecordsOnce(t, n, append([]string{first.ID}, ids...))
	checkQueueEmpty(t, n, strings.SplitN(keyOf(d), "/", 2)[0])
	checkCapQueued(t, n, tenant.Name)
}

// checkCapQueued: with the tenant's concurrency cap at 1, a sync run made while a slow run
// dispatched directly holds the one slot is queued (path="queued"), whether or not the slow run
// has taken the warm container yet (the store refuses the claim), and ends after it.
func checkCapQueued(t *testing.T, n *node, tenant string) {
	t.Helper()
	ctx := context.Background()
	if _, err := n.admin.SetQuotas(ctx, tenant, faaspot.Quotas{MaxConcurrentRuns: 1}); err != nil {
		t.Fatal(err)
	}
	direct, queued := dispatchCounts(t, n)
	slow := make(chan error, 1)
	go func() {
		raw, _, err := n.c.RunSync(ctx, "direct", map[string]any{"i": "slow", "sleep": 3})
		if err == nil && string(raw) != `{"i":"slow"}` {
			err = fmt.Errorf("answered %s", raw)
		}
		slow <- err
	}()
	eventually(t, "the slow run dispatched directly", func() bool { d, _ := dispatchCounts(t, n); return d == direct+1 })
	raw, id, err := n.c.RunSync(ctx, "direct", map[string]any{"i": "capped"})
	if err != nil || string(raw) != `{"i":"capped"}` {
		t.Fatalf("run at the cap: %s %v", raw, err)
	}
	if d, q := dispatchCounts(t, n); d != direct+1 || q != queued+1 {
		t.Errorf("at the tenant's cap: direct %v → %v, queued %v → %v; want one each", direct, d, queued, q)
	}
	if err := <-slow; err != nil {
		t.Errorf("the slow run: %v", err)
	}
	e, err := n.c.GetExecution(ctx, id)
	if err != nil || e.Status != faaspot.ExecCompleted || e.StartedAt == nil {
		t.Fatalf("the queued run's record: %+v %v", e, err)
	}
	if slowRec := latestOther(t, n, id); slowRec.FinishedAt == nil || e.StartedAt.Before(*slowRec.FinishedAt) {
		t.Errorf("the queued run started at %v, before the slow run ended (%+v): the cap of 1 was passed", e.StartedAt, slowRec)
	}
}

// latestOther returns the newest execution of the deployment "direct" other than id.
func latestOther(t *testing.T, n *node, id string) faaspot.Execution {
	t.Helper()
	recs, _, err := n.c.ListExecutionRecords(context.Background(), faaspot.ExecutionQuery{Deployment: "direct", Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range recs {
		if e.ID != id {
			return e
		}
	}
	t.Fatal("no other execution listed")
	return faaspot.Execution{}
}

// checkRecordsOnce: the deployment's executions are exactly ids, each listed once, each terminal.
func checkRecordsOnce(t *testing.T, n *node, ids []string) {
	t.Helper()
	recs, _, err := n.c.ListExecutionRecords(context.Background(), faaspot.ExecutionQuery{Deployment: "direct", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range recs {
		seen[e.ID]++
		if !e.Terminal() {
			t.Errorf("execution %s listed %s", e.ID, e.Status)
		}
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("execution %s listed %d times, want once", id, seen[id])
		}
	}
	if len(recs) != len(ids) {
		t.Errorf("%d executions listed, want %d", len(recs), len(ids))
	}
}

// checkQueueEmpty: no run waits in the node's queues, and the tenant's run stream holds no entry,
// delivered or not.
func checkQueueEmpty(t *testing.T, n *node, tid string) {
	t.Helper()
	if depth := scrape(t, n, `faaspot_queue_depth{queue="runs"}`); depth != 0 {
		t.Errorf("faaspot_queue_depth{queue=\"runs\"} = %v, want 0", depth)
	}
	opts, err := redis.ParseURL(env.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx, stream := context.Background(), n.prefix+"{q}:runs:"+tid
	if l, err := rdb.XLen(ctx, stream).Result(); err != nil || l != 0 {
		t.Errorf("the tenant's run stream holds %d entries (%v), want none", l, err)
	}
	if p, err := rdb.XPending(ctx, stream, "workers").Result(); err != nil || p.Count != 0 {
		t.Errorf("pending in the tenant's run stream: %+v %v, want none", p, err)
	}
}

// dispatchCounts returns the node's faaspot_sync_dispatch_total for path direct and queued.
func dispatchCounts(t *testing.T, n *node) (direct, queued float64) {
	t.Helper()
	return scrape(t, n, `faaspot_sync_dispatch_total{path="direct"}`), scrape(t, n, `faaspot_sync_dispatch_total{path="queued"}`)
}

// scrape returns the value of one series (name and labels as /metrics writes them) of the node's
// /metrics; it fails t when the series is absent.
func scrape(t *testing.T, n *node, series string) float64 {
	t.Helper()
	a := n.raw(t, http.MethodGet, "/metrics", "", "")
	if a.status != http.StatusOK {
		t.Fatalf("/metrics: %d", a.status)
	}
	for _, line := range strings.Split(string(a.body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("/metrics: %q: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no series %s", series)
	return 0
}

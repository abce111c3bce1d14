package integration

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/daemon"
	"github.com/faaspot/faaspot/internal/redistest"
)

// TestClusterEndToEnd: two nodes (an API node and an all-in-one node) on a real 3-master Redis
// Cluster (redis+cluster://, Debian's redis-server on loopback) serve a tenant end to end: a
// deployment is built, run synchronously and asynchronously through either node, listed, and
// its executions read back; an idempotency key gives one execution.
func TestClusterEndToEnd(t *testing.T) {
	redistest.Binary(t, "redis-server")
	redistest.Binary(t, "redis-cli")
	cl, err := redistest.StartCluster(3)
	t.Cleanup(func() { cl.Stop() })
	if err != nil {
		t.Fatalf("start the Redis Cluster: %v", err)
	}
	a := startNode(t, func(c *daemon.Config) { c.RedisURL = cl.URL() })
	b := startNode(t, func(c *daemon.Config) { c.RedisURL, c.KeyPrefix, c.Role = cl.URL(), a.prefix, daemon.RoleAPI })
	ctx := context.Background()
	ac := fsclient.New(a.url, b.token) // B's tenant, through A
	d, err := b.c.CreateDeployment(ctx, faaspot.DeploymentRequest{Name: "sq",
		Code: "def main(args, context):\n    return int(args['n']) ** 2\n"}, true)
	if err != nil || d.Status != faaspot.StatusReady {
		t.Fatalf("deploy through the API node: %+v, %v", d, err)
	}
	out, id, err := ac.RunSync(ctx, "sq", map[string]any{"n": 7})
	if err != nil || string(out) != "49" {
		t.Fatalf("sync run = %s, %v", out, err)
	}
	var ids []string
	for n := range 5 {
		id, err := b.c.Run(ctx, "sq", map[string]any{"n": n})
		if err != nil {
			t.Fatalf("async run %d: %v", n, err)
		}
		ids = append(ids, id)
	}
	recs, _ := waitAll(t, b.c, ids, time.Minute)
	for n, id := range ids {
		if e := recs[id]; e.Status != faaspot.ExecCompleted || string(e.Result) != strconv.Itoa(n*n) {
			t.Errorf("run %d: %s %s", n, e.Status, e.Result)
		}
	}
	if e, err := b.c.GetExecution(ctx, id); err != nil || e.Status != faaspot.ExecCompleted {
		t.Errorf("the sync run's record through the other node: %+v, %v", e.Status, err)
	}
	list, _, err := ac.ListExecutions(ctx, faaspot.ExecutionQuery{Deployment: "sq"})
	if err != nil || len(list) != 6 {
		t.Errorf("listed %d executions (%v), want 6", len(list), err)
	}
	opts := fsclient.RunOptions{IdempotencyKey: "k1"}
	first, err := ac.RunWith(ctx, "sq", map[string]any{"n": 3}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := b.c.RunWith(ctx, "sq", map[string]any{"n": 3}, opts); err != nil || again != first {
		t.Errorf("one Idempotency-Key gave %s and %s (%v)", first, again, err)
	}
}

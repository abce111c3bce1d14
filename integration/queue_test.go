package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/daemon"
	"github.com/faaspot/faaspot/store"
)

// TestReclaimFromDeadWorker: a run delivered to a worker that died before acknowledging it is
// taken over by another worker and completes. API and worker roles run as separate nodes.
func TestReclaimFromDeadWorker(t *testing.T) {
	builder := startNode(t)
	builder.deploy(t, faaspot.DeploymentRequest{Name: "echo", Code: "def main(args, context):\n    return args\n"})
	_ = builder.d.Close() // no worker is left listening on this prefix

	shared := func(c *daemon.Config) { c.KeyPrefix = builder.prefix }
	apiNode := startNode(t, shared, func(c *daemon.Config) { c.Role = "api" })
	c := fsclient.New(apiNode.url, builder.token)
	ctx := context.Background()
	id, err := c.Run(ctx, "echo", map[string]any{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}

	// A worker takes the job and dies without acknowledging it.
	opts, _ := redis.ParseURL(env.redisURL)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	st, err := store.New(rdb, store.Options{Prefix: builder.prefix, ResultTTL: time.Hour, RunCap: 4, SecretKey: testSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	job, err := st.NextJob(ctx, store.Runs, "dead-worker", 5*time.Second)
	if err != nil || job == nil || job.ID != id {
		t.Fatalf("dead worker did not get the job: %+v %v", job, err)
	}

	startNode(t, shared, func(c *daemon.Config) {
		c.Role, c.Listen, c.ReclaimIdle = "worker", "", 2*time.Second
	})
	e, err := c.WaitExecution(ctx, id, time.Minute)
	if err != nil || e.Status != faaspot.ExecCompleted || !strings.Contains(string(e.Result), `"k"`) {
		t.Fatalf("reclaimed run: %+v %v", e, err)
	}
	if n, err := st.QueueDepth(ctx, store.Runs); err != nil || n != 0 {
		t.Errorf("queue depth after reclaim: %d %v", n, err)
	}
	pending, err := rdb.XPending(ctx, builder.prefix+"{q}:runs:"+job.Tenant, "workers").Result()
	if err != nil || pending.Count != 0 {
		t.Errorf("still pending after the reclaimed run finished: %+v %v", pending, err)
	}
}

// TestMetrics: the collectors the issue names are exported, labelled by route template and status,
// never by a tenant's deployment name.
func TestMetrics(t *testing.T) {
	n := startNode(t)
	n.deploy(t, faaspot.DeploymentRequest{Name: "secretname", Code: "def main(args, context):\n    return 1\n"})
	if _, _, err := n.c.RunSync(context.Background(), "secretname", nil); err != nil {
		t.Fatal(err)
	}
	// The worker counts the execution just after it hands the record to the waiter: wait for it.
	var a answer
	eventually(t, "the execution counted", func() bool {
		a = n.raw(t, http.MethodGet, "/metrics", "", "")
		return a.status == http.StatusOK && strings.Contains(string(a.body), `faaspot_executions_total{status="completed"}`)
	})
	body := string(a.body)
	for _, want := range []string{
		`faaspot_build_duration_seconds_count{result="ready"}`,
		`faaspot_queue_wait_seconds_count{queue="runs"}`,
		`faaspot_run_duration_seconds_count{status="completed"}`,
		`faaspot_sync_latency_seconds_count{status="completed"}`,
		`faaspot_executions_total{status="completed"}`,
		`faaspot_queue_depth{queue="runs"}`,
		`faaspot_container_acquire_seconds_count{mode="warm"}`, // pre-warmed on deploy
		`faaspot_cold_starts_total`,
		`route="/v1/sync/deployments/{name}/rpc/"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "secretname") || strings.Contains(body, n.token) {
		t.Error("/metrics carries a tenant-supplied value")
	}
}

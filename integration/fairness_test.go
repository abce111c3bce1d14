package integration

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/daemon"
)

// TestFairness: while one tenant floods the queue with slow runs, another tenant's run starts at
// once: it waits for a turn of the round-robin, not for the flood's backlog.
func TestFairness(t *testing.T) {
	n := startNode(t, func(c *daemon.Config) { c.Workers = 4 }) // a tenant runs at most 2 at once
	ctx := context.Background()
	quiet := &node{url: n.url, token: mustToken(t, n), prefix: n.prefix}
	quiet.c = fsclient.New(n.url, quiet.token)
	n.deploy(t, faaspot.DeploymentRequest{Name: "slow", Code: "import time\ndef main(args, context):\n    time.sleep(3)\n    return 'slow'\n"})
	quiet.deploy(t, faaspot.DeploymentRequest{Name: "quick", Code: "def main(args, context):\n    return 'quick'\n"})

	const flood = 16 // 16 runs of 3 s: 12 s of backlog even on all 4 workers
	var ids []string
	for range flood {
		id, err := n.c.Run(ctx, "slow", nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	time.Sleep(500 * time.Millisecond) // the flood is running
	start := time.Now()
	v, _, err := quiet.c.RunSync(ctx, "quick", nil)
	waited := time.Since(start)
	if err != nil || string(v) != `"quick"` {
		t.Fatalf("quiet tenant's run: %s %v", v, err)
	}
	t.Logf("quiet tenant's sync run during a flood of %d×3 s runs: %v", flood, waited.Round(time.Millisecond))
	if waited > 5*time.Second {
		t.Errorf("the quiet tenant waited %v behind another tenant's flood", waited)
	}
	// The flood tenant never runs more than its share at once.
	running := 0
	for _, id := range ids {
		if e, err := n.c.GetExecution(ctx, id); err == nil && e.Status == "running" {
			running++
		}
	}
	if running > 2 {
		t.Errorf("the flood tenant runs %d at once, want at most 2 (half of 4 workers)", running)
	}
	// The rest of the flood is left queued: closing the node lets the runs in flight finish.
}

// TestQuotas: queued runs, deployments and request rate answer 429 with Retry-After past the
// tenant's quota, set per tenant by the operator.
func TestQuotas(t *testing.T) {
	n := startNode(t, func(c *daemon.Config) { c.Workers = 2 })
	ctx := context.Background()
	tenant := fmt.Sprintf("quota%d", time.Now().UnixNano()%1e6)
	token, err := n.admin.CreateTenant(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	q := &node{url: n.url, token: token, c: fsclient.New(n.url, token), prefix: n.prefix}
	q.deploy(t, faaspot.DeploymentRequest{Name: "slow", Code: "import time\ndef main(args, context):\n    time.sleep(3)\n    return 1\n"})
	if a := n.raw(t, "PUT", "/v1/tenants/"+tenant+"/quotas", `{"max_concurrent_runs": 1, "max_queued_runs": 2, "max_deployments": 1, "requests_per_second": 5}`, adminToken); a.status != 200 {
		t.Fatalf("set quotas: %d %s", a.status, a.body)
	}
	// One runs, two wait, the next is refused.
	var statuses []int
	for range 4 {
		statuses = append(statuses, q.raw(t, "POST", "/v1/deployments/slow/rpc/", "").status)
		time.Sleep(300 * time.Millisecond)
	}
	if statuses[3] != http.StatusTooManyRequests {
		t.Errorf("queued-runs quota: statuses %v, want the fourth refused", statuses)
	}
	a := q.raw(t, "POST", "/v1/deployments", mustJSON(map[string]string{"name": "second", "code": "def main(a, c): pass"}))
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" || a.errorField(t, "code") != "quota_exceeded" {
		t.Errorf("deployments quota: %d %s", a.status, a.body)
	}
	// The request rate is counted in Redis: an API node sharing the store draws from the same
	// bucket (5/s, a burst of 10), so 30 requests spread over both nodes get about 10 through.
	second := startNode(t, func(c *daemon.Config) { c.KeyPrefix, c.Role = n.prefix, "api" })
	time.Sleep(2 * time.Second) // the bucket fills up again: two seconds' worth
	allowed := 0
	for i := range 30 {
		via := []*node{q, {url: second.url, token: token}}[i%2]
		r := via.raw(t, "GET", "/v1/deployments", "", token)
		switch r.status {
		case http.StatusOK:
			allowed++
		case http.StatusTooManyRequests:
			if r.header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		default:
			t.Errorf("request %d: %d %s", i, r.status, r.body)
		}
	}
	if allowed < 10 || allowed > 14 {
		t.Errorf("%d of 30 requests over two API nodes allowed at 5 requests/s, want about the one burst of 10 (a bucket per node would let 20 through)", allowed)
	}
	// Another tenant is not limited by this one's quotas.
	if _, err := n.c.ListDeployments(ctx); err != nil {
		t.Errorf("another tenant: %v", err)
	}
}

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/daemon"
)

// TestBuildsFairAcrossTenants: while one tenant's builds queue up on the node's one build
// worker, another tenant's build is the next one built, not the last; and a tenant with the
// store's maximum of builds waiting (20) is refused another create with 429.
func TestBuildsFairAcrossTenants(t *testing.T) {
	n := startNode(t, func(c *daemon.Config) { c.BuildWorkers = 1 })
	ctx := context.Background()
	quiet := &node{url: n.url, token: mustToken(t, n), prefix: n.prefix}
	quiet.c = fsclient.New(n.url, quiet.token)

	const backlog = 3
	for i := range backlog {
		req := faaspot.DeploymentRequest{Name: fmt.Sprintf("b%d", i), Code: fmt.Sprintf("def main(args, context):\n    return %d\n", i)}
		if _, err := n.c.CreateDeployment(ctx, req, false); err != nil {
			t.Fatal(err)
		}
	}
	quiet.deploy(t, faaspot.DeploymentRequest{Name: "quick", Code: "def main(args, context):\n    return 'quick'\n"})
	ready := 0
	for i := range backlog {
		if d, err := n.c.GetDeployment(ctx, fmt.Sprintf("b%d", i)); err == nil && d.Status != faaspot.StatusBuilding {
			ready++
		}
	}
	t.Logf("when the quiet tenant's build was ready, %d of the other tenant's %d were built", ready, backlog)
	if ready > 2 {
		t.Errorf("the quiet tenant's build waited for %d builds of another tenant", ready)
	}

	// The queued builds quota: versions of one deployment, sent faster than one worker builds.
	statuses := map[int]int{}
	for i := range 25 {
		a := n.raw(t, http.MethodPost, "/v1/deployments", mustJSON(map[string]string{"name": "flood",
			"code": fmt.Sprintf("def main(args, context):\n    return %d\n", i)}))
		statuses[a.status]++
		if a.status == http.StatusTooManyRequests && (a.header.Get("Retry-After") == "" || a.errorField(t, "code") != "quota_exceeded") {
			t.Errorf("429 without Retry-After or quota_exceeded: %s", a.body)
		}
	}
	if statuses[http.StatusTooManyRequests] == 0 || statuses[http.StatusAccepted] > 22 {
		t.Errorf("25 creates answered %v, want at most 20 waiting (+ 1 or 2 started) and the rest 429", statuses)
	}
	if err := n.c.DeleteDeployment(ctx, "flood"); err != nil { // its queued builds end at once
		t.Fatal(err)
	}
}

// TestExecutionsPaged: the execution list is paged with a cursor and lists summaries, without
// arguments, results or output, through the HTTP API and the Go client.
func TestExecutionsPaged(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	n.deploy(t, faaspot.DeploymentRequest{Name: "echo", Code: "def main(args, context):\n    print('out')\n    return args\n"})
	var ids []string
	for i := range 3 {
		_, id, err := n.c.RunSync(ctx, "echo", map[string]any{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		ids = append([]string{id}, ids...)
	}
	a := n.raw(t, http.MethodGet, "/v1/executions?limit=2", "")
	var items []map[string]any
	if err := json.Unmarshal(a.body, &items); err != nil || a.status != http.StatusOK || len(items) != 2 {
		t.Fatalf("first page: %d %s", a.status, a.body)
	}
	for _, it := range items {
		for _, field := range []string{"args", "result", "stdout", "stderr"} {
			if _, ok := it[field]; ok {
				t.Errorf("a listed summary carries %s: %v", field, it)
			}
		}
	}
	next := a.header.Get(faaspot.HeaderNextCursor)
	if next == "" || a.header.Get("Link") == "" {
		t.Fatalf("first page without a next cursor: %v", a.header)
	}
	last := n.raw(t, http.MethodGet, "/v1/executions?limit=2&cursor="+url.QueryEscape(next), "")
	if last.status != http.StatusOK || last.header.Get(faaspot.HeaderNextCursor) != "" {
		t.Errorf("last page: %d %v %s", last.status, last.header, last.body)
	}
	// The Go client follows the same cursors.
	var got []string
	q := faaspot.ExecutionQuery{Deployment: "echo", Limit: 2}
	for range 3 {
		page, cursor, err := n.c.ListExecutions(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			if e.Status != faaspot.ExecCompleted {
				t.Errorf("listed %+v, want completed", e)
			}
			got = append(got, e.ID)
		}
		if q.Cursor = cursor; cursor == "" {
			break
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Errorf("client pages listed %v, want %v", got, ids)
	}
	full, _, err := n.c.ListExecutionRecords(ctx, faaspot.ExecutionQuery{Limit: 1})
	if err != nil || len(full) != 1 || full[0].ID != ids[0] || full[0].Stdout != "out\n" {
		t.Errorf("full view = %+v, %v", full, err)
	}
}

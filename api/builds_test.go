package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faaspot/faaspot/api"
	"github.com/faaspot/faaspot/metrics"
)

// buildWaitHook is the store's DeploymentStore with WaitBuilt observed: each call sends its
// deployment name on waits once it has begun, then blocks until its context ends.
type buildWaitHook struct {
	api.DeploymentStore
	waits chan string
}

func (h *buildWaitHook) WaitBuilt(ctx context.Context, tid, name string, version int, timeout time.Duration) (bool, error) {
	h.waits <- name
	<-ctx.Done()
	return false, ctx.Err()
}

// TestBuildWaitersCapped: past a tenant's cap of creates waiting for their build, a create with
// ?wait=true answers 202 at once instead of holding another connection; a freed slot is reused.
func TestBuildWaitersCapped(t *testing.T) {
	env := newEnv(t, func(c *api.Config) { c.BuildWait = time.Hour; c.MaxBuildWaiters = 1 })
	hook := &buildWaitHook{DeploymentStore: env.store, waits: make(chan string, 4)}
	reg := prometheus.NewRegistry()
	deps := storeDeps(env.store, nil, nil)
	deps.Deployments = hook
	env.h = api.New(env.cfg, deps, metrics.New(reg), reg, slog.New(slog.NewTextHandler(io.Discard, nil))).Handler()

	waitingCreate := func(name string) (context.CancelFunc, <-chan *httptest.ResponseRecorder) {
		ctx, cancel := context.WithCancel(context.Background())
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/deployments?wait=true", strings.NewReader(deploymentBody(name)))
		req.Header.Set("Authorization", "Token "+env.token)
		out := make(chan *httptest.ResponseRecorder, 1)
		go func() {
			rec := httptest.NewRecorder()
			env.h.ServeHTTP(rec, req)
			out <- rec
		}()
		return cancel, out
	}
	nextWait := func() string {
		select {
		case name := <-hook.waits:
			return name
		case <-time.After(10 * time.Second): // a hang guard, not a timing assumption
			t.Fatal("no create began to wait for its build")
			return ""
		}
	}

	cancel, first := waitingCreate("first")
	if got := nextWait(); got != "first" {
		t.Fatalf("waiting create = %q", got)
	}
	stop, second := waitingCreate("second")
	select {
	case rec := <-second:
		var d deployment
		expect(t, rec, http.StatusAccepted, &d)
		if d.Name != "second" || d.Status != "building" {
			t.Errorf("create over the cap answered %+v", d)
		}
	case name := <-hook.waits:
		t.Errorf("the create over the cap waited for its build (%s)", name)
		stop()
		<-second
	}
	stop()
	cancel()
	<-first
	cancel, third := waitingCreate("third")
	defer func() { cancel(); <-third }()
	if got := nextWait(); got != "third" {
		t.Errorf("after the first waiter left, waiting create = %q, want third", got)
	}
}

// TestQueuedBuildsQuota: a tenant with the store's maximum of builds waiting to start (20 by
// default) is refused another create with 429, quota_exceeded and Retry-After.
func TestQueuedBuildsQuota(t *testing.T) {
	env := newEnv(t, nil)
	body := func(i int) string {
		return jsonBody(map[string]any{"name": "fn", "code": fmt.Sprintf("def main(args, context):\n    return %d\n", i)})
	}
	for i := range 20 {
		expect(t, env.do(http.MethodPost, "/v1/deployments", env.token, body(i)), http.StatusAccepted, nil)
	}
	rec := env.do(http.MethodPost, "/v1/deployments", env.token, body(20))
	e := expectError(t, rec, http.StatusTooManyRequests, "quota_exceeded", "")
	if rec.Header().Get("Retry-After") == "" || !strings.Contains(e.Error.Message, "queued builds") {
		t.Errorf("over the queued builds quota: %s (Retry-After %q)", rec.Body, rec.Header().Get("Retry-After"))
	}
	// Another tenant is not limited by this one's queue.
	_, other := env.newTenant("other")
	expect(t, env.do(http.MethodPost, "/v1/deployments", other, body(0)), http.StatusAccepted, nil)
}

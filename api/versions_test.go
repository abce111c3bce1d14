package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// queuedBuilds is how many build jobs wait in the env tenant's build stream.
func (e *apiEnv) queuedBuilds() int {
	e.t.Helper()
	n, err := e.store.QueueDepth(context.Background(), store.Builds)
	if err != nil {
		e.t.Fatal(err)
	}
	return int(n)
}

// TestIdenticalRedeploy: a create identical to the newest version answers 200 with the
// deployment as it is and queues no build, on both create routes, with and without ?wait.
func TestIdenticalRedeploy(t *testing.T) {
	env := newEnv(t, nil)
	first := env.readyDeployment("fn")
	for _, req := range []struct{ method, path string }{
		{http.MethodPost, "/v1/deployments"},
		{http.MethodPut, "/api/deployments/"},
		{http.MethodPost, "/v1/deployments?wait=true"},
	} {
		var d deployment
		expect(t, env.do(req.method, req.path, env.token, deploymentBody("fn")), http.StatusOK, &d)
		if d.Version != 1 || d.ID != first.ID || d.Status != faaspot.StatusReady || d.ReadyVersion != 1 {
			t.Errorf("%s %s identical = %+v, want version 1 ready", req.method, req.path, d)
		}
	}
	if n := env.queuedBuilds(); n != 0 {
		t.Errorf("%d builds queued by identical redeploys", n)
	}

	// A change makes version 2; the same change again, while it builds, answers it as it is.
	changed := jsonBody(map[string]any{"name": "fn", "code": validCode + "# v2\n"})
	if d := env.createDeployment(env.token, changed); d.Version != 2 {
		t.Fatalf("changed code = version %d, want 2", d.Version)
	}
	var d deployment
	expect(t, env.do(http.MethodPost, "/v1/deployments", env.token, changed), http.StatusOK, &d)
	if d.Version != 2 || d.Status != faaspot.StatusBuilding || d.ReadyVersion != 1 {
		t.Errorf("identical to the building version = %+v, want version 2 building", d)
	}
	if n := env.queuedBuilds(); n != 1 {
		t.Errorf("%d builds queued, want version 2's only", n)
	}
}

// TestRedeployAfterFailure: redeploying a version that failed to build builds it again.
func TestRedeployAfterFailure(t *testing.T) {
	env := newEnv(t, nil)
	env.createDeployment(env.token, deploymentBody("fn"))
	env.finishBuild(store.BuildOutcome{Error: "engine unavailable"})
	if d := env.createDeployment(env.token, deploymentBody("fn")); d.Version != 2 || d.Status != faaspot.StatusBuilding {
		t.Errorf("retry = %+v, want version 2 building", d)
	}
}

func TestListVersions(t *testing.T) {
	env := newEnv(t, nil)
	secret := jsonBody(map[string]any{"name": "fn", "code": validCode, "context": map[string]any{"api_key": "s3cr3t-value"}})
	env.createDeployment(env.token, secret)
	env.finishBuild(store.BuildOutcome{Image: "faaspot/t-x/d-tag:1"})
	env.createDeployment(env.token, deploymentBody("fn"))
	env.finishBuild(store.BuildOutcome{Error: "no main"})

	rec := env.do(http.MethodGet, "/v1/deployments/fn/versions", env.token, "")
	if body := rec.Body.String(); strings.Contains(body, "s3cr3t-value") || strings.Contains(body, "faaspot/t-x") ||
		strings.Contains(body, `"image"`) {
		t.Errorf("versions serve a secret or the image: %s", body)
	}
	var vs []faaspot.VersionInfo
	expect(t, rec, http.StatusOK, &vs)
	if len(vs) != 2 {
		t.Fatalf("versions = %+v, want 2", vs)
	}
	if v := vs[0]; v.Version != 2 || v.Status != faaspot.StatusFailed || v.Error != "no main" || v.Ready || v.FinishedAt == nil {
		t.Errorf("newest = %+v, want version 2 failed", v)
	}
	if v := vs[1]; v.Version != 1 || v.Status != faaspot.StatusReady || !v.Ready || len(v.ContextKeys) != 1 ||
		v.ContextKeys[0] != "api_key" || v.Limits != env.cfg.DefaultLimits || v.CreatedAt.After(time.Now()) {
		t.Errorf("oldest = %+v, want version 1 ready with its context key", v)
	}

	expectError(t, env.do(http.MethodGet, "/v1/deployments/nope/versions", env.token, ""), http.StatusNotFound, "not_found", "")
	_, other := env.newTenant("other")
	expectError(t, env.do(http.MethodGet, "/v1/deployments/fn/versions", other, ""), http.StatusNotFound, "not_found", "")
	expectError(t, env.do(http.MethodGet, "/v1/deployments/fn/versions", "", ""), http.StatusUnauthorized, "", "")
}

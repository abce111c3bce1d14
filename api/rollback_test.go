package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// twoVersions deploys fn twice, both built, and a third version that fails: v2 is the ready one.
func twoVersions(env *apiEnv) {
	env.t.Helper()
	for i, code := range []string{validCode, validCode + "# v2\n", validCode + "# v3\n"} {
		env.createDeployment(env.token, jsonBody(map[string]any{"name": "fn", "code": code}))
		out := store.BuildOutcome{Image: "faaspot/t-x/d-fn:" + string(rune('1'+i))}
		if i == 2 {
			out = store.BuildOutcome{Error: "no main"}
		}
		env.finishBuild(out)
	}
}

func TestRollback(t *testing.T) {
	env := newEnv(t, nil)
	twoVersions(env)
	rec := env.do(http.MethodPost, "/v1/deployments/fn/rollback", env.token, `{"version": 1}`)
	if strings.Contains(rec.Body.String(), "faaspot/t-x") {
		t.Errorf("the rollback's answer serves the image: %s", rec.Body)
	}
	var d deployment
	expect(t, rec, http.StatusOK, &d)
	if d.ReadyVersion != 1 || d.Version != 3 || d.Status != faaspot.StatusFailed {
		t.Errorf("rollback to 1 = %+v, want ready version 1 of 3", d)
	}
	expect(t, env.do(http.MethodGet, "/v1/deployments/fn", env.token, ""), http.StatusOK, &d)
	if d.ReadyVersion != 1 {
		t.Errorf("deployment after the rollback = %+v", d)
	}

	_, other := env.newTenant("other")
	for _, tc := range []struct {
		name, path, token, body string
		status                  int
		code, field             string
	}{
		{"no version", "/v1/deployments/fn/rollback", env.token, `{}`, http.StatusBadRequest, "invalid_argument", "version"},
		{"zero", "/v1/deployments/fn/rollback", env.token, `{"version": 0}`, http.StatusBadRequest, "invalid_argument", "version"},
		{"a string", "/v1/deployments/fn/rollback", env.token, `{"version": "1"}`, http.StatusBadRequest, "invalid_argument", "version"},
		{"unknown field", "/v1/deployments/fn/rollback", env.token, `{"to": 1}`, http.StatusBadRequest, "invalid_argument", "to"},
		{"version not kept", "/v1/deployments/fn/rollback", env.token, `{"version": 9}`, http.StatusNotFound, "not_found", "version"},
		{"failed version", "/v1/deployments/fn/rollback", env.token, `{"version": 3}`, http.StatusConflict, "not_ready", "version"},
		{"unknown deployment", "/v1/deployments/nope/rollback", env.token, `{"version": 1}`, http.StatusNotFound, "not_found", ""},
		{"another tenant's", "/v1/deployments/fn/rollback", other, `{"version": 1}`, http.StatusNotFound, "not_found", ""},
		{"no token", "/v1/deployments/fn/rollback", "", `{"version": 1}`, http.StatusUnauthorized, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := expectError(t, env.do(http.MethodPost, tc.path, tc.token, tc.body), tc.status, tc.code, tc.field)
			if tc.status == http.StatusConflict && !strings.Contains(e.Error.Message, "version 3 of deployment \"fn\" failed to build") {
				t.Errorf("409 message = %q", e.Error.Message)
			}
		})
	}
	expect(t, env.do(http.MethodGet, "/v1/deployments/fn", env.token, ""), http.StatusOK, &d)
	if d.ReadyVersion != 1 {
		t.Errorf("refused rollbacks changed the deployment: %+v", d)
	}
}

// TestPinnedRun: a run on …/versions/{n}/rpc/ is queued pinned to n, on the async and the sync
// route; a version that is not a positive integer, not kept or unable to run is refused.
func TestPinnedRun(t *testing.T) {
	env := newEnv(t, nil)
	twoVersions(env)
	// A worker answers with the version it was asked to run.
	worker := env.runWorker(func(e *faaspot.Execution) {
		e.Status, e.Result = faaspot.ExecCompleted, json.RawMessage(fmt.Sprintf(`"v%d pinned %v"`, e.Version, e.Pinned))
	})
	sync := env.do(http.MethodPut, "/v1/sync/deployments/fn/versions/1/rpc/", env.token, `{"a": 1}`)
	if sync.Code != http.StatusOK || strings.TrimSpace(sync.Body.String()) != `"v1 pinned true"` || sync.Header().Get(faaspot.HeaderExecutionID) == "" {
		t.Errorf("sync pinned run = %d %s", sync.Code, sync.Body)
	}
	if err := <-worker; err != nil {
		t.Fatal(err)
	}

	rec := env.do(http.MethodPost, "/v1/deployments/fn/versions/1/rpc/?x=1", env.token, "")
	var id string
	expect(t, rec, http.StatusAccepted, &id)
	var e faaspot.Execution
	expect(t, env.do(http.MethodGet, "/v1/executions/"+id, env.token, ""), http.StatusOK, &e)
	if e.Version != 1 || !e.Pinned || e.Status != faaspot.ExecQueued || string(e.Args) != `{"x":"1"}` {
		t.Errorf("pinned run record = %+v", e)
	}
	// The unpinned record says nothing of pinning.
	expect(t, env.do(http.MethodPost, "/v1/deployments/fn/rpc", env.token, ""), http.StatusAccepted, &id)
	raw := env.do(http.MethodGet, "/v1/executions/"+id, env.token, "").Body.Bytes()
	if err := json.Unmarshal(raw, &e); err != nil || e.Version != 2 || strings.Contains(string(raw), "pinned") {
		t.Errorf("unpinned run record = %s, %v", raw, err)
	}

	for _, tc := range []struct {
		name, path  string
		status      int
		code, field string
	}{
		{"not a number", "/v1/deployments/fn/versions/one/rpc/", http.StatusBadRequest, "invalid_argument", "version"},
		{"zero", "/v1/sync/deployments/fn/versions/0/rpc/", http.StatusBadRequest, "invalid_argument", "version"},
		{"not kept", "/v1/deployments/fn/versions/9/rpc/", http.StatusNotFound, "not_found", "version"},
		{"failed to build", "/v1/sync/deployments/fn/versions/3/rpc", http.StatusConflict, "not_ready", "version"},
		{"unknown deployment", "/v1/deployments/nope/versions/1/rpc/", http.StatusNotFound, "not_found", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectError(t, env.do(http.MethodPost, tc.path, env.token, ""), tc.status, tc.code, tc.field)
		})
	}
}

package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// TestRetryPolicyValidated: a deployment's retry policy is checked against the operator's cap and
// shown on the deployment and its version.
func TestRetryPolicyValidated(t *testing.T) {
	env := newEnv(t, nil)
	body := func(retry string) string {
		return `{"name": "fn", "code": ` + mustQuote(validCode) + `, "retry": ` + retry + `}`
	}
	for _, tc := range []struct{ retry, field string }{
		{`{"max_attempts": 0, "backoff_s": 1}`, "retry.max_attempts"},
		{`{"max_attempts": 6, "backoff_s": 1}`, "retry.max_attempts"},
		{`{"max_attempts": 3, "backoff_s": -1}`, "retry.backoff_s"},
		{`{"max_attempts": 3, "backoff_s": 3601}`, "retry.backoff_s"},
		{`{"max_attempts": "3"}`, "retry.max_attempts"},
	} {
		expectError(t, env.do(http.MethodPost, "/v1/deployments", env.token, body(tc.retry)), http.StatusBadRequest, "invalid_argument", tc.field)
	}
	var d faaspot.Deployment
	expect(t, env.do(http.MethodPost, "/v1/deployments", env.token, body(`{"max_attempts": 3, "backoff_s": 0.5}`)), http.StatusAccepted, &d)
	if d.Retry == nil || d.Retry.MaxAttempts != 3 || d.Retry.BackoffS != 0.5 {
		t.Errorf("deployment retry = %+v", d.Retry)
	}
}

func mustQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestDeadLettersAndRetry: a run that failed its last attempt is listed; retrying it queues a new
// execution of the current version with the same arguments and takes it off the list; only a
// failed or timed-out execution can be retried.
func TestDeadLettersAndRetry(t *testing.T) {
	env := newEnv(t, nil)
	env.readyDeployment("fn")
	var id string
	expect(t, env.do(http.MethodPost, "/v1/deployments/fn/rpc/?x=1", env.token, ""), http.StatusAccepted, &id)
	job, err := env.store.NextJob(t.Context(), store.Runs, "w", 100*time.Millisecond)
	if err != nil || job == nil {
		t.Fatalf("NextJob = %v, %v", job, err)
	}
	e, _ := env.store.GetExecution(t.Context(), job.Tenant, id)
	e.Status, e.Attempts, e.Error = faaspot.ExecFailed, 3, &faaspot.ExecError{Type: "ValueError", Message: "bad"}
	if err := env.store.FinishDead(t.Context(), *job, e); err != nil {
		t.Fatal(err)
	}
	var dead []faaspot.ExecutionSummary
	expect(t, env.do(http.MethodGet, "/v1/dead-letters", env.token, ""), http.StatusOK, &dead)
	if len(dead) != 1 || dead[0].ID != id {
		t.Fatalf("dead letters = %+v", dead)
	}
	var again string
	rec := env.do(http.MethodPost, "/v1/executions/"+id+"/retry", env.token, "")
	expect(t, rec, http.StatusAccepted, &again)
	var ne faaspot.Execution
	expect(t, env.do(http.MethodGet, "/v1/executions/"+again, env.token, ""), http.StatusOK, &ne)
	if again == id || ne.Status != faaspot.ExecQueued || string(ne.Args) != `{"x":"1"}` || ne.Version != 1 {
		t.Errorf("the retry = %+v, want a new queued run with the same arguments", ne)
	}
	expect(t, env.do(http.MethodGet, "/v1/dead-letters", env.token, ""), http.StatusOK, &dead)
	if len(dead) != 0 {
		t.Errorf("dead letters after the retry = %+v", dead)
	}
	e409 := expectError(t, env.do(http.MethodPost, "/v1/executions/"+again+"/retry", env.token, ""), http.StatusConflict, "not_ready", "")
	if !strings.Contains(e409.Error.Message, "queued") {
		t.Errorf("409 message = %q", e409.Error.Message)
	}
	expectError(t, env.do(http.MethodPost, "/v1/executions/nope/retry", env.token, ""), http.StatusNotFound, "not_found", "")
	expectError(t, env.do(http.MethodGet, "/v1/dead-letters?limit=0", env.token, ""), http.StatusBadRequest, "invalid_argument", "limit")
	_, other := env.newTenant("other")
	expectError(t, env.do(http.MethodPost, "/v1/executions/"+id+"/retry", other, ""), http.StatusNotFound, "not_found", "")
}

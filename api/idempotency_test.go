package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// doKeyed sends a run request with an Idempotency-Key.
func (e *apiEnv) doKeyed(method, path, key string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.doWith(method, path, faaspot.HeaderIdempotencyKey, key)
}

// doWith sends a request of the env's tenant with one more header.
func (e *apiEnv) doWith(method, path, header, value string) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("Authorization", "Token "+e.token)
	req.Header.Set(header, value)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// TestIdempotencyKeyHeader: the same key gives the same execution on the async and the sync
// route, queued once; a sync request for a keyed run that ended answers its value at once; a
// key that is too long or not printable is a 400 naming the header.
func TestIdempotencyKeyHeader(t *testing.T) {
	env := newEnv(t, nil)
	env.readyDeployment("fn")
	var first, again string
	expect(t, env.doKeyed(http.MethodPost, "/v1/deployments/fn/rpc/?x=1", "order-42"), http.StatusAccepted, &first)
	expect(t, env.doKeyed(http.MethodPost, "/v1/deployments/fn/rpc/?x=2", "order-42"), http.StatusAccepted, &again)
	if first != again {
		t.Fatalf("the same key gave %s then %s", first, again)
	}
	if n := env.queuedRuns(); n != 1 {
		t.Errorf("%d runs queued, want 1", n)
	}
	worker := env.runWorker(func(e *faaspot.Execution) {
		e.Status, e.Result = faaspot.ExecCompleted, json.RawMessage(`"once"`)
	})
	if err := <-worker; err != nil {
		t.Fatal(err)
	}
	for range 2 { // the notification stays for every waiter of the keyed run
		rec := env.doKeyed(http.MethodPut, "/v1/sync/deployments/fn/rpc/", "order-42")
		if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `"once"` || rec.Header().Get(faaspot.HeaderExecutionID) != first {
			t.Errorf("sync request with the key of an ended run = %d %s (id %s)", rec.Code, rec.Body, rec.Header().Get(faaspot.HeaderExecutionID))
		}
	}
	var e faaspot.Execution
	expect(t, env.do(http.MethodGet, "/v1/executions/"+first, env.token, ""), http.StatusOK, &e)
	if e.IdempotencyKey != "order-42" || string(e.Args) != `{"x":"1"}` {
		t.Errorf("record = %+v, want the first request's, with its key", e)
	}
	for _, bad := range []string{strings.Repeat("k", 256), "two words", "tab\there", "é"} {
		expectError(t, env.doKeyed(http.MethodPost, "/v1/deployments/fn/rpc/", bad), http.StatusBadRequest, "invalid_argument", faaspot.HeaderIdempotencyKey)
	}
}

// queuedRuns is how many run jobs wait in the queue.
func (e *apiEnv) queuedRuns() int {
	e.t.Helper()
	n, err := e.store.QueueDepth(e.t.Context(), store.Runs)
	if err != nil {
		e.t.Fatal(err)
	}
	return int(n)
}

package api_test

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/api"
	"github.com/faaspot/faaspot/store"
)

// execution is the API's execution record.
type execution struct {
	ID         string             `json:"id"`
	Deployment string             `json:"deployment"`
	Version    int                `json:"version"`
	Status     faaspot.ExecStatus `json:"status"`
	Args       json.RawMessage    `json:"args"`
	Result     json.RawMessage    `json:"result"`
	Error      *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

func TestRunNotRunnable(t *testing.T) {
	env := newEnv(t, nil)
	env.createDeployment(env.token, deploymentBody("fn"))
	env.finishBuild(store.BuildOutcome{Error: "the code defines no main"})
	tests := []struct {
		name   string
		path   string
		status int
		code   string
		says   string
	}{
		{name: "unknown deployment", path: "/v1/deployments/nope/rpc/", status: http.StatusNotFound, code: "not_found"},
		{name: "unknown deployment, sync", path: "/v1/sync/deployments/nope/rpc/", status: http.StatusNotFound, code: "not_found"},
		{name: "failed build", path: "/v1/deployments/fn/rpc/", status: http.StatusConflict, code: "not_ready", says: "the code defines no main"},
		{name: "failed build, sync", path: "/v1/sync/deployments/fn/rpc", status: http.StatusConflict, code: "not_ready", says: "the code defines no main"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut} {
				rec := env.do(method, tt.path, env.token, "")
				body := expectError(t, rec, tt.status, tt.code, "")
				if rec.Header().Get(faaspot.HeaderExecutionID) != "" {
					t.Errorf("%s: execution id header on a refused run", method)
				}
				if !strings.Contains(body.Error.Message, tt.says) {
					t.Errorf("message %q does not say %q", body.Error.Message, tt.says)
				}
			}
		})
	}
	t.Run("nothing queued", func(t *testing.T) {
		var list []execution
		expect(t, env.do(http.MethodGet, "/v1/executions", env.token, ""), http.StatusOK, &list)
		if len(list) != 0 {
			t.Errorf("executions = %+v", list)
		}
	})
}

// TestRunWhileBuilding: runs of a deployment whose first version builds are accepted (async 202
// with the id; sync waits, then 202 pending), recorded queued on that version, and given to no
// worker until the build ends; then they are all queued on the run stream at once, and runs
// after that are queued directly.
func TestRunWhileBuilding(t *testing.T) {
	for _, outcome := range []store.BuildOutcome{{Image: "faaspot/t-x/d-x:0123"}, {Error: "ModuleNotFoundError: No module named 'nope'"}} {
		t.Run(cmp.Or(outcome.Error, "built"), func(t *testing.T) {
			env := newEnv(t, nil)
			env.exec.setMode(waitExpires)
			env.createDeployment(env.token, deploymentBody("fn"))
			var id string
			expect(t, env.do(http.MethodPost, "/v1/deployments/fn/rpc/", env.token, `{"n": 1}`), http.StatusAccepted, &id)
			var pending faaspot.RunPending
			expect(t, env.do(http.MethodPost, "/v1/sync/deployments/fn/rpc/", env.token, `{"n": 2}`), http.StatusAccepted, &pending)
			var e execution
			expect(t, env.do(http.MethodGet, "/v1/executions/"+id, env.token, ""), http.StatusOK, &e)
			if e.Status != faaspot.ExecQueued || e.Version != 1 || string(e.Args) != `{"n":1}` {
				t.Errorf("parked run = %+v", e)
			}
			if n, err := env.store.QueueDepth(context.Background(), store.Runs); err != nil || n != 0 {
				t.Fatalf("%d runs of a building deployment queued for workers (%v)", n, err)
			}
			env.finishBuild(outcome)
			got := map[string]bool{}
			for range 2 {
				job, err := env.store.NextJob(context.Background(), store.Runs, "w", time.Second)
				if err != nil || job == nil {
					t.Fatalf("parked run not queued after the build: %v %v", job, err)
				}
				got[job.ID] = job.Sync
			}
			if len(got) != 2 || got[id] || !got[pending.ExecutionID] {
				t.Errorf("queued after the build: %v; want %s async and %s sync", got, id, pending.ExecutionID)
			}
			if outcome.Error != "" {
				return
			}
			expect(t, env.do(http.MethodPost, "/v1/deployments/fn/rpc/", env.token, ""), http.StatusAccepted, &id)
			if job, err := env.store.NextJob(context.Background(), store.Runs, "w", time.Second); err != nil || job == nil || job.ID != id {
				t.Errorf("a run after the build: %+v %v", job, err)
			}
		})
	}
}

// TestRunWhileBuildingBounded: parked runs count against the queued-runs quota (429), and a
// deleted deployment's parked runs go to the workers, which record them as gone.
func TestRunWhileBuildingBounded(t *testing.T) {
	env := newEnv(t, func(c *api.Config) { c.DefaultQuotas.MaxQueuedRuns = 2 })
	env.createDeployment(env.token, deploymentBody("fn"))
	for range 2 {
		expect(t, env.do(http.MethodPost, "/v1/deployments/fn/rpc/", env.token, ""), http.StatusAccepted, nil)
	}
	expectError(t, env.do(http.MethodPost, "/v1/deployments/fn/rpc/", env.token, ""), http.StatusTooManyRequests, "", "")
	expect(t, env.do(http.MethodDelete, "/v1/deployments/fn", env.token, ""), http.StatusNoContent, nil)
	for range 2 {
		if job, err := env.store.NextJob(context.Background(), store.Runs, "w", time.Second); err != nil || job == nil {
			t.Fatalf("parked run of a deleted deployment not queued: %v %v", job, err)
		}
	}
}

func TestRunAsync(t *testing.T) {
	env := newEnv(t, nil)
	_, otherToken := env.newTenant("other")
	env.readyDeployment("fn")

	rec := env.do(http.MethodPost, "/v1/deployments/fn/rpc/?q=1&q=2&s=x", env.token, `{"n": 2, "s": {"deep": true}}`)
	var id string
	expect(t, rec, http.StatusAccepted, &id)
	if id == "" || rec.Header().Get(faaspot.HeaderExecutionID) != id {
		t.Fatalf("id %q, header %q", id, rec.Header().Get(faaspot.HeaderExecutionID))
	}

	t.Run("record", func(t *testing.T) {
		var e execution
		expect(t, env.do(http.MethodGet, "/v1/executions/"+id, env.token, ""), http.StatusOK, &e)
		if e.ID != id || e.Deployment != "fn" || e.Version != 1 || e.Status != faaspot.ExecQueued {
			t.Errorf("execution = %+v", e)
		}
		var args map[string]any
		if err := json.Unmarshal(e.Args, &args); err != nil {
			t.Fatal(err)
		}
		// Query values are strings (the last one wins); the body's typed values override them.
		if args["q"] != "2" || args["n"] != 2.0 || args["s"].(map[string]any)["deep"] != true {
			t.Errorf("args = %v", args)
		}
	})
	t.Run("other tenant", func(t *testing.T) {
		expectError(t, env.do(http.MethodGet, "/v1/executions/"+id, otherToken, ""), http.StatusNotFound, "not_found", "")
		expectError(t, env.do(http.MethodPost, "/v1/deployments/fn/rpc/", otherToken, ""), http.StatusNotFound, "not_found", "")
		expectError(t, env.do(http.MethodPost, "/v1/sync/deployments/fn/rpc/", otherToken, ""), http.StatusNotFound, "not_found", "")
		var list []execution
		expect(t, env.do(http.MethodGet, "/v1/executions", otherToken, ""), http.StatusOK, &list)
		if len(list) != 0 {
			t.Errorf("other tenant sees %+v", list)
		}
	})
	t.Run("list", func(t *testing.T) {
		var second string
		expect(t, env.do(http.MethodGet, "/v1/deployments/fn/rpc", env.token, ""), http.StatusAccepted, &second)
		var list []execution
		expect(t, env.do(http.MethodGet, "/v1/executions?deployment=fn", env.token, ""), http.StatusOK, &list)
		if len(list) != 2 || list[0].ID != second || list[1].ID != id {
			t.Errorf("list = %+v, want [%s %s]", list, second, id)
		}
		expect(t, env.do(http.MethodGet, "/v1/executions?deployment=other", env.token, ""), http.StatusOK, &list)
		if len(list) != 0 {
			t.Errorf("list of another deployment = %+v", list)
		}
		expect(t, env.do(http.MethodGet, "/v1/executions?limit=1", env.token, ""), http.StatusOK, &list)
		if len(list) != 1 {
			t.Errorf("limit=1 gave %d", len(list))
		}
		expectError(t, env.do(http.MethodGet, "/v1/executions?limit=0", env.token, ""), http.StatusBadRequest, "invalid_argument", "limit")
		expectError(t, env.do(http.MethodGet, "/v1/executions?deployment=Bad%20Name", env.token, ""), http.StatusBadRequest, "invalid_argument", "deployment")
	})
	t.Run("unknown execution", func(t *testing.T) {
		expectError(t, env.do(http.MethodGet, "/v1/executions/nope", env.token, ""), http.StatusNotFound, "not_found", "")
	})
	t.Run("bad args", func(t *testing.T) {
		for _, body := range []string{`[1, 2]`, `"x"`, `{"a": 1} {"b": 2}`, `{"a":`} {
			expectError(t, env.do(http.MethodPost, "/v1/deployments/fn/rpc/", env.token, body), http.StatusBadRequest, "invalid_argument", "args")
		}
		expectError(t, env.do(http.MethodPost, "/v1/deployments/fn/rpc/", env.token, `{"a":"`+strings.Repeat("x", 256<<10)+`"}`),
			http.StatusRequestEntityTooLarge, "too_large", "args")
	})
}

func TestRunSync(t *testing.T) {
	tests := []struct {
		name       string
		finish     func(e *faaspot.Execution)
		status     int
		wantBody   string // exact JSON for 200
		wantType   string // error.type otherwise
		wantStatus faaspot.ExecStatus
	}{
		{
			name: "completed",
			finish: func(e *faaspot.Execution) {
				e.Status, e.Result = faaspot.ExecCompleted, json.RawMessage(`{"x":1}`)
			},
			status: http.StatusOK, wantBody: `{"x":1}`,
		},
		{
			name: "completed with a scalar",
			finish: func(e *faaspot.Execution) {
				e.Status, e.Result = faaspot.ExecCompleted, json.RawMessage(`"hello"`)
			},
			status: http.StatusOK, wantBody: `"hello"`,
		},
		{
			name: "failed",
			finish: func(e *faaspot.Execution) {
				e.Status = faaspot.ExecFailed
				e.Error = &faaspot.ExecError{Type: "ValueError", Message: "boom", Traceback: "Traceback…"}
			},
			status: http.StatusInternalServerError, wantType: "ValueError", wantStatus: faaspot.ExecFailed,
		},
		{
			name: "timeout",
			finish: func(e *faaspot.Execution) {
				e.Status = faaspot.ExecTimeout
				e.Error = &faaspot.ExecError{Type: "Timeout", Message: "the function ran longer than 30s"}
			},
			status: http.StatusGatewayTimeout, wantType: "Timeout", wantStatus: faaspot.ExecTimeout,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t, nil)
			env.readyDeployment("fn")
			worker := env.runWorker(tt.finish)
			rec := env.do(http.MethodPost, "/v1/sync/deployments/fn/rpc/?a=1", env.token, "")
			if err := <-worker; err != nil {
				t.Fatalf("worker: %v", err)
			}
			id := rec.Header().Get(faaspot.HeaderExecutionID)
			if id == "" {
				t.Error("no execution id header")
			}
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if tt.status == http.StatusOK {
				if got := strings.TrimSpace(rec.Body.String()); got != tt.wantBody {
					t.Errorf("body = %s, want %s", got, tt.wantBody)
				}
				if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
				return
			}
			var body struct {
				Error struct {
					Type, Message, Traceback string
				}
				ExecutionID string `json:"execution_id"`
				Status      faaspot.ExecStatus
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
			if body.Error.Type != tt.wantType || body.Error.Message == "" || body.ExecutionID != id || body.Status != tt.wantStatus {
				t.Errorf("body = %s", rec.Body)
			}
		})
	}
}

// TestRunSyncStillRunning: a run still going when the server's sync wait has passed answers 202
// with its execution id; the wait asked of the store is the configured one.
func TestRunSyncStillRunning(t *testing.T) {
	env := newEnv(t, func(c *api.Config) { c.SyncWait = 7 * time.Second })
	env.readyDeployment("fn")
	env.exec.setMode(waitExpires)
	rec := env.do(http.MethodGet, "/v1/sync/deployments/fn/rpc/", env.token, "")
	if d := env.nextWait(); d != 7*time.Second {
		t.Errorf("waited with timeout %v, want the sync wait 7s", d)
	}
	var body struct {
		ExecutionID string             `json:"execution_id"`
		Status      faaspot.ExecStatus `json:"status"`
	}
	expect(t, rec, http.StatusAccepted, &body)
	if body.ExecutionID == "" || body.ExecutionID != rec.Header().Get(faaspot.HeaderExecutionID) || body.Status != faaspot.ExecQueued {
		t.Errorf("body = %s", rec.Body)
	}
}

// syncRun sends a synchronous run request in the background; the answer comes on the channel.
func (e *apiEnv) syncRun() <-chan *httptest.ResponseRecorder {
	out := make(chan *httptest.ResponseRecorder, 1)
	go func() { out <- e.do(http.MethodGet, "/v1/sync/deployments/fn/rpc/", e.token, "") }()
	return out
}

// TestRunSyncDrain: a node that stops answers its waiting sync requests at once with 202 and the
// execution id; the run stays queued.
func TestRunSyncDrain(t *testing.T) {
	env := newEnv(t, func(c *api.Config) { c.SyncWait = time.Hour })
	env.readyDeployment("fn")
	env.exec.setMode(waitBlocks)
	answer := env.syncRun()
	env.nextWait() // the request is waiting in the store
	env.srv.Drain()
	rec := <-answer
	id := rec.Header().Get(faaspot.HeaderExecutionID)
	if rec.Code != http.StatusAccepted || id == "" {
		t.Fatalf("draining: %d %s", rec.Code, rec.Body)
	}
	var e execution
	expect(t, env.do(http.MethodGet, "/v1/executions/"+id, env.token, ""), http.StatusOK, &e)
	if e.Status != faaspot.ExecQueued {
		t.Errorf("after the drain the run is %q, want still queued", e.Status)
	}
}

// TestSyncWaitersCapped: past a tenant's cap of waiting sync requests, a request answers 202 at
// once instead of holding another connection: it never waits in the store.
func TestSyncWaitersCapped(t *testing.T) {
	env := newEnv(t, func(c *api.Config) { c.SyncWait = time.Hour; c.MaxSyncWaiters = 1 })
	env.readyDeployment("fn")
	env.exec.setMode(waitBlocks)
	first := env.syncRun()
	env.nextWait() // the first request holds the tenant's one waiting slot
	rec := env.do(http.MethodGet, "/v1/sync/deployments/fn/rpc/", env.token, "")
	if rec.Code != http.StatusAccepted || rec.Header().Get(faaspot.HeaderExecutionID) == "" {
		t.Errorf("second waiter over the cap: %d %s", rec.Code, rec.Body)
	}
	select {
	case d := <-env.exec.waits:
		t.Errorf("the request over the cap waited in the store (timeout %v)", d)
	default:
	}
	env.srv.Drain() // release the first
	if rec := <-first; rec.Code != http.StatusAccepted {
		t.Errorf("first waiter: %d %s", rec.Code, rec.Body)
	}
}

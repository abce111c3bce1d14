package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/faaspot/faaspot"
)

// TestRollback: Rollback posts {"version": N} to the escaped route and decodes the deployment;
// the server's refusals come back as *APIError with their status, code and field.
func TestRollback(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		answer    string
		want      faaspot.Deployment
		wantErr   bool
		wantCode  string
		wantField string
	}{
		{name: "ok", status: http.StatusOK, answer: `{"name":"a/b","version":3,"status":"ready","ready_version":2}`,
			want: faaspot.Deployment{Name: "a/b", Version: 3, Status: faaspot.StatusReady, ReadyVersion: 2}},
		{name: "not ready", status: http.StatusConflict, answer: `{"error":{"code":"not_ready","message":"version 2 failed to build","field":"version"}}`,
			wantErr: true, wantCode: "not_ready", wantField: "version"},
		{name: "version not kept", status: http.StatusNotFound, answer: `{"error":{"code":"not_found","message":"version 2 not kept","field":"version"}}`,
			wantErr: true, wantCode: "not_found", wantField: "version"},
		{name: "bad version", status: http.StatusBadRequest, answer: `{"error":{"code":"invalid_argument","message":"version must be a positive integer","field":"version"}}`,
			wantErr: true, wantCode: "invalid_argument", wantField: "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var method, path, body string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				method, path, body = r.Method, r.URL.EscapedPath(), string(b)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.answer))
			}))
			defer srv.Close()
			d, err := New(srv.URL, "tok").Rollback(context.Background(), "a/b", 2)
			if method != http.MethodPost || path != "/v1/deployments/a%2Fb/rollback" || !sameJSON(body, `{"version":2}`) {
				t.Errorf("sent %s %s body %q", method, path, body)
			}
			if !tt.wantErr {
				if err != nil || d.Name != tt.want.Name || d.ReadyVersion != tt.want.ReadyVersion || d.Version != tt.want.Version || d.Status != tt.want.Status {
					t.Errorf("Rollback = %+v, %v; want %+v", d, err, tt.want)
				}
				return
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != tt.status || ae.Err.Code != tt.wantCode || ae.Err.Field != tt.wantField {
				t.Errorf("err = %#v, want HTTP %d code %q field %q", err, tt.status, tt.wantCode, tt.wantField)
			}
		})
	}
}

// TestPinnedRuns: a version other than 0 runs on the pinned routes, 0 (and Run, RunSync) on the
// current ones; the sync forms read the execution id, wait for a run that outlasted the sync
// wait, report a function's failure as *RunError and a refusal as *APIError.
func TestPinnedRuns(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.EscapedPath()+" "+string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.EscapedPath() {
		case "/v1/deployments/a%2Fb/rpc/", "/v1/deployments/a%2Fb/versions/2/rpc/":
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`"e1"`))
		case "/v1/sync/deployments/a%2Fb/rpc/", "/v1/sync/deployments/a%2Fb/versions/2/rpc/":
			w.Header().Set(faaspot.HeaderExecutionID, "e2")
			_, _ = w.Write([]byte(`{"v":2}`))
		case "/v1/sync/deployments/slow/versions/3/rpc/":
			w.Header().Set(faaspot.HeaderExecutionID, "e3")
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"execution_id":"e3","status":"running"}`))
		case "/v1/executions/e3":
			_, _ = w.Write([]byte(`{"id":"e3","status":"completed","result":{"late":true}}`))
		case "/v1/sync/deployments/boom/versions/4/rpc/":
			w.Header().Set(faaspot.HeaderExecutionID, "e4")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"error":{"type":"KeyError","message":"'x'","traceback":"Traceback"},"execution_id":"e4","status":"failed"}`))
		case "/v1/deployments/hello/versions/5/rpc/", "/v1/sync/deployments/hello/versions/5/rpc/":
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"error":{"code":"not_ready","message":"version 5 is building"}}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"code":"not_found","message":"version not kept"}}`))
		}
	}))
	defer srv.Close()
	c := New(srv.URL, "tok")
	ctx := context.Background()
	args := map[string]any{"n": 1}

	runs := []struct {
		name string
		run  func() (string, error)
		want string
	}{
		{"Run", func() (string, error) { return c.Run(ctx, "a/b", args) }, `POST /v1/deployments/a%2Fb/rpc/ {"n":1}`},
		{"RunVersion 0", func() (string, error) { return c.RunVersion(ctx, "a/b", 0, nil) }, `POST /v1/deployments/a%2Fb/rpc/ {}`},
		{"RunVersion 2", func() (string, error) { return c.RunVersion(ctx, "a/b", 2, args) }, `POST /v1/deployments/a%2Fb/versions/2/rpc/ {"n":1}`},
	}
	for _, tt := range runs {
		mu.Lock()
		paths = nil
		mu.Unlock()
		id, err := tt.run()
		mu.Lock()
		got := paths
		mu.Unlock()
		if err != nil || id != "e1" || len(got) != 1 || got[0] != tt.want {
			t.Errorf("%s: %q, %v; sent %q, want %q", tt.name, id, err, got, tt.want)
		}
	}

	syncs := []struct {
		name      string
		run       func() (json.RawMessage, string, error)
		wantPath  string
		wantValue string
		wantID    string
	}{
		{"RunSync", func() (json.RawMessage, string, error) { return c.RunSync(ctx, "a/b", args) },
			"POST /v1/sync/deployments/a%2Fb/rpc/", `{"v":2}`, "e2"},
		{"RunSyncVersion 0", func() (json.RawMessage, string, error) { return c.RunSyncVersion(ctx, "a/b", 0, args) },
			"POST /v1/sync/deployments/a%2Fb/rpc/", `{"v":2}`, "e2"},
		{"RunSyncVersion 2", func() (json.RawMessage, string, error) { return c.RunSyncVersion(ctx, "a/b", 2, args) },
			"POST /v1/sync/deployments/a%2Fb/versions/2/rpc/", `{"v":2}`, "e2"},
		{"pinned, outlasting the sync wait", func() (json.RawMessage, string, error) { return c.RunSyncVersion(ctx, "slow", 3, args) },
			"POST /v1/sync/deployments/slow/versions/3/rpc/", `{"late":true}`, "e3"},
	}
	for _, tt := range syncs {
		mu.Lock()
		paths = nil
		mu.Unlock()
		v, id, err := tt.run()
		mu.Lock()
		got := paths
		mu.Unlock()
		if err != nil || !sameJSON(string(v), tt.wantValue) || id != tt.wantID || len(got) == 0 || got[0] != tt.wantPath+` {"n":1}` {
			t.Errorf("%s: %s, %q, %v; sent %q", tt.name, v, id, err, got)
		}
	}

	_, id, err := c.RunSyncVersion(ctx, "boom", 4, nil)
	var re *RunError
	if !errors.As(err, &re) || re.ExecutionID != "e4" || re.Type != "KeyError" || id != "e4" {
		t.Errorf("failed pinned run: %q, %#v", id, err)
	}
	if _, err := c.RunVersion(ctx, "hello", 5, nil); !IsStatus(err, http.StatusConflict) {
		t.Errorf("RunVersion of a building version: %v, want a 409", err)
	}
	if _, _, err := c.RunSyncVersion(ctx, "hello", 5, nil); !IsStatus(err, http.StatusConflict) {
		t.Errorf("RunSyncVersion of a building version: %v, want a 409", err)
	}
	if _, _, err := c.RunSyncVersion(ctx, "hello", 9, nil); !IsStatus(err, http.StatusNotFound) {
		t.Errorf("RunSyncVersion of an unknown version: %v, want a 404", err)
	}
}

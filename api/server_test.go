package api_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faaspot/faaspot/api"
	"github.com/faaspot/faaspot/metrics"
)

func TestHealth(t *testing.T) {
	env := newEnv(t, nil)
	var health map[string]string
	expect(t, env.do(http.MethodGet, "/healthz", "", ""), http.StatusOK, &health)
	if health["status"] != "ok" {
		t.Errorf("healthz = %v", health)
	}

	tests := []struct {
		name    string
		pingErr error
		status  int
		checks  map[string]string
	}{
		{name: "ready", status: http.StatusOK, checks: map[string]string{"store": "ok", "engine": "ok"}},
		{name: "engine down", pingErr: errors.New("Cannot connect to the Docker daemon"), status: http.StatusServiceUnavailable,
			checks: map[string]string{"store": "ok", "engine": "unavailable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env.engine.setPingErr(tt.pingErr)
			var checks map[string]string
			rec := env.do(http.MethodGet, "/readyz", "", "")
			expect(t, rec, tt.status, &checks)
			for k, v := range tt.checks {
				if checks[k] != v {
					t.Errorf("%s = %q, want %q", k, checks[k], v)
				}
			}
			if strings.Contains(rec.Body.String(), "Docker daemon") {
				t.Error("readyz shows the engine's error text")
			}
		})
	}
	env.engine.setPingErr(nil)
	t.Run("store down", func(t *testing.T) {
		env.mr.Close()
		var checks map[string]string
		expect(t, env.do(http.MethodGet, "/readyz", "", ""), http.StatusServiceUnavailable, &checks)
		if checks["store"] != "unavailable" || checks["engine"] != "ok" {
			t.Errorf("checks = %v", checks)
		}
		// Tenant routes answer 503 with Retry-After, never a 500 or the Redis error.
		rec := env.do(http.MethodGet, "/v1/deployments", env.token, "")
		expectError(t, rec, http.StatusServiceUnavailable, "unavailable", "")
		if rec.Header().Get("Retry-After") == "" {
			t.Error("no Retry-After on 503")
		}
		if strings.Contains(rec.Body.String(), "127.0.0.1") || strings.Contains(rec.Body.String(), "dial") {
			t.Errorf("503 body shows internals: %s", rec.Body)
		}
		// /healthz is liveness only.
		expect(t, env.do(http.MethodGet, "/healthz", "", ""), http.StatusOK, nil)
	})
}

func TestReadyWithoutEngine(t *testing.T) {
	env := newEnv(t, nil)
	reg := prometheus.NewRegistry()
	srv := api.New(env.cfg, storeDeps(env.store, nil, nil), metrics.New(reg), reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var checks map[string]string
	expect(t, rec, http.StatusOK, &checks)
	if checks["engine"] == "ok" || checks["engine"] == "unavailable" {
		t.Errorf("engine check of an API-only node = %q", checks["engine"])
	}
	// Deleting still works without an engine.
	env2 := newEnv(t, nil)
	env2.createDeployment(env2.token, deploymentBody("fn"))
	srv2 := api.New(env2.cfg, storeDeps(env2.store, nil, nil), metrics.New(prometheus.NewRegistry()), reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	req := httptest.NewRequest(http.MethodDelete, "/v1/deployments/fn", nil)
	req.Header.Set("Authorization", "Token "+env2.token)
	rec = httptest.NewRecorder()
	srv2.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Errorf("delete without engine = %d %s", rec.Code, rec.Body)
	}
}

func TestMetrics(t *testing.T) {
	env := newEnv(t, nil)
	env.readyDeployment("fn")
	const rawName = "zeta-raw-name"
	env.do(http.MethodGet, "/v1/deployments/"+rawName, env.token, "")
	env.do(http.MethodGet, "/v1/deployments/fn", env.token, "")
	env.do(http.MethodPost, "/v1/deployments/"+rawName+"/rpc/", env.token, "")
	env.do(http.MethodGet, "/no-such-route-"+rawName, env.token, "")
	env.do(http.MethodGet, "/v1/deployments", "", "")

	rec := env.do(http.MethodGet, "/metrics", "", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("metrics = %d", rec.Code)
	}
	text := rec.Body.String()
	for _, want := range []string{
		`faaspot_http_requests_total{code="404",method="GET",route="/v1/deployments/{name}"} 1`,
		`faaspot_http_requests_total{code="200",method="GET",route="/v1/deployments/{name}"} 1`,
		`faaspot_http_requests_total{code="404",method="POST",route="/v1/deployments/{name}/rpc/"} 1`,
		`faaspot_http_requests_total{code="401",method="GET",route="/v1/deployments"} 1`,
		`faaspot_http_request_duration_seconds_bucket{method="GET",route="/v1/deployments/{name}"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Requests no route matched are counted under one label, never their raw path.
	if !strings.Contains(text, `faaspot_http_requests_total{code="404",method="GET",route="unmatched"} 1`) {
		t.Error("unmatched routes are not counted")
	}
	for _, leak := range []string{rawName, env.tenant.ID, env.token, "acme"} {
		if strings.Contains(text, leak) {
			t.Errorf("metrics carry the raw value %q", leak)
		}
	}
}

func TestRoutingErrors(t *testing.T) {
	env := newEnv(t, nil)
	tests := []struct {
		name   string
		method string
		path   string
		status int
		code   string
	}{
		{name: "unknown route", method: http.MethodGet, path: "/v2/things", status: http.StatusNotFound, code: "not_found"},
		{name: "method not allowed", method: http.MethodPatch, path: "/v1/deployments", status: http.StatusMethodNotAllowed, code: "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectError(t, env.do(tt.method, tt.path, env.token, ""), tt.status, tt.code, "")
		})
	}
}

// TestStoreErrorsHidden checks that an internal error answers a generic 500.
func TestStoreErrorsHidden(t *testing.T) {
	env := newEnv(t, nil)
	// A record that cannot be decoded: an internal error, not the client's.
	env.mr.Set("fs:t:{"+env.tenant.ID+"}:dep:fn", "{not json")
	rec := env.do(http.MethodGet, "/v1/deployments/fn", env.token, "")
	body := expectError(t, rec, http.StatusInternalServerError, "internal", "")
	if body.Error.Message != "internal error" {
		t.Errorf("500 message = %q, want a generic one", body.Error.Message)
	}
	if !strings.Contains(env.logs.String(), "internal error") {
		t.Error("the internal error is not logged")
	}
}

// TestOpsHandler: a worker node's handler answers health, readiness and metrics, and no tenant
// or operator route, whatever the token.
func TestOpsHandler(t *testing.T) {
	env := newEnv(t, nil)
	ops := env.srv.OpsHandler()
	tests := []struct {
		method, path, token string
		status              int
	}{
		{http.MethodGet, "/healthz", "", http.StatusOK},
		{http.MethodGet, "/readyz", "", http.StatusOK},
		{http.MethodGet, "/metrics", "", http.StatusOK},
		{http.MethodGet, "/v1/deployments", env.token, http.StatusNotFound},
		{http.MethodPost, "/v1/deployments/fn/rpc/", env.token, http.StatusNotFound},
		{http.MethodGet, "/v1/tenants", adminToken, http.StatusNotFound},
		{http.MethodPut, "/api/deployments/", env.token, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(deploymentBody("fn")))
			if tt.token != "" {
				req.Header.Set("Authorization", "Token "+tt.token)
			}
			rec := httptest.NewRecorder()
			ops.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
		})
	}
}

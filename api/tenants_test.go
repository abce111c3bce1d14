package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/faaspot/faaspot"
)

// TestTenantAdminRoutes walks the operator's routes over one tenant: tokens, quotas, deletion.
func TestTenantAdminRoutes(t *testing.T) {
	env := newEnv(t, nil)
	admin := func(method, path, body string) *httptest.ResponseRecorder {
		return env.doHeader(method, path, "Token "+adminToken, body)
	}
	dep := env.createDeployment(env.token, deploymentBody("fn"))

	var issued faaspot.TokenIssued
	t.Run("issue a token", func(t *testing.T) {
		expect(t, admin(http.MethodPost, "/v1/tenants/acme/tokens", ""), http.StatusCreated, &issued)
		if issued.ID == "" || issued.Token == "" {
			t.Fatalf("issued = %+v", issued)
		}
		expect(t, env.do(http.MethodGet, "/v1/deployments", issued.Token, ""), http.StatusOK, nil)
		var toks []faaspot.Token
		rec := admin(http.MethodGet, "/v1/tenants/acme/tokens", "")
		expect(t, rec, http.StatusOK, &toks)
		if len(toks) != 2 || strings.Contains(rec.Body.String(), issued.Token) || strings.Contains(rec.Body.String(), env.token) {
			t.Errorf("tokens = %s", rec.Body)
		}
	})
	t.Run("revoke it", func(t *testing.T) {
		expect(t, admin(http.MethodDelete, "/v1/tenants/acme/tokens/"+issued.ID, ""), http.StatusNoContent, nil)
		expectError(t, env.do(http.MethodGet, "/v1/deployments", issued.Token, ""), http.StatusUnauthorized, "unauthorized", "")
		expectError(t, admin(http.MethodDelete, "/v1/tenants/acme/tokens/"+issued.ID, ""), http.StatusNotFound, "not_found", "")
	})
	t.Run("quotas", func(t *testing.T) {
		var set faaspot.QuotasSet
		expect(t, admin(http.MethodPut, "/v1/tenants/acme/quotas", `{"max_deployments": 1}`), http.StatusOK, &set)
		want := env.cfg.DefaultQuotas
		want.MaxDeployments = 1
		if set.Name != "acme" || set.Quotas != (faaspot.Quotas{MaxDeployments: 1}) || set.Effective != want {
			t.Errorf("quotas answer = %+v", set)
		}
		rec := env.do(http.MethodPost, "/v1/deployments", env.token, deploymentBody("second"))
		expectError(t, rec, http.StatusTooManyRequests, "quota_exceeded", "")
		if got := rec.Header().Get("Retry-After"); got != "60" {
			t.Errorf("Retry-After = %q, want 60", got)
		}
		expectError(t, admin(http.MethodPut, "/v1/tenants/acme/quotas", `{"max_queued_runs": -1}`), http.StatusBadRequest, "invalid_argument", "")
		expectError(t, admin(http.MethodPut, "/v1/tenants/nope/quotas", `{}`), http.StatusNotFound, "not_found", "")
	})
	t.Run("request rate", func(t *testing.T) {
		expect(t, admin(http.MethodPut, "/v1/tenants/acme/quotas", `{"requests_per_second": 0.001}`), http.StatusOK, nil)
		var rec *httptest.ResponseRecorder
		for range 3 { // the first request may still find a token in the bucket
			if rec = env.do(http.MethodGet, "/v1/deployments", env.token, ""); rec.Code != http.StatusOK {
				break
			}
		}
		body := expectError(t, rec, http.StatusTooManyRequests, "quota_exceeded", "")
		if !strings.Contains(body.Error.Message, "0.001 requests per second") || rec.Header().Get("Retry-After") == "" {
			t.Errorf("429 = %s, Retry-After %q", rec.Body, rec.Header().Get("Retry-After"))
		}
	})
	t.Run("list", func(t *testing.T) {
		var ts []faaspot.Tenant
		expect(t, admin(http.MethodGet, "/v1/tenants", ""), http.StatusOK, &ts)
		if len(ts) != 1 || ts[0].Name != "acme" || ts[0].ID != env.tenant.ID {
			t.Errorf("tenants = %+v", ts)
		}
	})
	t.Run("delete", func(t *testing.T) {
		expect(t, admin(http.MethodDelete, "/v1/tenants/acme", ""), http.StatusNoContent, nil)
		expectError(t, env.do(http.MethodGet, "/v1/deployments", env.token, ""), http.StatusUnauthorized, "unauthorized", "")
		calls := env.engine.removeCalls()
		if len(calls) != 1 || calls[0] != (removeCall{env.tenant.ID, dep.ID}) {
			t.Errorf("RemoveImages calls = %+v", calls)
		}
		expectError(t, admin(http.MethodDelete, "/v1/tenants/acme", ""), http.StatusNotFound, "not_found", "")
	})
}

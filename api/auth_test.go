package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/faaspot/faaspot/api"
)

func TestAuthentication(t *testing.T) {
	env := newEnv(t, nil)
	tests := []struct {
		name   string
		method string
		path   string
		header string // Authorization; "" for none
		status int
	}{
		{name: "no token", method: http.MethodGet, path: "/v1/deployments", status: http.StatusUnauthorized},
		{name: "unknown token", method: http.MethodGet, path: "/v1/deployments", header: "Token fs_unknown", status: http.StatusUnauthorized},
		{name: "empty token", method: http.MethodGet, path: "/v1/deployments", header: "Token ", status: http.StatusUnauthorized},
		{name: "other scheme", method: http.MethodGet, path: "/v1/deployments", header: "Basic " + env.token, status: http.StatusUnauthorized},
		{name: "bare token", method: http.MethodGet, path: "/v1/deployments", header: env.token, status: http.StatusUnauthorized},
		{name: "admin token is not a tenant token", method: http.MethodGet, path: "/v1/deployments", header: "Token " + adminToken, status: http.StatusUnauthorized},
		{name: "Token scheme", method: http.MethodGet, path: "/v1/deployments", header: "Token " + env.token, status: http.StatusOK},
		{name: "Bearer scheme", method: http.MethodGet, path: "/v1/deployments", header: "Bearer " + env.token, status: http.StatusOK},
		{name: "scheme in lower case", method: http.MethodGet, path: "/v1/deployments", header: "token " + env.token, status: http.StatusOK},
		{name: "seed create route", method: http.MethodPut, path: "/api/deployments/", status: http.StatusUnauthorized},
		{name: "sync run", method: http.MethodPost, path: "/v1/sync/deployments/fn/rpc/", status: http.StatusUnauthorized},
		{name: "async run", method: http.MethodGet, path: "/v1/deployments/fn/rpc/", status: http.StatusUnauthorized},
		{name: "execution", method: http.MethodGet, path: "/v1/executions/abc", status: http.StatusUnauthorized},
		{name: "executions", method: http.MethodGet, path: "/v1/executions", status: http.StatusUnauthorized},
		{name: "delete", method: http.MethodDelete, path: "/v1/deployments/fn", status: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := env.doHeader(tt.method, tt.path, tt.header, "")
			if tt.status == http.StatusUnauthorized {
				expectError(t, rec, http.StatusUnauthorized, "unauthorized", "")
				return
			}
			expect(t, rec, tt.status, nil)
		})
	}
}

func TestCreateTenant(t *testing.T) {
	env := newEnv(t, nil)
	t.Run("needs the admin token", func(t *testing.T) {
		for _, tc := range []struct{ name, header string }{
			{"no token", ""},
			{"tenant token", "Token " + env.token},
			{"wrong admin token", "Token " + adminToken + "x"},
			{"admin token prefix", "Token " + adminToken[:len(adminToken)-1]},
		} {
			rec := env.doHeader(http.MethodPost, "/v1/tenants", tc.header, `{"name":"newco"}`)
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("%s: status %d, want 401", tc.name, rec.Code)
			}
		}
		if _, err := env.store.TenantByName(t.Context(), "newco"); err == nil {
			t.Error("a tenant was created without the admin token")
		}
	})

	var created struct{ ID, Name, Token string }
	t.Run("created", func(t *testing.T) {
		expect(t, env.doHeader(http.MethodPost, "/v1/tenants", "Token "+adminToken, `{"name":"newco"}`), http.StatusCreated, &created)
		if created.Name != "newco" || created.Token == "" || created.ID == "" {
			t.Fatalf("created = %+v", created)
		}
		// The new token works on tenant routes.
		expect(t, env.do(http.MethodGet, "/v1/deployments", created.Token, ""), http.StatusOK, nil)
	})
	t.Run("duplicate", func(t *testing.T) {
		expectError(t, env.doHeader(http.MethodPost, "/v1/tenants", "Token "+adminToken, `{"name":"newco"}`),
			http.StatusConflict, "", "name")
	})
	t.Run("invalid name", func(t *testing.T) {
		expectError(t, env.doHeader(http.MethodPost, "/v1/tenants", "Token "+adminToken, `{"name":"New Co"}`),
			http.StatusBadRequest, "invalid_argument", "name")
	})
	t.Run("unknown field", func(t *testing.T) {
		expectError(t, env.doHeader(http.MethodPost, "/v1/tenants", "Token "+adminToken, `{"name":"x","admin":true}`),
			http.StatusBadRequest, "invalid_argument", "admin")
	})
	t.Run("tokens never logged", func(t *testing.T) {
		logs := env.logs.String()
		for _, secret := range []string{adminToken, env.token, created.Token} {
			if secret != "" && strings.Contains(logs, secret) {
				t.Errorf("a token is in the logs:\n%s", logs)
			}
		}
	})
}

func TestAdminDisabled(t *testing.T) {
	env := newEnv(t, func(c *api.Config) { c.AdminToken = "" })
	for _, header := range []string{"", "Token ", "Token x"} {
		rec := env.doHeader(http.MethodPost, "/v1/tenants", header, `{"name":"newco"}`)
		expectError(t, rec, http.StatusForbidden, "forbidden", "")
	}
}

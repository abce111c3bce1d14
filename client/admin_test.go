package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
)

// TestAdminCalls: each admin method sends its route with the admin token, escapes names, and
// decodes the answer.
func TestAdminCalls(t *testing.T) {
	var mu sync.Mutex
	var got struct{ method, path, auth, body string }
	answers := map[string]string{
		"POST /v1/tenants":                        `{"id":"t1","name":"a/b","token":"fs_x"}`,
		"GET /v1/tenants":                         `[{"id":"t1","name":"acme","created_at":"2025-03-01T12:00:00Z","quotas":{"max_deployments":3}}]`,
		"POST /v1/tenants/a%2Fb/tokens":           `{"id":"k2","token":"fs_y"}`,
		"GET /v1/tenants/acme/tokens":             `[{"id":"k1","created_at":"2025-03-01T12:00:00Z"}]`,
		"PUT /v1/tenants/acme/quotas":             `{"name":"acme","quotas":{"max_queued_runs":7},"effective":{"max_queued_runs":7,"max_deployments":50}}`,
		"DELETE /v1/tenants/a%2Fb":                ``,
		"DELETE /v1/tenants/acme/tokens/k%2F1%3F": ``,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		key := r.Method + " " + r.URL.EscapedPath()
		mu.Lock()
		got.method, got.path, got.auth, got.body = r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"), string(b)
		mu.Unlock()
		answer, ok := answers[key]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"code":"not_found","message":"tenant \"x\" not found"}}`))
			return
		}
		if answer == "" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_, _ = w.Write([]byte(answer))
	}))
	defer srv.Close()
	c := New(srv.URL, "admin-tok")
	ctx := context.Background()
	day := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name             string
		call             func() (any, error)
		method, path     string
		body             string
		want             any
		wantNotFoundCode bool
	}{
		{name: "create", call: func() (any, error) { return c.CreateTenantRecord(ctx, "a/b") },
			method: "POST", path: "/v1/tenants", body: `{"name":"a/b"}`, want: faaspot.TenantCreated{ID: "t1", Name: "a/b", Token: "fs_x"}},
		{name: "list", call: func() (any, error) { return c.ListTenants(ctx) }, method: "GET", path: "/v1/tenants",
			want: []faaspot.Tenant{{ID: "t1", Name: "acme", CreatedAt: day, Quotas: faaspot.Quotas{MaxDeployments: 3}}}},
		{name: "delete escapes", call: func() (any, error) { return nil, c.DeleteTenant(ctx, "a/b") }, method: "DELETE", path: "/v1/tenants/a%2Fb"},
		{name: "issue", call: func() (any, error) { return c.IssueToken(ctx, "a/b") }, method: "POST", path: "/v1/tenants/a%2Fb/tokens",
			want: faaspot.TokenIssued{ID: "k2", Token: "fs_y"}},
		{name: "list tokens", call: func() (any, error) { return c.ListTokens(ctx, "acme") }, method: "GET", path: "/v1/tenants/acme/tokens",
			want: []faaspot.Token{{ID: "k1", CreatedAt: day}}},
		{name: "revoke escapes", call: func() (any, error) { return nil, c.RevokeToken(ctx, "acme", "k/1?") }, method: "DELETE",
			path: "/v1/tenants/acme/tokens/k%2F1%3F"},
		{name: "quotas", call: func() (any, error) { return c.SetQuotas(ctx, "acme", faaspot.Quotas{MaxQueuedRuns: 7}) }, method: "PUT",
			path: "/v1/tenants/acme/quotas", body: `{"max_concurrent_runs":0,"max_queued_runs":7,"max_deployments":0,"requests_per_second":0}`,
			want: faaspot.QuotasSet{Name: "acme", Quotas: faaspot.Quotas{MaxQueuedRuns: 7}, Effective: faaspot.Quotas{MaxQueuedRuns: 7, MaxDeployments: 50}}},
		{name: "unknown tenant", call: func() (any, error) { return c.ListTokens(ctx, "x") }, method: "GET", path: "/v1/tenants/x/tokens",
			want: []faaspot.Token(nil), wantNotFoundCode: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := tt.call()
			if tt.wantNotFoundCode {
				var ae *APIError
				if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || ae.Err.Code != "not_found" {
					t.Fatalf("err = %v, want a 404 not_found", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			sent := got
			mu.Unlock()
			if sent.method != tt.method || sent.path != tt.path || sent.auth != "Token admin-tok" || !sameJSON(sent.body, tt.body) {
				t.Errorf("sent %s %s %q body %q; want %s %s body %q", sent.method, sent.path, sent.auth, sent.body, tt.method, tt.path, tt.body)
			}
			if tt.want != nil && !reflect.DeepEqual(v, tt.want) {
				t.Errorf("got %#v, want %#v", v, tt.want)
			}
		})
	}
}

// sameJSON reports whether a and b are the same JSON document (both empty counts).
func sameJSON(a, b string) bool {
	if a == "" || b == "" {
		return a == b
	}
	var va, vb any
	return json.Unmarshal([]byte(a), &va) == nil && json.Unmarshal([]byte(b), &vb) == nil && reflect.DeepEqual(va, vb)
}

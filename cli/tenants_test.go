package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
)

// adminRoutes serves the operator's routes over f.tenants and f.tokens (f.mu held by admin).
func (f *fakeAPI) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/tenants", f.admin(func(w http.ResponseWriter, _ *http.Request, body []byte) {
		var req faaspot.CreateTenantRequest
		_ = json.Unmarshal(body, &req)
		f.serial++
		t := faaspot.Tenant{ID: fmt.Sprintf("tid%d", f.serial), Name: req.Name, CreatedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
		f.tenants = append(f.tenants, t)
		writeJSON(w, http.StatusCreated, faaspot.TenantCreated{ID: t.ID, Name: t.Name, Token: "fs_first_" + t.Name})
	}))
	mux.HandleFunc("GET /v1/tenants", f.admin(func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		writeJSON(w, http.StatusOK, f.tenants)
	}))
	mux.HandleFunc("DELETE /v1/tenants/{tenant}", f.admin(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if i := f.find(r.PathValue("tenant")); i >= 0 {
			f.tenants = append(f.tenants[:i], f.tenants[i+1:]...)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		notFoundJSON(w, "tenant")
	}))
	mux.HandleFunc("POST /v1/tenants/{tenant}/tokens", f.admin(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		name := r.PathValue("tenant")
		f.serial++
		id := fmt.Sprintf("tok%d", f.serial)
		f.tokens[name] = append(f.tokens[name], faaspot.Token{ID: id, CreatedAt: time.Date(2025, 3, 2, 8, 0, 0, 0, time.UTC)})
		writeJSON(w, http.StatusCreated, faaspot.TokenIssued{ID: id, Token: "fs_" + id})
	}))
	mux.HandleFunc("GET /v1/tenants/{tenant}/tokens", f.admin(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeJSON(w, http.StatusOK, f.tokens[r.PathValue("tenant")])
	}))
	mux.HandleFunc("DELETE /v1/tenants/{tenant}/tokens/{id}", f.admin(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		toks := f.tokens[r.PathValue("tenant")]
		for i, t := range toks {
			if t.ID == r.PathValue("id") {
				f.tokens[r.PathValue("tenant")] = append(toks[:i], toks[i+1:]...)
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		notFoundJSON(w, "token")
	}))
	mux.HandleFunc("PUT /v1/tenants/{tenant}/quotas", f.admin(func(w http.ResponseWriter, r *http.Request, body []byte) {
		i := f.find(r.PathValue("tenant"))
		if i < 0 {
			notFoundJSON(w, "tenant")
			return
		}
		var q faaspot.Quotas
		_ = json.Unmarshal(body, &q)
		f.tenants[i].Quotas = q
		def := faaspot.Quotas{MaxConcurrentRuns: 2, MaxQueuedRuns: 100, MaxDeployments: 50, RequestsPerSecond: 10}
		writeJSON(w, http.StatusOK, faaspot.QuotasSet{Name: f.tenants[i].Name, Quotas: q, Effective: q.WithDefaults(def)})
	}))
}

func (f *fakeAPI) find(name string) int {
	for i, t := range f.tenants {
		if t.Name == name {
			return i
		}
	}
	return -1
}

func notFoundJSON(w http.ResponseWriter, what string) {
	writeJSON(w, http.StatusNotFound, map[string]any{"error": faaspot.Error{Code: "not_found", Message: what + " not found"}})
}

// TestTenantsCommands: the operator's commands, one after the other, each with the admin token
// on the route it documents.
func TestTenantsCommands(t *testing.T) {
	api := newFakeAPI(t)
	x := fasFor(t, api)
	steps := []struct {
		name       string
		args       []string
		wantOut    []string // substrings of stdout
		wantExact  string   // stdout exactly, when set
		wantMethod string
		wantPath   string
	}{
		{name: "create", args: []string{"tenants", "create", "acme"}, wantOut: []string{"acme", "tid1", "fs_first_acme"}, wantMethod: "POST", wantPath: "/v1/tenants"},
		{name: "create quiet", args: []string{"tenants", "create", "beta", "-q"}, wantExact: "fs_first_beta\n", wantMethod: "POST", wantPath: "/v1/tenants"},
		{name: "list", args: []string{"tenants", "list"}, wantOut: []string{"NAME", "acme", "beta", "default"}, wantMethod: "GET", wantPath: "/v1/tenants"},
		{name: "issue token", args: []string{"tenants", "tokens", "issue", "acme"}, wantOut: []string{"tok3", "fs_tok3"}, wantMethod: "POST", wantPath: "/v1/tenants/acme/tokens"},
		{name: "issue token json", args: []string{"tenants", "tokens", "issue", "acme", "-o", "json"}, wantOut: []string{`"token": "fs_tok4"`}, wantMethod: "POST", wantPath: "/v1/tenants/acme/tokens"},
		{name: "list tokens", args: []string{"tenants", "tokens", "list", "acme"}, wantOut: []string{"tok3", "tok4", "2025-03-02 08:00:00"}, wantMethod: "GET", wantPath: "/v1/tenants/acme/tokens"},
		{name: "revoke token", args: []string{"tenants", "tokens", "revoke", "acme", "tok3"}, wantOut: []string{"tok3", "revoked"}, wantMethod: "DELETE", wantPath: "/v1/tenants/acme/tokens/tok3"},
		{name: "show quotas", args: []string{"tenants", "quotas", "acme"}, wantOut: []string{"max-deployments", "default"}, wantMethod: "GET", wantPath: "/v1/tenants"},
		{name: "set one quota", args: []string{"tenants", "quotas", "acme", "--max-deployments", "20"}, wantOut: []string{"IN EFFECT", "20"}, wantMethod: "PUT", wantPath: "/v1/tenants/acme/quotas"},
		{name: "set another keeps the first", args: []string{"tenants", "quotas", "acme", "--requests-per-second", "2.5"}, wantOut: []string{"2.5", "20"}, wantMethod: "PUT", wantPath: "/v1/tenants/acme/quotas"},
		{name: "delete", args: []string{"tenants", "delete", "beta", "--yes"}, wantExact: "tenant beta deleted\n", wantMethod: "DELETE", wantPath: "/v1/tenants/beta"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			before := len(api.requests())
			out, errOut, code := x.run(s.args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			for _, w := range s.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout %q lacks %q", out, w)
				}
			}
			if s.wantExact != "" && out != s.wantExact {
				t.Errorf("stdout = %q, want %q", out, s.wantExact)
			}
			reqs := api.requests()[before:]
			last := reqs[len(reqs)-1]
			if last.Method != s.wantMethod || last.Path != s.wantPath || last.Auth != "Token "+adminTok {
				t.Errorf("last request %s %s %q, want %s %s with the admin token", last.Method, last.Path, last.Auth, s.wantMethod, s.wantPath)
			}
		})
	}
	reqs := api.requests()
	var q faaspot.Quotas
	if err := json.Unmarshal(reqs[len(reqs)-2].Body, &q); err != nil || q.MaxDeployments != 20 || q.RequestsPerSecond != 2.5 || q.MaxConcurrentRuns != 0 {
		t.Errorf("the second quotas change must keep the first: sent %+v (%v)", q, err)
	}
}

// TestAdminToken: where the admin token comes from, and what a missing or wrong one says.
func TestAdminToken(t *testing.T) {
	api := newFakeAPI(t)
	tests := []struct {
		name     string
		vars     map[string]string
		file     string
		wantCode int
		wantErr  string
	}{
		{name: "environment", vars: map[string]string{"FAASPOT_URL": api.srv.URL, "FAASPOT_ADMIN_TOKEN": adminTok}},
		{name: "config file", file: fmt.Sprintf(`{"url":%q,"token":"tok","admin_token":%q}`, api.srv.URL, adminTok)},
		{name: "environment over file", vars: map[string]string{"FAASPOT_ADMIN_TOKEN": adminTok},
			file: fmt.Sprintf(`{"url":%q,"admin_token":"stale"}`, api.srv.URL)},
		{name: "tenant token is not used", vars: map[string]string{"FAASPOT_URL": api.srv.URL, "FAASPOT_TOKEN": adminTok},
			wantCode: 1, wantErr: "no admin token"},
		{name: "wrong", vars: map[string]string{"FAASPOT_URL": api.srv.URL, "FAASPOT_ADMIN_TOKEN": "wrong"},
			wantCode: 1, wantErr: "the admin token is wrong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := newFas(t, tt.vars)
			if tt.file != "" {
				x.writeConfig(t, tt.file)
			}
			before := len(api.requests())
			_, errOut, code := x.run("tenants", "list")
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errOut, tt.wantCode, tt.wantErr)
			}
			if tt.wantErr == "no admin token" && len(api.requests()) != before {
				t.Errorf("a request was sent without an admin token")
			}
		})
	}
}

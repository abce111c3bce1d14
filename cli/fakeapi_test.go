package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
)

// Tokens the fake API accepts: a tenant's, and the operator's.
const (
	tenantTok = "tok"
	adminTok  = "admin-token-0123456789abcdef0123456789"
)

// request is one request the fake API received.
type request struct {
	Method, Path, Auth string
	Query              string // the raw query
	Header             http.Header
	Body               []byte
}

// fakeAPI is a faaspot server on 127.0.0.1 with two deployments, two executions (e2bbbb failed,
// a dead letter), the admin routes over an in-memory set of tenants, and the tenant's webhook
// secret. It records every request.
type fakeAPI struct {
	srv *httptest.Server

	mu      sync.Mutex
	reqs    []request
	fail    bool // every answer a 500
	tenants []faaspot.Tenant
	tokens  map[string][]faaspot.Token
	serial  int
	secret  string // the webhook secret, "" until asked for
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{tokens: map[string][]faaspot.Token{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/deployments", f.tenant(func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		writeJSON(w, http.StatusOK, []faaspot.Deployment{{Name: "hello", Status: faaspot.StatusReady}, {Name: "world", Status: faaspot.StatusBuilding}})
	}))
	mux.HandleFunc("POST /v1/deployments", f.tenant(func(w http.ResponseWriter, _ *http.Request, body []byte) {
		var req faaspot.DeploymentRequest
		_ = json.Unmarshal(body, &req)
		writeJSON(w, http.StatusAccepted, faaspot.Deployment{Name: req.Name, Version: 1, Status: faaspot.StatusBuilding, Retry: req.Retry,
			CallbackURL: req.CallbackURL})
	}))
	mux.HandleFunc("GET /v1/executions", f.tenant(func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
		writeJSON(w, http.StatusOK, []faaspot.ExecutionSummary{{ID: "e1aaaa", Deployment: "hello", Status: faaspot.ExecCompleted, CreatedAt: at},
			{ID: "e2bbbb", Deployment: "world", Status: faaspot.ExecFailed, CreatedAt: at}})
	}))
	f.adminRoutes(mux)
	f.versionRoutes(mux)
	f.deadLetterRoutes(mux)
	f.webhookRoutes(mux)
	f.usageRoutes(mux)
	f.srv = httptest.NewServer(f.record(mux))
	t.Cleanup(f.srv.Close)
	return f
}

// record logs each request, then answers it (a 500 when fail is set).
func (f *fakeAPI) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.mu.Lock()
		f.reqs = append(f.reqs, request{Method: r.Method, Path: r.URL.EscapedPath(), Auth: r.Header.Get("Authorization"),
			Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		fail := f.fail
		f.mu.Unlock()
		if fail {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": faaspot.Error{Code: "internal", Message: "internal error"}})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tenant and admin guard a route with the tenant's or the operator's token (401 otherwise) and
// pass on the request body.
func (f *fakeAPI) tenant(h func(http.ResponseWriter, *http.Request, []byte)) http.HandlerFunc {
	return guard(tenantTok, h)
}

func (f *fakeAPI) admin(h func(http.ResponseWriter, *http.Request, []byte)) http.HandlerFunc {
	return guard(adminTok, func(w http.ResponseWriter, r *http.Request, body []byte) {
		f.mu.Lock()
		defer f.mu.Unlock()
		h(w, r, body)
	})
}

func guard(token string, h func(http.ResponseWriter, *http.Request, []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Token "+token {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": faaspot.Error{Code: "unauthorized", Message: "missing or unknown token"}})
			return
		}
		body, _ := io.ReadAll(r.Body)
		h(w, r, body)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// requests returns what the fake received so far.
func (f *fakeAPI) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

func (f *fakeAPI) setFail(fail bool) {
	f.mu.Lock()
	f.fail = fail
	f.mu.Unlock()
}

// fas runs the CLI with args in an environment of vars (nothing else) and a home of its own;
// home may hold a config file written by the test.
type fas struct {
	vars map[string]string
	home string
}

func newFas(t *testing.T, vars map[string]string) *fas {
	return &fas{vars: vars, home: t.TempDir()}
}

func (x *fas) run(args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return x.vars[k] }, Home: x.home, Version: "1.2.3"}
	code = Main(context.Background(), env, args)
	return out.String(), errOut.String(), code
}

// writeConfig writes the config file of x's home.
func (x *fas) writeConfig(t *testing.T, cfg string) {
	t.Helper()
	dir := filepath.Join(x.home, ".faaspot")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// fasFor is fas configured by the environment for the fake API, with both tokens.
func fasFor(t *testing.T, api *fakeAPI) *fas {
	return newFas(t, map[string]string{"FAASPOT_URL": api.srv.URL, "FAASPOT_TOKEN": tenantTok, "FAASPOT_ADMIN_TOKEN": adminTok})
}

// lines splits output into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
)

// TestVersionsCommand: `fas deployments versions NAME` prints a table, the ready version marked,
// or the JSON array with -o json; an unknown deployment fails, a missing NAME is a usage error.
func TestVersionsCommand(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/deployments/hello/versions" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"code":"not_found","message":"deployment not found"}}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode([]faaspot.VersionInfo{
			{Version: 2, Status: faaspot.StatusFailed, Error: "no main\nat line 1", CreatedAt: at},
			{Version: 1, Status: faaspot.StatusReady, Ready: true, CreatedAt: at},
		})
	}))
	defer srv.Close()
	run := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		vars := map[string]string{"FAASPOT_URL": srv.URL, "FAASPOT_TOKEN": "tok"}
		env := Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return vars[k] }, Home: t.TempDir()}
		code := Main(context.Background(), env, args)
		return out.String(), errOut.String(), code
	}

	out, errOut, code := run("deployments", "versions", "hello")
	got := lines(out)
	if code != 0 || len(got) != 3 || !strings.HasPrefix(got[0], "VERSION") ||
		!strings.Contains(got[1], "failed") || !strings.Contains(got[1], "no main …") || !strings.HasPrefix(got[2], "1*") {
		t.Errorf("versions: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, _, code = run("deployments", "versions", "hello", "-o", "json")
	var vs []faaspot.VersionInfo
	if err := json.Unmarshal([]byte(out), &vs); code != 0 || err != nil || len(vs) != 2 || !vs[1].Ready {
		t.Errorf("versions -o json: exit %d, %v, stdout %q", code, err, out)
	}
	if _, errOut, code = run("deployments", "versions", "nope"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Errorf("versions of an unknown deployment: exit %d, stderr %q", code, errOut)
	}
	if _, _, code = run("deployments", "versions"); code != 2 {
		t.Errorf("versions without NAME: exit %d, want 2", code)
	}
}

// versionRoutes serves hello's versions (1 and 2 ready, 3 failed, 4 building), rollback, and the
// current and pinned runs, which answer the version they ran.
func (f *fakeAPI) versionRoutes(mux *http.ServeMux) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	versions := []faaspot.VersionInfo{{Version: 4, Status: faaspot.StatusBuilding, CreatedAt: at},
		{Version: 3, Status: faaspot.StatusFailed, Error: "no main", CreatedAt: at},
		{Version: 2, Status: faaspot.StatusReady, Ready: true, CreatedAt: at}, {Version: 1, Status: faaspot.StatusReady, CreatedAt: at}}
	// version finds a version of hello: its record, or an error answer written to w.
	version := func(w http.ResponseWriter, name string, n int) (faaspot.VersionInfo, bool) {
		if name != "hello" {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": faaspot.Error{Code: "not_found", Message: fmt.Sprintf("deployment %q not found", name)}})
			return faaspot.VersionInfo{}, false
		}
		for _, v := range versions {
			if v.Version != n {
				continue
			}
			if v.Status != faaspot.StatusReady {
				writeJSON(w, http.StatusConflict, map[string]any{"error": faaspot.Error{Code: "not_ready",
					Message: fmt.Sprintf("version %d of %q is %s", n, name, v.Status), Field: "version"}})
				return v, false
			}
			return v, true
		}
		writeJSON(w, http.StatusNotFound, map[string]any{"error": faaspot.Error{Code: "not_found",
			Message: fmt.Sprintf("version %d of %q not kept", n, name), Field: "version"}})
		return faaspot.VersionInfo{}, false
	}
	mux.HandleFunc("GET /v1/deployments/{name}/versions", f.tenant(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if _, ok := version(w, r.PathValue("name"), 1); ok {
			writeJSON(w, http.StatusOK, versions)
		}
	}))
	mux.HandleFunc("POST /v1/deployments/{name}/rollback", f.tenant(func(w http.ResponseWriter, r *http.Request, body []byte) {
		var req struct {
			Version int `json:"version"`
		}
		if json.Unmarshal(body, &req) != nil || req.Version < 1 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": faaspot.Error{Code: "invalid_argument", Message: "version must be a positive integer", Field: "version"}})
			return
		}
		if v, ok := version(w, r.PathValue("name"), req.Version); ok {
			writeJSON(w, http.StatusOK, faaspot.Deployment{Name: r.PathValue("name"), Version: 4, Status: faaspot.StatusBuilding, ReadyVersion: v.Version})
		}
	}))
	run := func(sync bool) func(http.ResponseWriter, *http.Request, []byte) {
		return func(w http.ResponseWriter, r *http.Request, _ []byte) {
			n := 2 // the ready version
			if r.PathValue("n") != "" {
				var err error
				if n, err = strconv.Atoi(r.PathValue("n")); err != nil {
					http.NotFound(w, r)
					return
				}
			}
			if _, ok := version(w, r.PathValue("name"), n); !ok {
				return
			}
			id := fmt.Sprintf("e-v%d", n)
			w.Header().Set(faaspot.HeaderExecutionID, id)
			if sync {
				writeJSON(w, http.StatusOK, map[string]int{"version": n})
				return
			}
			writeJSON(w, http.StatusAccepted, id)
		}
	}
	mux.HandleFunc("POST /v1/deployments/{name}/rpc/", f.tenant(run(false)))
	mux.HandleFunc("POST /v1/deployments/{name}/versions/{n}/rpc/", f.tenant(run(false)))
	mux.HandleFunc("POST /v1/sync/deployments/{name}/rpc/", f.tenant(run(true)))
	mux.HandleFunc("POST /v1/sync/deployments/{name}/versions/{n}/rpc/", f.tenant(run(true)))
}

// TestRollbackCommand: `fas deployments rollback NAME --to N` posts the version and confirms, or
// prints the deployment with -o json; a refused version fails naming it and pointing at the
// versions list; a missing or bad --to is a usage error, found before anything is sent.
func TestRollbackCommand(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string   // the whole of it, when set
		stderr   []string // each in stderr
		sent     string   // the body posted to /v1/deployments/NAME/rollback; "" for no request
		sentName string
	}{
		{name: "ok", args: []string{"hello", "--to", "1"}, stdout: "deployment hello now runs version 1\n", sent: `{"version":1}`},
		{name: "failed version", args: []string{"hello", "--to", "3"}, code: 1, sent: `{"version":3}`,
			stderr: []string{"fas: cannot roll back hello to version 3: ", `version 3 of "hello" is failed`, "HTTP 409", "see `fas deployments versions hello`"}},
		{name: "building version", args: []string{"hello", "--to", "4"}, code: 1, sent: `{"version":4}`, stderr: []string{"is building", "HTTP 409"}},
		{name: "version not kept", args: []string{"hello", "--to", "9"}, code: 1, sent: `{"version":9}`,
			stderr: []string{"cannot roll back hello to version 9", "not kept", "HTTP 404", "fas deployments versions hello"}},
		{name: "unknown deployment", args: []string{"nope", "--to", "1"}, code: 1, sent: `{"version":1}`, sentName: "nope",
			stderr: []string{`cannot roll back nope to version 1: deployment "nope" not found (HTTP 404)`}},
		{name: "missing --to", args: []string{"hello"}, code: 2, stderr: []string{"--to N is required"}},
		{name: "zero", args: []string{"hello", "--to", "0"}, code: 2, stderr: []string{"1 or more"}},
		{name: "negative", args: []string{"hello", "--to", "-1"}, code: 2, stderr: []string{"1 or more"}},
		{name: "not a number", args: []string{"hello", "--to", "two"}, code: 2, stderr: []string{"1 or more"}},
		{name: "missing NAME", args: []string{"--to", "1"}, code: 2, stderr: []string{"usage: fas deployments rollback NAME --to N"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t)
			out, errOut, code := fasFor(t, api).run(append([]string{"deployments", "rollback"}, tt.args...)...)
			if code != tt.code || tt.stdout != "" && out != tt.stdout {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q", code, out, errOut, tt.code, tt.stdout)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr %q, want it to hold %q", errOut, s)
				}
			}
			reqs := api.requests()
			if tt.sent == "" {
				if len(reqs) != 0 {
					t.Errorf("sent %d requests, want none", len(reqs))
				}
				return
			}
			name := tt.sentName
			if name == "" {
				name = "hello"
			}
			if len(reqs) != 1 || reqs[0].Method != http.MethodPost || reqs[0].Path != "/v1/deployments/"+name+"/rollback" ||
				string(bytes.TrimSpace(reqs[0].Body)) != tt.sent {
				t.Errorf("sent %+v, want POST /v1/deployments/%s/rollback %s", reqs, name, tt.sent)
			}
		})
	}

	out, errOut, code := fasFor(t, newFakeAPI(t)).run("deployments", "rollback", "hello", "--to", "1", "-o", "json")
	var d faaspot.Deployment
	if err := json.Unmarshal([]byte(out), &d); code != 0 || err != nil || d.Name != "hello" || d.ReadyVersion != 1 {
		t.Errorf("rollback -o json: exit %d, %v, stdout %q, stderr %q", code, err, out, errOut)
	}
}

// TestRunVersion: `fas deployments run NAME --version N` runs version N on the pinned routes
// (sync with --wait), without --version on the current ones; a refused version fails naming it;
// a bad --version is a usage error, found before anything is sent.
func TestRunVersion(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
		path   string // the run's route; "" for no request
	}{
		{name: "pinned", args: []string{"--version", "1"}, stdout: "e-v1\n", path: "/v1/deployments/hello/versions/1/rpc/"},
		{name: "pinned, waited", args: []string{"--version", "1", "--wait"}, stdout: "{\n  \"version\": 1\n}\n",
			path: "/v1/sync/deployments/hello/versions/1/rpc/"},
		{name: "current", args: []string{}, stdout: "e-v2\n", path: "/v1/deployments/hello/rpc/"},
		{name: "current, waited", args: []string{"--wait"}, stdout: "{\n  \"version\": 2\n}\n", path: "/v1/sync/deployments/hello/rpc/"},
		{name: "failed version", args: []string{"--version", "3", "--wait"}, code: 1, path: "/v1/sync/deployments/hello/versions/3/rpc/",
			stderr: "fas: cannot run hello version 3: version 3 of \"hello\" is failed (field version, HTTP 409); see `fas deployments versions hello`\n"},
		{name: "version not kept", args: []string{"--version", "9"}, code: 1, path: "/v1/deployments/hello/versions/9/rpc/",
			stderr: "fas: cannot run hello version 9: version 9 of \"hello\" not kept (field version, HTTP 404); see `fas deployments versions hello`\n"},
		{name: "zero", args: []string{"--version", "0"}, code: 2},
		{name: "not a number", args: []string{"--version", "1.5", "--wait"}, code: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t)
			out, errOut, code := fasFor(t, api).run(append([]string{"deployments", "run", "hello", "--parameters", "a=b"}, tt.args...)...)
			if code != tt.code || out != tt.stdout || tt.stderr != "" && errOut != tt.stderr {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr %q", code, out, errOut, tt.code, tt.stdout, tt.stderr)
			}
			if tt.code == 2 && !strings.Contains(errOut, "--version") {
				t.Errorf("stderr %q, want it to name --version", errOut)
			}
			reqs := api.requests()
			if tt.path == "" {
				if len(reqs) != 0 {
					t.Errorf("sent %d requests, want none", len(reqs))
				}
				return
			}
			if len(reqs) != 1 || reqs[0].Method != http.MethodPost || reqs[0].Path != tt.path || string(bytes.TrimSpace(reqs[0].Body)) != `{"a":"b"}` {
				t.Errorf("sent %+v, want POST %s", reqs, tt.path)
			}
		})
	}
}

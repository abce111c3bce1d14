package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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

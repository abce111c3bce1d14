package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLogsFollow: `fas executions logs -f ID` prints each stream's pieces to its own stream and
// fails when the server ended the follow before the run; -o json prints the answer's lines.
func TestLogsFollow(t *testing.T) {
	status := "completed"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/executions/e1/logs" || r.URL.Query().Get("follow") != "true" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		_, _ = w.Write([]byte(`{"stream":"stdout","data":"one\n"}` + "\n" + `{"stream":"stderr","data":"warn\n"}` + "\n" +
			`{"stream":"stdout","data":"two\n"}` + "\n" + `{"status":"` + status + `","stdout_truncated":true}` + "\n"))
	}))
	defer srv.Close()
	run := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		vars := map[string]string{"FAASPOT_URL": srv.URL, "FAASPOT_TOKEN": "tok"}
		env := Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return vars[k] }, Home: t.TempDir()}
		code := Main(context.Background(), env, args)
		return out.String(), errOut.String(), code
	}
	out, errOut, code := run("executions", "logs", "-f", "e1")
	if code != 0 || out != "one\ntwo\n" || !strings.HasPrefix(errOut, "warn\n") || !strings.Contains(errOut, "truncated") {
		t.Errorf("logs -f: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, _, code = run("executions", "logs", "--follow", "e1", "-o", "json")
	if code != 0 || strings.Count(out, "\n") != 4 || !strings.Contains(out, `"status":"completed"`) {
		t.Errorf("logs -f -o json: exit %d, stdout %q", code, out)
	}
	status = "running"
	if _, errOut, code = run("executions", "logs", "-f", "e1"); code == 0 || !strings.Contains(errOut, "still running") {
		t.Errorf("a follow the server ended first: exit %d, stderr %q", code, errOut)
	}
}

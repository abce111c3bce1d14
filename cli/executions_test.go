package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/faaspot/faaspot"
)

// TestListExecutionsPages: `fas executions list` prints one page of summaries and, when more
// follow, a line on stderr with the command of the next page; --cursor asks for that page.
func TestListExecutionsPages(t *testing.T) {
	var mu sync.Mutex
	var queries []url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/executions" || r.Header.Get("Authorization") != "Token tok" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		queries = append(queries, r.URL.Query())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("cursor") == "" {
			w.Header().Set(faaspot.HeaderNextCursor, "CUR1")
			_, _ = w.Write([]byte(`[{"id":"e2","deployment":"fn","status":"failed","created_at":"2025-03-01T12:00:00Z","duration_ms":1.5,"error_type":"ValueError"}]`))
			return
		}
		_, _ = w.Write([]byte(`[{"id":"e1","deployment":"fn","status":"completed","created_at":"2025-03-01T11:00:00Z"}]`))
	}))
	defer srv.Close()
	run := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		vars := map[string]string{"FAASPOT_URL": srv.URL, "FAASPOT_TOKEN": "tok"}
		env := Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return vars[k] }, Home: t.TempDir()}
		code := Main(context.Background(), env, args)
		return out.String(), errOut.String(), code
	}

	out, errOut, code := run("executions", "list", "--deployment", "fn", "--limit", "1")
	if code != 0 || !strings.Contains(out, "e2") || !strings.Contains(out, "ValueError") {
		t.Errorf("first page: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if want := "fas executions list --cursor CUR1 --deployment fn --limit 1\n"; !strings.HasSuffix(errOut, want) {
		t.Errorf("stderr = %q, want it to end with %q", errOut, want)
	}
	out, errOut, code = run("executions", "list", "--deployment", "fn", "--limit", "1", "--cursor", "CUR1", "-o", "json")
	if code != 0 || !strings.Contains(out, `"id": "e1"`) || errOut != "" {
		t.Errorf("last page: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(queries) != 2 || queries[0].Get("limit") != "1" || queries[0].Get("deployment") != "fn" ||
		queries[0].Get("cursor") != "" || queries[1].Get("cursor") != "CUR1" || queries[1].Get("view") != "" {
		t.Errorf("queries = %v", queries)
	}
}

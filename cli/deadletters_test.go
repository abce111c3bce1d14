package cli

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
)

// deadLetterRoutes serves the dead letters (e2bbbb, failed after 3 attempts, and e3cccc, timed
// out), the retry of an execution (e2bbbb and e3cccc run again; e1aaaa completed: 409; others:
// 404) and the records of e1aaaa (1 attempt), e2bbbb (3 attempts) and e4dddd (completed, its
// callback delivered on the second attempt).
func (f *fakeAPI) deadLetterRoutes(mux *http.ServeMux) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	finished := at.Add(90 * time.Second)
	dead := []faaspot.ExecutionSummary{
		{ID: "e3cccc", Deployment: "world", Version: 2, Status: faaspot.ExecTimeout, CreatedAt: at, FinishedAt: &finished, ErrorType: "Timeout"},
		{ID: "e2bbbb", Deployment: "world", Version: 1, Status: faaspot.ExecFailed, CreatedAt: at, FinishedAt: &finished, ErrorType: "ValueError"},
	}
	records := map[string]faaspot.Execution{
		"e1aaaa": {ID: "e1aaaa", Deployment: "hello", Version: 2, Status: faaspot.ExecCompleted, Attempts: 1, CreatedAt: at},
		"e2bbbb": {ID: "e2bbbb", Deployment: "world", Version: 1, Status: faaspot.ExecFailed, Attempts: 3, CreatedAt: at,
			Error: &faaspot.ExecError{Type: "ValueError", Message: "bad input"}},
		"e4dddd": {ID: "e4dddd", Deployment: "hook", Version: 1, Status: faaspot.ExecCompleted, Attempts: 1, CreatedAt: at,
			Callback: &faaspot.Callback{URL: "https://hooks.example.com/done", State: faaspot.CallbackDelivered, Attempts: 2,
				LastStatus: 204, DeliveredAt: &finished}},
	}
	mux.HandleFunc("GET /v1/dead-letters", f.tenant(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		limit := 100
		if l := r.URL.Query().Get("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil || n < 1 || n > 1000 {
				writeJSON(w, http.StatusBadRequest, map[string]any{"error": faaspot.Error{Code: "invalid_argument",
					Message: "limit must be a whole number from 1 to 1000", Field: "limit"}})
				return
			}
			limit = n
		}
		writeJSON(w, http.StatusOK, dead[:min(limit, len(dead))])
	}))
	mux.HandleFunc("POST /v1/executions/{id}/retry", f.tenant(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		switch id := r.PathValue("id"); id {
		case "e2bbbb", "e3cccc":
			w.Header().Set(faaspot.HeaderExecutionID, "new-"+id)
			writeJSON(w, http.StatusAccepted, "new-"+id)
		case "e1aaaa":
			writeJSON(w, http.StatusConflict, map[string]any{"error": faaspot.Error{Code: "not_ready",
				Message: "execution e1aaaa is completed: only a failed or timed-out run is run again"}})
		default:
			writeJSON(w, http.StatusNotFound, map[string]any{"error": faaspot.Error{Code: "not_found", Message: fmt.Sprintf("execution %q not found", id)}})
		}
	}))
	mux.HandleFunc("GET /v1/executions/{id}", f.tenant(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		e, ok := records[r.PathValue("id")]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": faaspot.Error{Code: "not_found", Message: "execution not found"}})
			return
		}
		writeJSON(w, http.StatusOK, e)
	}))
}

// TestDeadLettersCommand: `fas executions dead-letters` prints the table of dead letters, or
// the JSON array with -o json; --limit goes in the query, and without it none is sent.
func TestDeadLettersCommand(t *testing.T) {
	api := newFakeAPI(t)
	x := fasFor(t, api)

	out, errOut, code := x.run("executions", "dead-letters")
	want := []string{
		"ID      DEPLOYMENT  STATUS   ERROR TYPE  FINISHED",
		"e3cccc  world       timeout  Timeout     2025-03-01 12:01:30",
		"e2bbbb  world       failed   ValueError  2025-03-01 12:01:30",
	}
	if got := lines(out); code != 0 || errOut != "" || !reflect.DeepEqual(got, want) {
		t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, errOut, out, strings.Join(want, "\n"))
	}

	out, errOut, code = x.run("exec", "dead-letters", "--limit", "1", "-o", "json")
	var es []faaspot.ExecutionSummary
	if err := json.Unmarshal([]byte(out), &es); code != 0 || err != nil || len(es) != 1 || es[0].ID != "e3cccc" || es[0].ErrorType != "Timeout" {
		t.Errorf("-o json: exit %d, %v, stdout %q, stderr %q", code, err, out, errOut)
	}

	reqs := api.requests()
	if len(reqs) != 2 || reqs[0].Method != http.MethodGet || reqs[0].Path != "/v1/dead-letters" || reqs[1].Path != "/v1/dead-letters" {
		t.Fatalf("requests %+v", reqs)
	}
}

// TestDeadLettersQuery: --limit is sent as given; without it no limit is sent (the server's
// default).
func TestDeadLettersQuery(t *testing.T) {
	tests := []struct {
		args  []string
		query string
	}{
		{nil, ""},
		{[]string{"--limit", "1"}, "limit=1"},
		{[]string{"--limit=1000"}, "limit=1000"},
	}
	for _, tt := range tests {
		api := newFakeAPI(t)
		if _, errOut, code := fasFor(t, api).run(append([]string{"executions", "dead-letters"}, tt.args...)...); code != 0 {
			t.Fatalf("%v: exit %d, %s", tt.args, code, errOut)
		}
		if reqs := api.requests(); len(reqs) != 1 || reqs[0].Path != "/v1/dead-letters" || reqs[0].Query != tt.query {
			t.Errorf("%v: sent %+v, want GET /v1/dead-letters?%s", tt.args, reqs, tt.query)
		}
	}
}

// TestDeadLetterRows: a summary without a finish time or an error type shows "-".
func TestDeadLetterRows(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	got := deadLetterRows([]faaspot.ExecutionSummary{{ID: "e1", Deployment: "d", Status: faaspot.ExecFailed, CreatedAt: at}})
	want := [][]string{{"ID", "DEPLOYMENT", "STATUS", "ERROR TYPE", "FINISHED"}, {"e1", "d", "failed", "-", "-"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deadLetterRows = %q, want %q", got, want)
	}
}

// TestRetryCommand: `fas executions retry ID` posts to the retry route and prints the new id
// (with -o json, both ids); a refusal fails naming the execution and giving the server's reason.
func TestRetryCommand(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
		path   string // the route posted to; "" for no request
	}{
		{name: "failed", args: []string{"e2bbbb"}, stdout: "new-e2bbbb\n", path: "/v1/executions/e2bbbb/retry"},
		{name: "json", args: []string{"e3cccc", "-o", "json"}, stdout: "{\n  \"execution_id\": \"new-e3cccc\",\n  \"retry_of\": \"e3cccc\"\n}\n",
			path: "/v1/executions/e3cccc/retry"},
		{name: "escaped", args: []string{"a/b"}, code: 1, path: "/v1/executions/a%2Fb/retry",
			stderr: "fas: cannot retry execution a/b: execution \"a/b\" not found (HTTP 404)\n"},
		{name: "completed", args: []string{"e1aaaa"}, code: 1, path: "/v1/executions/e1aaaa/retry",
			stderr: "fas: cannot retry execution e1aaaa: execution e1aaaa is completed: only a failed or timed-out run is run again (HTTP 409)\n"},
		{name: "missing ID", args: nil, code: 2, stderr: "fas: usage: fas executions retry ID (see 'fas executions retry --help')\n"},
		{name: "two IDs", args: []string{"e2bbbb", "e3cccc"}, code: 2, stderr: "fas: usage: fas executions retry ID (see 'fas executions retry --help')\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t)
			out, errOut, code := fasFor(t, api).run(append([]string{"executions", "retry"}, tt.args...)...)
			if code != tt.code || out != tt.stdout || errOut != tt.stderr {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr %q", code, out, errOut, tt.code, tt.stdout, tt.stderr)
			}
			reqs := api.requests()
			if tt.path == "" {
				if len(reqs) != 0 {
					t.Errorf("sent %d requests, want none", len(reqs))
				}
				return
			}
			if len(reqs) != 1 || reqs[0].Method != http.MethodPost || reqs[0].Path != tt.path || len(reqs[0].Body) != 0 {
				t.Errorf("sent %+v, want POST %s without a body", reqs, tt.path)
			}
		})
	}
}

// TestGetExecutionAttempts: `fas executions get` shows the attempts of a run that ran more than
// once, and no attempts row otherwise.
func TestGetExecutionAttempts(t *testing.T) {
	x := fasFor(t, newFakeAPI(t))
	out, errOut, code := x.run("executions", "get", "e2bbbb")
	if code != 0 || !containsLine(out, "attempts", "3") || !containsLine(out, "error", "ValueError: bad input") {
		t.Errorf("e2bbbb: exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
	out, errOut, code = x.run("executions", "get", "e1aaaa")
	if code != 0 || strings.Contains(out, "attempts") || !containsLine(out, "status", "COMPLETED") {
		t.Errorf("e1aaaa: exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
}

// containsLine reports whether out has a table line of exactly the cells key and value.
func containsLine(out, key, value string) bool {
	for _, l := range lines(out) {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == key && strings.Join(f[1:], " ") == value {
			return true
		}
	}
	return false
}

func TestParseBackoff(t *testing.T) {
	tests := []struct {
		name, in string
		want     float64
		bad      bool
	}{
		{name: "seconds", in: "30", want: 30},
		{name: "zero", in: "0", want: 0},
		{name: "negative zero", in: "-0", want: 0},
		{name: "fraction", in: "0.5", want: 0.5},
		{name: "spaces", in: " 12 ", want: 12},
		{name: "the most", in: "3600", want: 3600},
		{name: "duration", in: "30s", want: 30},
		{name: "minutes", in: "2m", want: 120},
		{name: "mixed", in: "1m30s", want: 90},
		{name: "milliseconds", in: "250ms", want: 0.25},
		{name: "an hour", in: "1h", want: 3600},
		{name: "zero duration", in: "0s", want: 0},
		{name: "over an hour", in: "3601", bad: true},
		{name: "duration over an hour", in: "61m", bad: true},
		{name: "negative", in: "-1", bad: true},
		{name: "negative duration", in: "-5s", bad: true},
		{name: "NaN", in: "NaN", bad: true},
		{name: "infinite", in: "Inf", bad: true},
		{name: "words", in: "soon", bad: true},
		{name: "empty", in: "", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseBackoff(tt.in)
			if (err != nil) != tt.bad || got != tt.want || math.Signbit(got) {
				t.Errorf("parseBackoff(%q) = %g, %v; want %g, bad %v", tt.in, got, err, tt.want, tt.bad)
			}
		})
	}
}

func TestRetryText(t *testing.T) {
	tests := []struct {
		name string
		p    *faaspot.RetryPolicy
		want string
	}{
		{"none", nil, ""},
		{"one attempt", &faaspot.RetryPolicy{MaxAttempts: 1, BackoffS: 30}, "none (1 attempt)"},
		{"at once", &faaspot.RetryPolicy{MaxAttempts: 3}, "up to 3 attempts, at once"},
		{"seconds", &faaspot.RetryPolicy{MaxAttempts: 5, BackoffS: 30}, "up to 5 attempts, the first retry after 30s, doubling"},
		{"minutes", &faaspot.RetryPolicy{MaxAttempts: 2, BackoffS: 120}, "up to 2 attempts, the first retry after 2m, doubling"},
		{"an hour", &faaspot.RetryPolicy{MaxAttempts: 2, BackoffS: 3600}, "up to 2 attempts, the first retry after 1h, doubling"},
		{"fraction", &faaspot.RetryPolicy{MaxAttempts: 2, BackoffS: 0.5}, "up to 2 attempts, the first retry after 500ms, doubling"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryText(tt.p); got != tt.want {
				t.Errorf("retryText(%+v) = %q, want %q", tt.p, got, tt.want)
			}
		})
	}
}

// TestCreateRetry: --max-attempts and --retry-backoff become the request's retry policy; without
// --max-attempts the request has none. The deployment's JSON shows the policy.
func TestCreateRetry(t *testing.T) {
	api := newFakeAPI(t)
	x := fasFor(t, api)
	file := filepath.Join(t.TempDir(), "f.py")
	if err := os.WriteFile(file, []byte("def main(args, context):\n    return 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		flags []string
		want  *faaspot.RetryPolicy
	}{
		{name: "none", want: nil},
		{name: "attempts only: at once", flags: []string{"--max-attempts", "3"}, want: &faaspot.RetryPolicy{MaxAttempts: 3}},
		{name: "no retry", flags: []string{"--max-attempts=1"}, want: &faaspot.RetryPolicy{MaxAttempts: 1}},
		{name: "duration", flags: []string{"--max-attempts", "5", "--retry-backoff", "30s"}, want: &faaspot.RetryPolicy{MaxAttempts: 5, BackoffS: 30}},
		{name: "seconds first", flags: []string{"--retry-backoff", "0.5", "--max-attempts", "2"}, want: &faaspot.RetryPolicy{MaxAttempts: 2, BackoffS: 0.5}},
		{name: "minutes", flags: []string{"--max-attempts", "4", "--retry-backoff=2m"}, want: &faaspot.RetryPolicy{MaxAttempts: 4, BackoffS: 120}},
		{name: "with limits", flags: []string{"--timeout", "30", "--max-attempts", "2", "--retry-backoff", "0"}, want: &faaspot.RetryPolicy{MaxAttempts: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(api.requests())
			args := append([]string{"deployments", "create", "fn", "--file", file}, tt.flags...)
			out, errOut, code := x.run(append(args, "-o", "json")...)
			var d faaspot.Deployment
			if err := json.Unmarshal([]byte(out), &d); code != 0 || err != nil || !reflect.DeepEqual(d.Retry, tt.want) {
				t.Fatalf("exit %d, %v, stdout %q, stderr %q; want retry %+v", code, err, out, errOut, tt.want)
			}
			reqs := api.requests()[before:]
			if len(reqs) != 1 || reqs[0].Method != http.MethodPost || reqs[0].Path != "/v1/deployments" {
				t.Fatalf("requests %+v", reqs)
			}
			var body map[string]json.RawMessage
			if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
				t.Fatal(err)
			}
			raw, sent := body["retry"]
			if tt.want == nil {
				if sent {
					t.Errorf("sent retry %s, want none", raw)
				}
				return
			}
			want, _ := json.Marshal(tt.want)
			if string(raw) != string(want) {
				t.Errorf("sent retry %s, want %s", raw, want)
			}
		})
	}
}

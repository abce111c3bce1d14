package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
)

// canned is an httptest server that answers every request with status and body, and records
// the method, escaped path, raw query and body of the last one.
type canned struct {
	srv                       *httptest.Server
	method, path, query, body string
}

func newCanned(t *testing.T, status int, answer string) *canned {
	t.Helper()
	a := &canned{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		a.method, a.path, a.query, a.body = r.Method, r.URL.EscapedPath(), r.URL.RawQuery, string(b)
		w.Header().Set("Content-Type", "application/json")
		if status == http.StatusAccepted {
			w.Header().Set(faaspot.HeaderExecutionID, "e-new")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(answer))
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// TestListDeadLetters: the limit goes in the query (none for 0: the server's default); the
// answer decodes into summaries in its order; a refused limit is an *APIError naming it.
func TestListDeadLetters(t *testing.T) {
	const page = `[{"id":"e2","deployment":"flaky","version":3,"status":"timeout","created_at":"2025-03-01T12:00:00Z",` +
		`"finished_at":"2025-03-01T12:00:05Z","duration_ms":5000,"error_type":"Timeout"},` +
		`{"id":"e1","deployment":"a/b","version":1,"status":"failed","created_at":"2025-03-01T11:00:00Z","error_type":"ValueError"}]`
	tests := []struct {
		name      string
		limit     int
		status    int
		answer    string
		wantQuery string
		wantIDs   []string
		wantField string // set when an *APIError is expected
	}{
		{name: "server default", limit: 0, status: http.StatusOK, answer: page, wantQuery: "", wantIDs: []string{"e2", "e1"}},
		{name: "limit", limit: 7, status: http.StatusOK, answer: page, wantQuery: "limit=7", wantIDs: []string{"e2", "e1"}},
		{name: "empty", limit: 1000, status: http.StatusOK, answer: `[]`, wantQuery: "limit=1000", wantIDs: []string{}},
		{name: "refused limit", limit: -1, status: http.StatusBadRequest, wantQuery: "limit=-1", wantField: "limit",
			answer: `{"error":{"code":"invalid_argument","message":"limit must be a whole number from 1 to 1000","field":"limit"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newCanned(t, tt.status, tt.answer)
			es, err := New(a.srv.URL, "tok").ListDeadLetters(context.Background(), tt.limit)
			if a.method != http.MethodGet || a.path != "/v1/dead-letters" || a.query != tt.wantQuery || a.body != "" {
				t.Errorf("sent %s %s?%s body %q; want GET /v1/dead-letters?%s", a.method, a.path, a.query, a.body, tt.wantQuery)
			}
			if tt.wantField != "" {
				var ae *APIError
				if !errors.As(err, &ae) || ae.Status != tt.status || ae.Err.Field != tt.wantField {
					t.Errorf("err = %v, want HTTP %d naming %s", err, tt.status, tt.wantField)
				}
				return
			}
			if err != nil || len(es) != len(tt.wantIDs) {
				t.Fatalf("ListDeadLetters = %+v, %v; want ids %v", es, err, tt.wantIDs)
			}
			for i, id := range tt.wantIDs {
				if es[i].ID != id {
					t.Errorf("[%d].ID = %q, want %q", i, es[i].ID, id)
				}
			}
		})
	}

	a := newCanned(t, http.StatusOK, page)
	es, _ := New(a.srv.URL, "tok").ListDeadLetters(context.Background(), 0)
	finished := time.Date(2025, 3, 1, 12, 0, 5, 0, time.UTC)
	if got := es[0]; got.Deployment != "flaky" || got.Version != 3 || got.Status != faaspot.ExecTimeout || got.ErrorType != "Timeout" ||
		got.FinishedAt == nil || !got.FinishedAt.Equal(finished) || got.DurationMS != 5000 {
		t.Errorf("first summary = %+v", got)
	}
	if es[1].FinishedAt != nil || es[1].Deployment != "a/b" {
		t.Errorf("second summary = %+v", es[1])
	}
}

// TestRetryExecution: RetryExecution posts to the escaped route without a body and returns the
// new id; the server's refusals come back as *APIError with their status and code.
func TestRetryExecution(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		answer   string
		wantID   string
		wantCode string // set when an *APIError is expected
	}{
		{name: "queued", status: http.StatusAccepted, answer: `"e-new"`, wantID: "e-new"},
		{name: "unknown", status: http.StatusNotFound, answer: `{"error":{"code":"not_found","message":"execution \"x/y\" not found"}}`,
			wantCode: "not_found"},
		{name: "not failed", status: http.StatusConflict, wantCode: "not_ready",
			answer: `{"error":{"code":"not_ready","message":"execution x/y is completed: only a failed or timed-out run is run again"}}`},
		{name: "quota", status: http.StatusTooManyRequests, answer: `{"error":{"code":"quota_exceeded","message":"too many queued runs"}}`,
			wantCode: "quota_exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newCanned(t, tt.status, tt.answer)
			id, err := New(a.srv.URL, "tok").RetryExecution(context.Background(), "x/y")
			if a.method != http.MethodPost || a.path != "/v1/executions/x%2Fy/retry" || a.query != "" || a.body != "" {
				t.Errorf("sent %s %s?%s body %q; want POST /v1/executions/x%%2Fy/retry without a body", a.method, a.path, a.query, a.body)
			}
			if tt.wantCode == "" {
				if err != nil || id != tt.wantID {
					t.Errorf("RetryExecution = %q, %v; want %q", id, err, tt.wantID)
				}
				return
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != tt.status || ae.Err.Code != tt.wantCode || id != "" {
				t.Errorf("RetryExecution = %q, %v; want HTTP %d code %s", id, err, tt.status, tt.wantCode)
			}
		})
	}
}

// TestCreateDeploymentRetry: the request's retry policy is sent as {"max_attempts", "backoff_s"},
// and left out without one.
func TestCreateDeploymentRetry(t *testing.T) {
	tests := []struct {
		name  string
		retry *faaspot.RetryPolicy
		want  string
	}{
		{name: "policy", retry: &faaspot.RetryPolicy{MaxAttempts: 3, BackoffS: 1.5},
			want: `{"name":"f","code":"c","retry":{"max_attempts":3,"backoff_s":1.5}}`},
		{name: "no retry, at once", retry: &faaspot.RetryPolicy{MaxAttempts: 1},
			want: `{"name":"f","code":"c","retry":{"max_attempts":1,"backoff_s":0}}`},
		{name: "none", want: `{"name":"f","code":"c"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newCanned(t, http.StatusAccepted, `{"name":"f","version":1,"status":"building","retry":{"max_attempts":3,"backoff_s":1.5}}`)
			d, err := New(a.srv.URL, "tok").CreateDeployment(context.Background(), faaspot.DeploymentRequest{Name: "f", Code: "c", Retry: tt.retry}, false)
			if err != nil || d.Retry == nil || d.Retry.MaxAttempts != 3 || d.Retry.BackoffS != 1.5 {
				t.Errorf("CreateDeployment = %+v, %v", d, err)
			}
			if a.method != http.MethodPost || a.path != "/v1/deployments" || !sameJSON(a.body, tt.want) {
				t.Errorf("sent %s %s %s; want %s", a.method, a.path, a.body, tt.want)
			}
		})
	}
}

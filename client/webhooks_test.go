package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
)

// TestRunCallbackURL: RunWith and RunSyncWith send X-Faaspot-Callback-Url only with a URL, on
// the current and the pinned routes, beside an Idempotency-Key when both are set.
func TestRunCallbackURL(t *testing.T) {
	var mu sync.Mutex
	var got http.Header
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got, path = r.Header.Clone(), r.URL.Path
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(faaspot.HeaderExecutionID, "e1")
		if strings.HasPrefix(r.URL.Path, "/v1/sync/") {
			_, _ = w.Write([]byte(`1`))
			return
		}
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`"e1"`))
	}))
	defer srv.Close()
	c := New(srv.URL, "tok")
	const hook = "https://hooks.example.com/faaspot?x=1&y=2"
	tests := []struct {
		name      string
		sync      bool
		opts      RunOptions
		wantPath  string
		wantHooks []string // nil: no header
		wantKeys  []string
	}{
		{"queued", false, RunOptions{CallbackURL: hook}, "/v1/deployments/f/rpc/", []string{hook}, nil},
		{"queued, none", false, RunOptions{}, "/v1/deployments/f/rpc/", nil, nil},
		{"queued, pinned, with a key", false, RunOptions{Version: 2, IdempotencyKey: "k1", CallbackURL: hook},
			"/v1/deployments/f/versions/2/rpc/", []string{hook}, []string{"k1"}},
		{"queued, key only", false, RunOptions{IdempotencyKey: "k1"}, "/v1/deployments/f/rpc/", nil, []string{"k1"}},
		{"sync", true, RunOptions{CallbackURL: hook}, "/v1/sync/deployments/f/rpc/", []string{hook}, nil},
		{"sync, pinned", true, RunOptions{Version: 3, CallbackURL: hook}, "/v1/sync/deployments/f/versions/3/rpc/", []string{hook}, nil},
		{"sync, none", true, RunOptions{}, "/v1/sync/deployments/f/rpc/", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.sync {
				_, _, err = c.RunSyncWith(context.Background(), "f", nil, tt.opts)
			} else {
				_, err = c.RunWith(context.Background(), "f", nil, tt.opts)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil || path != tt.wantPath {
				t.Fatalf("run = %v, sent to %s; want %s", err, path, tt.wantPath)
			}
			if hooks := got.Values(faaspot.HeaderCallbackURL); !slices.Equal(hooks, tt.wantHooks) {
				t.Errorf("sent %s %q, want %q", faaspot.HeaderCallbackURL, hooks, tt.wantHooks)
			}
			if keys := got.Values(faaspot.HeaderIdempotencyKey); !slices.Equal(keys, tt.wantKeys) {
				t.Errorf("sent %s %q, want %q", faaspot.HeaderIdempotencyKey, keys, tt.wantKeys)
			}
		})
	}
}

// TestCreateDeploymentCallbackURL: the request's callback URL is sent as callback_url, and left
// out without one; the deployment answered carries it.
func TestCreateDeploymentCallbackURL(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"set", "https://hooks.example.com/done", `{"name":"f","code":"c","callback_url":"https://hooks.example.com/done"}`},
		{"none", "", `{"name":"f","code":"c"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newCanned(t, http.StatusAccepted, `{"name":"f","version":1,"status":"building","callback_url":"https://hooks.example.com/done"}`)
			d, err := New(a.srv.URL, "tok").CreateDeployment(context.Background(), faaspot.DeploymentRequest{Name: "f", Code: "c", CallbackURL: tt.url}, false)
			if err != nil || d.CallbackURL != "https://hooks.example.com/done" {
				t.Errorf("CreateDeployment = %+v, %v", d, err)
			}
			if a.method != http.MethodPost || a.path != "/v1/deployments" || !sameJSON(a.body, tt.want) {
				t.Errorf("sent %s %s %s; want %s", a.method, a.path, a.body, tt.want)
			}
		})
	}
}

// TestWebhookSecret: WebhookSecret GETs and RotateWebhookSecret POSTs /v1/webhook-secret without
// a body and return the secret; an answer without one and an error answer are errors.
func TestWebhookSecret(t *testing.T) {
	calls := map[string]func(*Client) (string, error){
		http.MethodGet:  func(c *Client) (string, error) { return c.WebhookSecret(context.Background()) },
		http.MethodPost: func(c *Client) (string, error) { return c.RotateWebhookSecret(context.Background()) },
	}
	for method, call := range calls {
		t.Run(method, func(t *testing.T) {
			a := newCanned(t, http.StatusOK, `{"secret":"whsec_abc"}`)
			secret, err := call(New(a.srv.URL, "tok"))
			if err != nil || secret != "whsec_abc" {
				t.Errorf("= %q, %v; want whsec_abc", secret, err)
			}
			if a.method != method || a.path != "/v1/webhook-secret" || a.query != "" || a.body != "" {
				t.Errorf("sent %s %s?%s body %q; want %s /v1/webhook-secret", a.method, a.path, a.query, a.body, method)
			}

			a = newCanned(t, http.StatusOK, `{}`)
			if secret, err = call(New(a.srv.URL, "tok")); err == nil || !strings.Contains(err.Error(), "no secret") {
				t.Errorf("empty answer: = %q, %v; want an error", secret, err)
			}

			a = newCanned(t, http.StatusUnauthorized, `{"error":{"code":"unauthorized","message":"missing or unknown token"}}`)
			if _, err = call(New(a.srv.URL, "bad")); !IsStatus(err, http.StatusUnauthorized) {
				t.Errorf("401: err = %v, want an *APIError 401", err)
			}
		})
	}
}

// The signature vector shared with the Python client's tests (clients/python/tests): the v1 of
// body signed with secret at t, HMAC-SHA256 over "1700000000." + body.
const (
	vectorSecret = "s3cret"
	vectorT      = 1700000000
	vectorBody   = `{"id":"x"}`
	vectorHeader = "t=1700000000,v1=2382c1d0968a5e57238c68de957f44d87e83d3049a5588ec251442ca372b8aec"
)

// TestCallbackSignatureVector: faaspot.SignCallback gives the pinned header, and
// faaspot.VerifyCallback accepts it within the tolerance and refuses it otherwise.
func TestCallbackSignatureVector(t *testing.T) {
	at := time.Unix(vectorT, 0)
	if got := faaspot.SignCallback(vectorSecret, at, []byte(vectorBody)); got != vectorHeader {
		t.Fatalf("SignCallback = %q, want %q", got, vectorHeader)
	}
	tests := []struct {
		name, secret, header, body string
		now                        time.Time
		ok                         bool
	}{
		{"as signed", vectorSecret, vectorHeader, vectorBody, at, true},
		{"within the tolerance", vectorSecret, vectorHeader, vectorBody, at.Add(300 * time.Second), true},
		{"signed ahead", vectorSecret, vectorHeader, vectorBody, at.Add(-300 * time.Second), true},
		{"among other signatures", vectorSecret, "t=1700000000, v1=00, v1=2382c1d0968a5e57238c68de957f44d87e83d3049a5588ec251442ca372b8aec",
			vectorBody, at, true},
		{"too old", vectorSecret, vectorHeader, vectorBody, at.Add(301 * time.Second), false},
		{"another body", vectorSecret, vectorHeader, `{"id":"y"}`, at, false},
		{"another secret", "s3cret2", vectorHeader, vectorBody, at, false},
		{"no v1", vectorSecret, "t=1700000000", vectorBody, at, false},
		{"no time", vectorSecret, "v1=2382c1d0968a5e57238c68de957f44d87e83d3049a5588ec251442ca372b8aec", vectorBody, at, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := faaspot.VerifyCallback(tt.secret, tt.header, []byte(tt.body), tt.now, 300*time.Second)
			if tt.ok && err != nil || !tt.ok && !errors.Is(err, faaspot.ErrBadSignature) {
				t.Errorf("VerifyCallback = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/faaspot/faaspot"
)

// sentRun is what the fake server saw of one run request.
type sentRun struct {
	path string
	keys []string // the Idempotency-Key values, nil when the header was absent
	body string
}

// TestRunIdempotencyKey: RunWith and RunSyncWith send the Idempotency-Key header only with a
// key, on the current and the pinned routes alike, and Run, RunVersion, RunSync and
// RunSyncVersion send none.
func TestRunIdempotencyKey(t *testing.T) {
	var mu sync.Mutex
	var sent []sentRun
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		sent = append(sent, sentRun{path: r.URL.EscapedPath(), keys: r.Header.Values(faaspot.HeaderIdempotencyKey), body: string(b)})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(faaspot.HeaderExecutionID, "e1")
		if strings.HasPrefix(r.URL.Path, "/v1/sync/") {
			_, _ = w.Write([]byte(`{"ok":true}`))
			return
		}
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`"e1"`))
	}))
	defer srv.Close()
	c := New(srv.URL, "tok")
	ctx := context.Background()
	args := map[string]any{"n": 1}
	waited := func(run func() (json.RawMessage, string, error)) func() (string, error) {
		return func() (string, error) {
			v, id, err := run()
			if err == nil && !sameJSON(string(v), `{"ok":true}`) {
				err = errors.New("value " + string(v))
			}
			return id, err
		}
	}

	tests := []struct {
		name string
		run  func() (string, error)
		path string
		key  string // "" for no header
	}{
		{"RunWith, key", func() (string, error) { return c.RunWith(ctx, "a/b", args, RunOptions{IdempotencyKey: "order-42"}) },
			"/v1/deployments/a%2Fb/rpc/", "order-42"},
		{"RunWith, no key", func() (string, error) { return c.RunWith(ctx, "a/b", args, RunOptions{}) },
			"/v1/deployments/a%2Fb/rpc/", ""},
		{"RunWith, pinned and key", func() (string, error) {
			return c.RunWith(ctx, "a/b", args, RunOptions{Version: 2, IdempotencyKey: "order-42"})
		}, "/v1/deployments/a%2Fb/versions/2/rpc/", "order-42"},
		{"RunWith, pinned, no key", func() (string, error) { return c.RunWith(ctx, "a/b", args, RunOptions{Version: 2}) },
			"/v1/deployments/a%2Fb/versions/2/rpc/", ""},
		{"Run", func() (string, error) { return c.Run(ctx, "a/b", args) }, "/v1/deployments/a%2Fb/rpc/", ""},
		{"RunVersion", func() (string, error) { return c.RunVersion(ctx, "a/b", 2, args) }, "/v1/deployments/a%2Fb/versions/2/rpc/", ""},
		{"RunSyncWith, key", waited(func() (json.RawMessage, string, error) {
			return c.RunSyncWith(ctx, "a/b", args, RunOptions{IdempotencyKey: "K~!{}"})
		}), "/v1/sync/deployments/a%2Fb/rpc/", "K~!{}"},
		{"RunSyncWith, no key", waited(func() (json.RawMessage, string, error) { return c.RunSyncWith(ctx, "a/b", args, RunOptions{}) }),
			"/v1/sync/deployments/a%2Fb/rpc/", ""},
		{"RunSyncWith, pinned and key", waited(func() (json.RawMessage, string, error) {
			return c.RunSyncWith(ctx, "a/b", args, RunOptions{Version: 3, IdempotencyKey: "order-42"})
		}), "/v1/sync/deployments/a%2Fb/versions/3/rpc/", "order-42"},
		{"RunSync", waited(func() (json.RawMessage, string, error) { return c.RunSync(ctx, "a/b", args) }),
			"/v1/sync/deployments/a%2Fb/rpc/", ""},
		{"RunSyncVersion", waited(func() (json.RawMessage, string, error) { return c.RunSyncVersion(ctx, "a/b", 3, args) }),
			"/v1/sync/deployments/a%2Fb/versions/3/rpc/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			sent = nil
			mu.Unlock()
			id, err := tt.run()
			mu.Lock()
			got := sent
			mu.Unlock()
			if err != nil || id != "e1" {
				t.Errorf("= %q, %v; want e1", id, err)
			}
			if len(got) != 1 || got[0].path != tt.path || !sameJSON(got[0].body, `{"n":1}`) {
				t.Fatalf("sent %+v, want one POST %s", got, tt.path)
			}
			switch {
			case tt.key == "" && got[0].keys != nil:
				t.Errorf("sent %s %q, want no header", faaspot.HeaderIdempotencyKey, got[0].keys)
			case tt.key != "" && (len(got[0].keys) != 1 || got[0].keys[0] != tt.key):
				t.Errorf("sent %s %q, want %q", faaspot.HeaderIdempotencyKey, got[0].keys, tt.key)
			}
		})
	}
}

// TestRunIdempotencyKeyRefused: the server's 400 for a bad key comes back as *APIError naming
// the header.
func TestRunIdempotencyKeyRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":{"code":"invalid_argument","message":"the Idempotency-Key header must be 1 to 255 printable ASCII characters without spaces","field":"Idempotency-Key"}}`))
	}))
	defer srv.Close()
	c := New(srv.URL, "tok")
	_, err := c.RunWith(context.Background(), "hello", nil, RunOptions{IdempotencyKey: "é"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Err.Field != faaspot.HeaderIdempotencyKey {
		t.Errorf("RunWith = %v, want a 400 naming %s", err, faaspot.HeaderIdempotencyKey)
	}
	_, _, err = c.RunSyncWith(context.Background(), "hello", nil, RunOptions{IdempotencyKey: "é"})
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Err.Field != faaspot.HeaderIdempotencyKey {
		t.Errorf("RunSyncWith = %v, want a 400 naming %s", err, faaspot.HeaderIdempotencyKey)
	}
}

package cli

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/faaspot/faaspot"
)

// TestRunIdempotencyKey: `fas deployments run NAME --idempotency-key K` sends K as the
// Idempotency-Key header on the queued, sync and pinned routes; without the flag no header goes;
// an empty key is a usage error, found before anything is sent.
func TestRunIdempotencyKey(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		path   string   // the run's route; "" for no request
		keys   []string // the Idempotency-Key values the server got; nil for no header
	}{
		{name: "queued", args: []string{"--idempotency-key", "order-42"}, stdout: "e-v2\n",
			path: "/v1/deployments/hello/rpc/", keys: []string{"order-42"}},
		{name: "waited", args: []string{"--idempotency-key=order-42", "--wait"}, stdout: "{\n  \"version\": 2\n}\n",
			path: "/v1/sync/deployments/hello/rpc/", keys: []string{"order-42"}},
		{name: "pinned", args: []string{"--version", "1", "--idempotency-key", "K~!{}"}, stdout: "e-v1\n",
			path: "/v1/deployments/hello/versions/1/rpc/", keys: []string{"K~!{}"}},
		{name: "pinned, waited", args: []string{"--version", "1", "--idempotency-key", "order-42", "--wait"}, stdout: "{\n  \"version\": 1\n}\n",
			path: "/v1/sync/deployments/hello/versions/1/rpc/", keys: []string{"order-42"}},
		{name: "no key", args: []string{}, stdout: "e-v2\n", path: "/v1/deployments/hello/rpc/"},
		{name: "no key, waited", args: []string{"--wait"}, stdout: "{\n  \"version\": 2\n}\n", path: "/v1/sync/deployments/hello/rpc/"},
		{name: "empty key", args: []string{"--idempotency-key", "", "--wait"}, code: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t)
			out, errOut, code := fasFor(t, api).run(append([]string{"deployments", "run", "hello", "--parameters", "a=b"}, tt.args...)...)
			if code != tt.code || out != tt.stdout {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q", code, out, errOut, tt.code, tt.stdout)
			}
			if tt.code == 2 && !strings.Contains(errOut, "--idempotency-key must not be empty") {
				t.Errorf("stderr %q, want it to name --idempotency-key", errOut)
			}
			reqs := api.requests()
			if tt.path == "" {
				if len(reqs) != 0 {
					t.Errorf("sent %d requests, want none", len(reqs))
				}
				return
			}
			if len(reqs) != 1 || reqs[0].Method != http.MethodPost || reqs[0].Path != tt.path || string(bytes.TrimSpace(reqs[0].Body)) != `{"a":"b"}` {
				t.Fatalf("sent %+v, want POST %s", reqs, tt.path)
			}
			if got := reqs[0].Header.Values(faaspot.HeaderIdempotencyKey); !slices.Equal(got, tt.keys) {
				t.Errorf("sent %s %q, want %q", faaspot.HeaderIdempotencyKey, got, tt.keys)
			}
		})
	}

	out, _, code := fasFor(t, newFakeAPI(t)).run("deployments", "run", "-h")
	if code != 0 || !strings.Contains(out, "--idempotency-key string") ||
		!strings.Contains(out, "the same key gives the same execution for 24 hours; the function runs once") ||
		!strings.Contains(out, "--idempotency-key order-42") {
		t.Errorf("run -h: exit %d, stdout %q; want the flag, its help and an example", code, out)
	}
}

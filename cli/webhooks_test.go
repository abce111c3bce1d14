package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
)

const hookURL = "https://hooks.example.com/done"

// webhookRoutes serves the tenant's webhook secret (made on first use; a POST rotates it) and
// GET /v1/deployments/{name}: hook, with a callback URL, and hello, without.
func (f *fakeAPI) webhookRoutes(mux *http.ServeMux) {
	secret := func(rotate bool) func(http.ResponseWriter, *http.Request, []byte) {
		return func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.secret == "" || rotate {
				f.serial++
				f.secret = "whsec_" + strings.Repeat("ab", f.serial)
			}
			writeJSON(w, http.StatusOK, faaspot.WebhookSecret{Secret: f.secret})
		}
	}
	mux.HandleFunc("GET /v1/webhook-secret", f.tenant(secret(false)))
	mux.HandleFunc("POST /v1/webhook-secret", f.tenant(secret(true)))
	mux.HandleFunc("GET /v1/deployments/{name}", f.tenant(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		d := faaspot.Deployment{Name: r.PathValue("name"), Version: 1, Status: faaspot.StatusReady, ReadyVersion: 1}
		switch d.Name {
		case "hook":
			d.CallbackURL = hookURL
		case "hello":
		default:
			writeJSON(w, http.StatusNotFound, map[string]any{"error": faaspot.Error{Code: "not_found", Message: "deployment not found"}})
			return
		}
		writeJSON(w, http.StatusOK, d)
	}))
}

// TestCreateCallbackURL: `fas deployments create --callback-url URL` sends it as callback_url;
// without the flag none is sent.
func TestCreateCallbackURL(t *testing.T) {
	code := filepath.Join(t.TempDir(), "f.py")
	if err := os.WriteFile(code, []byte("def main(args, context):\n    return 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string // the callback_url sent, "" for none
	}{
		{"set", []string{"--callback-url", hookURL}, hookURL},
		{"http with a port and a query", []string{"--callback-url=http://hooks.example.com:8080/a?b=c"}, "http://hooks.example.com:8080/a?b=c"},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t)
			out, errOut, exit := fasFor(t, api).run(append([]string{"deployments", "create", "hook", "--file", code, "-o", "json"}, tt.args...)...)
			var d faaspot.Deployment
			if err := json.Unmarshal([]byte(out), &d); exit != 0 || err != nil || d.CallbackURL != tt.want {
				t.Errorf("exit %d, stdout %q, stderr %q; want a deployment with callback_url %q", exit, out, errOut, tt.want)
			}
			reqs := api.requests()
			if len(reqs) != 1 || reqs[0].Method != http.MethodPost || reqs[0].Path != "/v1/deployments" {
				t.Fatalf("sent %+v, want POST /v1/deployments", reqs)
			}
			var body map[string]any
			_ = json.Unmarshal(reqs[0].Body, &body)
			if got, ok := body["callback_url"]; tt.want == "" && ok || tt.want != "" && got != tt.want {
				t.Errorf("sent callback_url %v (present %v), want %q", got, ok, tt.want)
			}
		})
	}
}

// TestRunCallbackURL: `fas deployments run NAME --callback-url URL` sends the
// X-Faaspot-Callback-Url header on the queued, sync and pinned routes, beside an idempotency key;
// without the flag no header goes.
func TestRunCallbackURL(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		path  string
		hooks []string // nil for no header
		keys  []string
	}{
		{"queued", []string{"--callback-url", hookURL}, "/v1/deployments/hello/rpc/", []string{hookURL}, nil},
		{"waited", []string{"--callback-url", hookURL, "--wait"}, "/v1/sync/deployments/hello/rpc/", []string{hookURL}, nil},
		{"pinned", []string{"--version", "1", "--callback-url", hookURL}, "/v1/deployments/hello/versions/1/rpc/", []string{hookURL}, nil},
		{"with a key", []string{"--idempotency-key", "k1", "--callback-url", hookURL}, "/v1/deployments/hello/rpc/", []string{hookURL}, []string{"k1"}},
		{"none", nil, "/v1/deployments/hello/rpc/", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t)
			_, errOut, code := fasFor(t, api).run(append([]string{"deployments", "run", "hello", "--parameters", "a=b"}, tt.args...)...)
			reqs := api.requests()
			if code != 0 || len(reqs) != 1 || reqs[0].Path != tt.path || string(bytes.TrimSpace(reqs[0].Body)) != `{"a":"b"}` {
				t.Fatalf("exit %d, stderr %q, sent %+v; want POST %s", code, errOut, reqs, tt.path)
			}
			if got := reqs[0].Header.Values(faaspot.HeaderCallbackURL); !slices.Equal(got, tt.hooks) {
				t.Errorf("sent %s %q, want %q", faaspot.HeaderCallbackURL, got, tt.hooks)
			}
			if got := reqs[0].Header.Values(faaspot.HeaderIdempotencyKey); !slices.Equal(got, tt.keys) {
				t.Errorf("sent %s %q, want %q", faaspot.HeaderIdempotencyKey, got, tt.keys)
			}
		})
	}
}

// TestShowCallbacks: `fas deployments get` shows a deployment's callback URL when it has one,
// and `fas executions get` the delivery of a run's callback when it has one.
func TestShowCallbacks(t *testing.T) {
	x := fasFor(t, newFakeAPI(t))
	out, errOut, code := x.run("deployments", "get", "hook")
	if code != 0 || !hasRow(out, "callback url", hookURL) {
		t.Errorf("get hook: exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
	out, errOut, code = x.run("deployments", "get", "hello")
	if code != 0 || strings.Contains(out, "callback") || !containsLine(out, "name", "hello") {
		t.Errorf("get hello: exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
	out, errOut, code = x.run("executions", "get", "e4dddd")
	if code != 0 || !hasRow(out, "callback", hookURL) ||
		!hasRow(out, "callback delivery", "delivered (2 attempts, last HTTP 204) at 2025-03-01 12:01:30") {
		t.Errorf("get e4dddd: exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
	out, _, code = x.run("executions", "get", "e4dddd", "-o", "json")
	var e faaspot.Execution
	if err := json.Unmarshal([]byte(out), &e); code != 0 || err != nil || e.Callback == nil || e.Callback.State != faaspot.CallbackDelivered {
		t.Errorf("get e4dddd -o json: exit %d, %v, stdout %q", code, err, out)
	}
	out, errOut, code = x.run("executions", "get", "e1aaaa")
	if code != 0 || strings.Contains(out, "callback") {
		t.Errorf("get e1aaaa: exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
}

// hasRow reports whether out has a table line of exactly the cells key and value; unlike
// containsLine, key may hold spaces.
func hasRow(out, key, value string) bool {
	for _, l := range lines(out) {
		if rest, ok := strings.CutPrefix(l, key+"  "); ok && strings.TrimSpace(rest) == value {
			return true
		}
	}
	return false
}

// TestCallbackText: each state of a delivery, with and without a status, a time and an error.
func TestCallbackText(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 5, 0, time.UTC)
	tests := []struct {
		name string
		cb   faaspot.Callback
		want string
	}{
		{"not tried yet", faaspot.Callback{State: faaspot.CallbackPending}, "pending (no attempt yet)"},
		{"delivered at once", faaspot.Callback{State: faaspot.CallbackDelivered, Attempts: 1, LastStatus: 200, DeliveredAt: &at},
			"delivered (1 attempt, last HTTP 200) at 2025-03-01 12:00:05"},
		{"retrying after an error answer", faaspot.Callback{State: faaspot.CallbackPending, Attempts: 2, LastStatus: 503},
			"pending (2 attempts, last HTTP 503)"},
		{"no answer", faaspot.Callback{State: faaspot.CallbackPending, Attempts: 1, LastError: "connection refused"},
			"pending (1 attempt): connection refused"},
		{"given up", faaspot.Callback{State: faaspot.CallbackFailed, Attempts: 5, LastStatus: 500, LastError: "gave up\nafter 5 attempts"},
			"failed (5 attempts, last HTTP 500): gave up …"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := callbackText(&tt.cb); got != tt.want {
				t.Errorf("callbackText = %q, want %q", got, tt.want)
			}
		})
	}
	if rows := callbackRows(nil); rows != nil {
		t.Errorf("callbackRows(nil) = %q, want none", rows)
	}
	rows := callbackRows(&faaspot.Callback{URL: hookURL, State: faaspot.CallbackPending})
	if want := [][]string{{"callback", hookURL}, {"callback delivery", "pending (no attempt yet)"}}; !reflect.DeepEqual(rows, want) {
		t.Errorf("callbackRows = %q, want %q", rows, want)
	}
}

// TestWebhookSecretCommand: `fas webhook-secret` prints the secret (made on first use, then the
// same), or {"secret"} with -o json; --rotate posts, prints the new one and says so on stderr.
func TestWebhookSecretCommand(t *testing.T) {
	api := newFakeAPI(t)
	x := fasFor(t, api)
	steps := []struct {
		name           string
		args           []string
		stdout, stderr string
		method         string
	}{
		{"first use", nil, "whsec_ab\n", "", http.MethodGet},
		{"the same again", nil, "whsec_ab\n", "", http.MethodGet},
		{"json", []string{"-o", "json"}, "{\n  \"secret\": \"whsec_ab\"\n}\n", "", http.MethodGet},
		{"rotate", []string{"--rotate"}, "whsec_abab\n",
			"fas: webhook secret rotated: callbacks are signed with the new one from now on; give it to your receivers\n", http.MethodPost},
		{"after rotating", nil, "whsec_abab\n", "", http.MethodGet},
		{"rotate, json", []string{"--rotate", "-o", "json"}, "{\n  \"secret\": \"whsec_ababab\"\n}\n",
			"fas: webhook secret rotated: callbacks are signed with the new one from now on; give it to your receivers\n", http.MethodPost},
	}
	for _, s := range steps {
		before := len(api.requests())
		out, errOut, code := x.run(append([]string{"webhook-secret"}, s.args...)...)
		if code != 0 || out != s.stdout || errOut != s.stderr {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want stdout %q, stderr %q", s.name, code, out, errOut, s.stdout, s.stderr)
		}
		reqs := api.requests()[before:]
		if len(reqs) != 1 || reqs[0].Method != s.method || reqs[0].Path != "/v1/webhook-secret" || len(reqs[0].Body) != 0 {
			t.Errorf("%s: sent %+v, want %s /v1/webhook-secret", s.name, reqs, s.method)
		}
	}

	_, errOut, code := newFas(t, map[string]string{"FAASPOT_URL": api.srv.URL, "FAASPOT_TOKEN": "wrong"}).run("webhook-secret", "--rotate")
	if code != 1 || !strings.Contains(errOut, "unauthorized") {
		t.Errorf("wrong token: exit %d, stderr %q", code, errOut)
	}
}

// TestCallbackURLFlag: --callback-url takes an absolute http or https URL with a host.
func TestCallbackURLFlag(t *testing.T) {
	good := []string{hookURL, "http://10.0.0.1:9000/x", "https://[::1]/x?y=1"}
	bad := []string{"", "hooks.example.com/done", "ftp://hooks.example.com/", "https:///path", "http://%zz", "/relative"}
	for _, raw := range append(good, bad...) {
		cmd := (&app{}).runCommand()
		if err := cmd.Flags().Set("callback-url", raw); err != nil {
			t.Fatal(err)
		}
		got, err := callbackURL(cmd.Flags())
		var ue usageError
		switch ok := slices.Contains(good, raw); {
		case ok && (err != nil || got != raw):
			t.Errorf("callbackURL(%q) = %q, %v; want it back", raw, got, err)
		case !ok && !errors.As(err, &ue):
			t.Errorf("callbackURL(%q) = %q, %v; want a usage error", raw, got, err)
		}
	}
	if got, err := callbackURL((&app{}).runCommand().Flags()); got != "" || err != nil {
		t.Errorf("callbackURL without the flag = %q, %v", got, err)
	}
}

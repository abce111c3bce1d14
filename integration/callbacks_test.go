package integration

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/daemon"
)

// hook is one callback a receiver got.
type hook struct {
	path, sig, id, attempt string
	body                   []byte
	at                     time.Time
}

// hookReceiver is an HTTP server on a loopback address that records every callback and answers
// each path with its scripted statuses in turn (200 once they are used up).
type hookReceiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []hook
	answers map[string][]int
}

func newHookReceiver(t *testing.T, addr string, answers map[string][]int, redirect string) *hookReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	h := &hookReceiver{answers: answers}
	h.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, hook{path: r.URL.Path, sig: r.Header.Get(faaspot.HeaderSignature), body: b, at: time.Now(),
			id: r.Header.Get(faaspot.HeaderExecutionID), attempt: r.Header.Get("X-Faaspot-Callback-Attempt")})
		status := http.StatusOK
		if q := h.answers[r.URL.Path]; len(q) > 0 {
			status, h.answers[r.URL.Path] = q[0], q[1:]
		}
		h.mu.Unlock()
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, redirect, http.StatusTemporaryRedirect)
			return
		}
		w.WriteHeader(status)
	}))
	h.Listener = ln
	h.Start()
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) hooks(path string) []hook {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hook
	for _, g := range h.got {
		if path == "" || g.path == path {
			out = append(out, g)
		}
	}
	return out
}

// waitCallback polls the execution until its callback is no longer pending.
func waitCallback(t *testing.T, c *fsclient.Client, id string) faaspot.Execution {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		e, err := c.GetExecution(context.Background(), id)
		if err == nil && e.Callback != nil && e.Callback.State != faaspot.CallbackPending {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("the callback of %s did not settle: %+v, %v", id, e.Callback, err)
		}
	}
}

// TestSignedCallbacks: an async run of a deployment with a callback URL posts its terminal record
// there, signed with the tenant's secret (checked by the Go and the Python verifiers), retried
// after a 503; a run's own URL wins; a sync run posts nothing unless it asks; a rotated secret
// signs what follows (beside the old one, for a day); a URL outside FAASPOT_CALLBACK_ALLOW is a 400, and a redirect to one is
// refused at delivery without a request reaching it.
func TestSignedCallbacks(t *testing.T) {
	inside := newHookReceiver(t, "127.0.0.2:0", nil, "") // not allowed: must never be reached
	rv := newHookReceiver(t, "127.0.0.1:0", map[string][]int{"/dep": {503}}, inside.URL+"/stolen")
	n := startNode(t, func(c *daemon.Config) { c.CallbackAllow = "127.0.0.1/32" })
	ctx := context.Background()
	n.deploy(t, faaspot.DeploymentRequest{Name: "hooked", CallbackURL: rv.URL + "/dep",
		Code: "def main(args, context):\n    return {'doubled': args.get('x', 0) * 2}\n"})
	secret, err := n.c.WebhookSecret(ctx)
	if err != nil {
		t.Fatal(err)
	}

	id, err := n.c.Run(ctx, "hooked", map[string]any{"x": 21})
	if err != nil {
		t.Fatal(err)
	}
	e := waitCallback(t, n.c, id)
	cb := e.Callback
	if cb.State != faaspot.CallbackDelivered || cb.Attempts != 2 || cb.LastStatus != 200 || cb.URL != rv.URL+"/dep" {
		t.Fatalf("callback = %+v; want delivered on the second attempt", cb)
	}
	got := rv.hooks("/dep")
	if len(got) != 2 || got[1].id != id || got[1].attempt != "2" || got[1].at.Sub(got[0].at) < 900*time.Millisecond {
		t.Fatalf("the receiver got %d callbacks: %+v", len(got), got)
	}
	last := got[1]
	if err := faaspot.VerifyCallback(secret, last.sig, last.body, time.Now(), 5*time.Minute); err != nil {
		t.Fatalf("the signature does not verify: %v", err)
	}
	if !strings.Contains(string(last.body), `"doubled":42`) || !strings.Contains(string(last.body), `"status":"completed"`) {
		t.Errorf("body = %s", last.body)
	}
	verifyInPython(t, secret, last)
	t.Logf("delivered after a 503 in %v (run end to delivery)", last.at.Sub(*e.FinishedAt).Round(time.Millisecond))

	// A run's own URL wins over the deployment's; a sync run posts only when it asks.
	id2, err := n.c.RunWith(ctx, "hooked", nil, fsclient.RunOptions{CallbackURL: rv.URL + "/own"})
	if err != nil {
		t.Fatal(err)
	}
	if e := waitCallback(t, n.c, id2); e.Callback.URL != rv.URL+"/own" || len(rv.hooks("/own")) != 1 {
		t.Errorf("a run's own callback: %+v, %d posts", e.Callback, len(rv.hooks("/own")))
	} else {
		t.Logf("delivered at the first attempt %v after the run's end", rv.hooks("/own")[0].at.Sub(*e.FinishedAt).Round(time.Millisecond))
	}
	_, sid, err := n.c.RunSync(ctx, "hooked", nil)
	if se, _ := n.c.GetExecution(ctx, sid); err != nil || se.Callback != nil {
		t.Errorf("a sync run: %+v, %v; want no callback", se.Callback, err)
	}

	// A rotated secret signs what follows.
	rotated, err := n.c.RotateWebhookSecret(ctx)
	if err != nil || rotated == secret {
		t.Fatalf("rotate = %q, %v", rotated, err)
	}
	id3, _ := n.c.RunWith(ctx, "hooked", nil, fsclient.RunOptions{CallbackURL: rv.URL + "/rotated"})
	waitCallback(t, n.c, id3)
	// For a day after a rotation the old secret signs too: receivers switch without a failure.
	if h := rv.hooks("/rotated"); len(h) != 1 || faaspot.VerifyCallback(rotated, h[0].sig, h[0].body, time.Now(), time.Minute) != nil ||
		faaspot.VerifyCallback(secret, h[0].sig, h[0].body, time.Now(), time.Minute) != nil || strings.Count(h[0].sig, "v1=") != 2 {
		t.Errorf("after rotation: %d posts; want one signed with the new and the old secret", len(h))
	}

	// Refused: at the API for an address outside the allowed prefix, at delivery for a redirect.
	if _, err := n.c.RunWith(ctx, "hooked", nil, fsclient.RunOptions{CallbackURL: inside.URL + "/direct"}); !isInvalid(err, faaspot.HeaderCallbackURL) {
		t.Errorf("a run with a callback to 127.0.0.2: %v, want a 400 naming the header", err)
	}
	id4, _ := n.c.RunWith(ctx, "hooked", nil, fsclient.RunOptions{CallbackURL: rv.URL + "/redirect"})
	if e := waitCallback(t, n.c, id4); e.Callback.State != faaspot.CallbackFailed || !strings.Contains(e.Callback.LastError, "inside the server's network") {
		t.Errorf("a callback redirected inside: %+v, want failed naming the refused address", e.Callback)
	}
	if h := inside.hooks(""); len(h) != 0 {
		t.Fatalf("the refused address got %d requests", len(h))
	}
}

// isInvalid reports whether err is an API error 400 naming field.
func isInvalid(err error, field string) bool {
	var apiErr *fsclient.APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusBadRequest && apiErr.Err.Field == field
}

// verifyInPython checks the delivery with the Python client's faaspot.verify_signature.
func verifyInPython(t *testing.T, secret string, h hook) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "body"), h.body, 0o600); err != nil {
		t.Fatal(err)
	}
	script := "import faaspot, os, sys\n" +
		"body = open(sys.argv[1], 'rb').read()\n" +
		"print(faaspot.verify_signature(os.environ['SECRET'], os.environ['SIG'], body))\n" +
		"try:\n    faaspot.verify_signature('wrong', os.environ['SIG'], body)\n    print('accepted a wrong secret')\n" +
		"except faaspot.SignatureError:\n    pass\n"
	cmd := exec.Command(pyPython(t), "-c", script, filepath.Join(dir, "body"))
	cmd.Env = append(pyEnv(t, dir), "SECRET="+secret, "SIG="+h.sig)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "True" {
		t.Fatalf("Python's verify_signature: %s, %v", out, err)
	}
}

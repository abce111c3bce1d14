package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/faaspot/faaspot"
)

// doCallback sends a run request with an X-Faaspot-Callback-Url.
func (e *apiEnv) doCallback(method, path, url string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.doWith(method, path, faaspot.HeaderCallbackURL, url)
}

// TestCallbackURLHeader: a run's callback URL is recorded pending; one inside the server's
// network (loopback, private, link-local, the metadata address, by DNS or literally), of another
// scheme, or malformed, is a 400 naming the header and queues nothing. No request is sent to
// any of them: the API only checks.
func TestCallbackURLHeader(t *testing.T) {
	env := newEnv(t, nil)
	env.readyDeployment("fn")
	var id string
	expect(t, env.doCallback(http.MethodPost, "/v1/deployments/fn/rpc/", "https://93.184.216.34/hook?k=1"), http.StatusAccepted, &id)
	var e faaspot.Execution
	expect(t, env.do(http.MethodGet, "/v1/executions/"+id, env.token, ""), http.StatusOK, &e)
	if e.Callback == nil || e.Callback.URL != "https://93.184.216.34/hook?k=1" || e.Callback.State != faaspot.CallbackPending {
		t.Fatalf("callback = %+v, want pending with the URL", e.Callback)
	}
	for _, bad := range []string{
		"http://127.0.0.1:8080/", "http://localhost/", "http://[::1]/", "http://10.0.0.1/", "http://192.168.1.10/",
		"http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://[::ffff:127.0.0.1]/",
		"ftp://93.184.216.34/", "not a url", "https:///nohost", "http://93.184.216.34/#frag",
		"https://93.184.216.34/" + strings.Repeat("a", 2100),
	} {
		expectError(t, env.doCallback(http.MethodPost, "/v1/deployments/fn/rpc/", bad), http.StatusBadRequest,
			"invalid_argument", faaspot.HeaderCallbackURL)
	}
	if n := env.queuedRuns(); n != 1 {
		t.Errorf("%d runs queued, want only the accepted one", n)
	}
}

// TestDeploymentCallbackURL: a deployment's callback_url is checked like the header, shown, and
// part of its version (changing it makes a new version).
func TestDeploymentCallbackURL(t *testing.T) {
	env := newEnv(t, nil)
	body := func(u string) string {
		b, _ := json.Marshal(map[string]any{"name": "fn", "code": validCode, "callback_url": u})
		return string(b)
	}
	expectError(t, env.do(http.MethodPost, "/v1/deployments", env.token, body("http://169.254.169.254/")), http.StatusBadRequest,
		"invalid_argument", "callback_url")
	expect(t, env.do(http.MethodPost, "/v1/deployments", env.token, body("https://93.184.216.34/a")), http.StatusAccepted, nil)
	var d faaspot.Deployment
	expect(t, env.do(http.MethodGet, "/v1/deployments/fn", env.token, ""), http.StatusOK, &d)
	if d.CallbackURL != "https://93.184.216.34/a" || d.Version != 1 {
		t.Fatalf("deployment = %+v", d)
	}
	expect(t, env.do(http.MethodPost, "/v1/deployments", env.token, body("https://93.184.216.34/b")), http.StatusAccepted, &d)
	if d.CallbackURL != "https://93.184.216.34/b" || d.Version != 2 {
		t.Fatalf("after changing the callback URL: %+v, want version 2", d)
	}
}

// TestWebhookSecret: the secret is made once and kept, never cached by a proxy, rotated by POST,
// and needs a token.
func TestWebhookSecret(t *testing.T) {
	env := newEnv(t, nil)
	var first, again, rotated faaspot.WebhookSecret
	rec := env.do(http.MethodGet, "/v1/webhook-secret", env.token, "")
	expect(t, rec, http.StatusOK, &first)
	if first.Secret == "" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("secret %q, Cache-Control %q", first.Secret, rec.Header().Get("Cache-Control"))
	}
	expect(t, env.do(http.MethodGet, "/v1/webhook-secret", env.token, ""), http.StatusOK, &again)
	expect(t, env.do(http.MethodPost, "/v1/webhook-secret", env.token, ""), http.StatusOK, &rotated)
	if again != first || rotated == first {
		t.Fatalf("secrets: %q, %q, rotated %q", first.Secret, again.Secret, rotated.Secret)
	}
	_, other := env.newTenant("other")
	var theirs faaspot.WebhookSecret
	expect(t, env.do(http.MethodGet, "/v1/webhook-secret", other, ""), http.StatusOK, &theirs)
	if theirs == rotated {
		t.Fatal("two tenants share a secret")
	}
	expectError(t, env.do(http.MethodGet, "/v1/webhook-secret", "", ""), http.StatusUnauthorized, "unauthorized", "")
	if strings.Contains(env.logs.String(), rotated.Secret) {
		t.Fatal("the secret is in the logs")
	}
}

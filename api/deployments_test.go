package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

func jsonBody(fields map[string]any) string {
	b, err := json.Marshal(fields)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestCreateDeploymentRejects(t *testing.T) {
	env := newEnv(t, nil)
	valid := func(extra map[string]any) string {
		m := map[string]any{"name": "fn", "code": validCode}
		for k, v := range extra {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return jsonBody(m)
	}
	tests := []struct {
		name   string
		body   string
		status int
		code   string
		field  string
	}{
		{name: "bad name", body: valid(map[string]any{"name": "Bad Name"}), status: 400, code: "invalid_argument", field: "name"},
		{name: "name with a colon", body: valid(map[string]any{"name": "a:b"}), status: 400, code: "invalid_argument", field: "name"},
		{name: "name with a slash", body: valid(map[string]any{"name": "a/b"}), status: 400, code: "invalid_argument", field: "name"},
		{name: "name starting with a dot", body: valid(map[string]any{"name": ".hidden"}), status: 400, code: "invalid_argument", field: "name"},
		{name: "name of 64 characters", body: valid(map[string]any{"name": strings.Repeat("a", 64)}), status: 400, code: "invalid_argument", field: "name"},
		{name: "name with a slash", body: valid(map[string]any{"name": "a/b"}), status: 400, field: "name"},
		{name: "name too long", body: valid(map[string]any{"name": strings.Repeat("a", 64)}), status: 400, field: "name"},
		{name: "missing name", body: valid(map[string]any{"name": nil}), status: 400, field: "name"},
		{name: "missing code", body: valid(map[string]any{"code": nil}), status: 400, code: "invalid_argument", field: "code"},
		{name: "blank code", body: valid(map[string]any{"code": " \n\t"}), status: 400, field: "code"},
		{name: "code with NUL", body: valid(map[string]any{"code": "def main(a, c):\x00\n"}), status: 400, field: "code"},
		{name: "unknown field", body: valid(map[string]any{"runtime": "python2"}), status: 400, code: "invalid_argument", field: "runtime"},
		{name: "malformed JSON", body: `{"name": "fn", "code": `, status: 400, code: "invalid_argument"},
		{name: "syntax error", body: `{"name": "fn" "code": "x"}`, status: 400, code: "invalid_argument"},
		{name: "empty body", body: ``, status: 400, code: "invalid_argument"},
		{name: "not an object", body: `["fn"]`, status: 400, code: "invalid_argument"},
		{name: "two objects", body: valid(nil) + valid(nil), status: 400, code: "invalid_argument"},
		{name: "wrong type", body: `{"name": 5, "code": "x"}`, status: 400, field: "name"},
		{name: "wrong limits type", body: valid(map[string]any{"limits": map[string]any{"memory_mb": "big"}}), status: 400, field: "limits.memory_mb"},
		{name: "body over MaxBodyBytes", body: valid(map[string]any{"code": strings.Repeat("#", 2<<20)}), status: 413, code: "too_large"},
		{name: "code over MaxCodeBytes", body: valid(map[string]any{"code": validCode + strings.Repeat("#", 1<<20)}), status: 413, code: "too_large", field: "code"},
		{name: "requirements with -r", body: valid(map[string]any{"requirements": "-r x"}), status: 400, code: "invalid_argument", field: "requirements"},
		{name: "requirements with a URL", body: valid(map[string]any{"requirements": "six\nevil @ https://x/y.whl"}), status: 400, field: "requirements"},
		{name: "requirements with an index", body: valid(map[string]any{"requirements": "--index-url http://x"}), status: 400, field: "requirements"},
		{name: "memory over the max", body: valid(map[string]any{"limits": map[string]any{"memory_mb": 4096}}), status: 400, code: "invalid_argument", field: "limits.memory_mb"},
		{name: "memory under 16 MB", body: valid(map[string]any{"limits": map[string]any{"memory_mb": 8}}), status: 400, field: "limits.memory_mb"},
		{name: "negative memory", body: valid(map[string]any{"limits": map[string]any{"memory_mb": -1}}), status: 400, field: "limits.memory_mb"},
		{name: "cpus over the max", body: valid(map[string]any{"limits": map[string]any{"cpus": 3}}), status: 400, field: "limits.cpus"},
		{name: "timeout over the max", body: valid(map[string]any{"limits": map[string]any{"timeout_s": 901}}), status: 400, field: "limits.timeout_s"},
		{name: "unknown limit", body: valid(map[string]any{"limits": map[string]any{"gpus": 1}}), status: 400, field: "gpus"},
		{name: "unknown isolation", body: valid(map[string]any{"warm": map[string]any{"isolation": "vm"}}), status: 400, field: "warm.isolation"},
		{name: "context array", body: valid(map[string]any{"context": []string{"a"}}), status: 400, field: "context"},
		{name: "context number", body: valid(map[string]any{"context": 5}), status: 400, field: "context"},
		{name: "context bad file text", body: valid(map[string]any{"context": "key = \"unterminated\nother = 1"}), status: 400, field: "context"},
		{name: "context too large", body: valid(map[string]any{"context": map[string]any{"k": strings.Repeat("v", 64<<10)}}), status: 413, field: "context"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, route := range []struct{ method, path string }{
				{http.MethodPost, "/v1/deployments"},
				{http.MethodPut, "/api/deployments/"},
			} {
				rec := env.do(route.method, route.path, env.token, tt.body)
				expectError(t, rec, tt.status, tt.code, tt.field)
			}
			// Nothing is stored on rejection.
			if names := env.listNames(); len(names) != 0 {
				t.Errorf("deployments after a rejected request: %v", names)
			}
			if n, err := env.store.QueueDepth(context.Background(), store.Builds); err != nil || n != 0 {
				t.Errorf("builds queued after a rejected request: %d, %v", n, err)
			}
		})
	}
}

func TestCreateDeployment(t *testing.T) {
	env := newEnv(t, nil)
	d := env.createDeployment(env.token, deploymentBody("fn"))
	if d.Name != "fn" || d.Version != 1 || d.Status != faaspot.StatusBuilding || d.ID == "" || d.ReadyVersion != 0 {
		t.Errorf("created = %+v", d)
	}
	if d.Limits != env.cfg.DefaultLimits {
		t.Errorf("limits = %+v, want the defaults %+v", d.Limits, env.cfg.DefaultLimits)
	}
	if d.ContextKeys == nil || len(d.ContextKeys) != 0 {
		t.Errorf("context_keys = %#v, want []", d.ContextKeys)
	}
	job, err := env.store.NextJob(context.Background(), store.Builds, "w", time.Second)
	if err != nil || job == nil || job.Name != "fn" || job.Version != 1 || job.Tenant != env.tenant.ID {
		t.Fatalf("queued build = %+v, %v", job, err)
	}

	// The seed route updates it: a new version with the given limits.
	var d2 deployment
	body := jsonBody(map[string]any{"name": "fn", "code": validCode, "requirements": "six==1.16.0\n",
		"limits": map[string]any{"memory_mb": 512, "timeout_s": 5}})
	expect(t, env.do(http.MethodPut, "/api/deployments/", env.token, body), http.StatusAccepted, &d2)
	if d2.Version != 2 || d2.ID != d.ID {
		t.Errorf("updated = %+v", d2)
	}
	if want := (faaspot.Limits{MemoryMB: 512, CPUs: env.cfg.DefaultLimits.CPUs, TimeoutS: 5}); d2.Limits != want {
		t.Errorf("limits = %+v, want %+v", d2.Limits, want)
	}
	ver, err := env.store.LoadVersion(context.Background(), env.tenant.ID, "fn", 2)
	if src := ver.Source; err != nil || src.Code != validCode || src.Requirements != "six==1.16.0\n" {
		t.Errorf("stored source = %+v, %v", ver, err)
	}
}

func TestCreateDeploymentWait(t *testing.T) {
	tests := []struct {
		name    string
		outcome store.BuildOutcome
		status  int
		check   func(t *testing.T, body []byte)
	}{
		{name: "built", outcome: store.BuildOutcome{Image: "img", Log: "ok\n"}, status: http.StatusOK,
			check: func(t *testing.T, body []byte) {
				var d deployment
				_ = json.Unmarshal(body, &d)
				if d.Status != faaspot.StatusReady || d.ReadyVersion != 1 {
					t.Errorf("deployment = %+v", d)
				}
			}},
		{name: "build failed", outcome: store.BuildOutcome{Log: "FAASPOT-CHECK: no main\n", Error: "the code defines no main"},
			status: http.StatusUnprocessableEntity,
			check: func(t *testing.T, body []byte) {
				var v struct {
					Error      struct{ Code, Message string }
					Deployment deployment
				}
				_ = json.Unmarshal(body, &v)
				if v.Error.Code != "build_failed" || v.Error.Message != "the code defines no main" ||
					v.Deployment.Status != faaspot.StatusFailed || !strings.Contains(v.Deployment.BuildLog, "no main") {
					t.Errorf("answer = %s", body)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t, nil)
			built := make(chan struct{})
			go func() {
				defer close(built)
				job, err := env.store.NextJob(context.Background(), store.Builds, "w", 5*time.Second)
				if err != nil || job == nil {
					t.Errorf("NextJob = %v, %v", job, err)
					return
				}
				if _, err := env.store.FinishBuild(context.Background(), *job, tt.outcome); err != nil {
					t.Errorf("FinishBuild: %v", err)
				}
			}()
			rec := env.do(http.MethodPost, "/v1/deployments?wait=true", env.token, deploymentBody("fn"))
			<-built
			expect(t, rec, tt.status, nil)
			tt.check(t, rec.Body.Bytes())
		})
	}
}

func TestDeploymentContext(t *testing.T) {
	tests := []struct {
		name     string
		context  any
		wantKeys []string
		values   []string // must never appear in a response or a log line
	}{
		{name: "seed context-file text", context: "access_key_is = \"XYZ\"\nsecret_access_key = \"123\"",
			wantKeys: []string{"access_key_is", "secret_access_key"}, values: []string{`XYZ`, `"123"`, `= 123`}},
		{name: "percent-encoded context-file text", context: "access_key_is%20%3D%20%22QWERTY-9%22%0Atoken%20%3D%20%22ZZTOP-77%22",
			wantKeys: []string{"access_key_is", "token"}, values: []string{"QWERTY-9", "ZZTOP-77"}},
		{name: "JSON object", context: map[string]any{"db_password": "Pa55-W0rd-Q9", "nested": map[string]any{"k": "NESTED-VALUE-7"}},
			wantKeys: []string{"db_password", "nested"}, values: []string{"Pa55-W0rd-Q9", "NESTED-VALUE-7"}},
		{name: "JSON object in a string", context: `{"api_key": "STRING-JSON-KEY-3"}`,
			wantKeys: []string{"api_key"}, values: []string{"STRING-JSON-KEY-3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t, nil)
			body := jsonBody(map[string]any{"name": "fn", "code": validCode, "context": tt.context})
			d := env.createDeployment(env.token, body)
			if !slices.Equal(d.ContextKeys, tt.wantKeys) {
				t.Errorf("context_keys = %v, want %v", d.ContextKeys, tt.wantKeys)
			}
			// Every way a deployment or a run is shown.
			env.finishBuild(store.BuildOutcome{Image: "img", Log: "built\n"})
			expect(t, env.do(http.MethodGet, "/v1/deployments/fn", env.token, ""), http.StatusOK, nil)
			expect(t, env.do(http.MethodGet, "/v1/deployments", env.token, ""), http.StatusOK, nil)
			var id string
			expect(t, env.do(http.MethodPost, "/v1/deployments/fn/rpc/", env.token, `{"a":1}`), http.StatusAccepted, &id)
			expect(t, env.do(http.MethodGet, "/v1/executions/"+id, env.token, ""), http.StatusOK, nil)
			expect(t, env.do(http.MethodGet, "/v1/executions", env.token, ""), http.StatusOK, nil)
			expect(t, env.do(http.MethodGet, "/metrics", "", ""), http.StatusOK, nil)

			bodies, logs := env.allBodies(), env.logs.String()
			for _, v := range tt.values {
				if strings.Contains(bodies, v) {
					t.Errorf("context value %q is in a response body", v)
				}
				if strings.Contains(logs, v) {
					t.Errorf("context value %q is in the logs", v)
				}
			}
			// The values are kept for the runs, though.
			ctxJSON, err := env.store.LoadContext(context.Background(), env.tenant.ID, "fn", 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range tt.values[:1] {
				if !strings.Contains(string(ctxJSON), strings.Trim(v, `"= `)) {
					t.Errorf("stored context %s lacks %q", ctxJSON, v)
				}
			}
		})
	}
}

func TestPercentEncodedSource(t *testing.T) {
	tests := []struct {
		name         string
		code         string
		requirements string
		wantCode     string
		wantReqs     string
	}{
		{
			name:     "quote() of the code", // urllib.parse.quote of the code below
			code:     "def%20main%28args%2C%20context%29%3A%0A%20%20%20%20return%20%7B%22n%22%3A%20100%7D%0A",
			wantCode: "def main(args, context):\n    return {\"n\": 100}\n",
		},
		{
			name: "quote() of the requirements", code: validCode, wantCode: validCode,
			requirements: "six%3D%3D1.16.0%0Aidna%3E%3D3%0A", wantReqs: "six==1.16.0\nidna>=3\n",
		},
		{
			name:     "plain code with a percent sign",
			code:     "def main(args, context):\n    return '%d%%' % 5\n",
			wantCode: "def main(args, context):\n    return '%d%%' % 5\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t, nil)
			env.createDeployment(env.token, jsonBody(map[string]any{"name": "fn", "code": tt.code, "requirements": tt.requirements}))
			ver, err := env.store.LoadVersion(context.Background(), env.tenant.ID, "fn", 1)
			if err != nil {
				t.Fatal(err)
			}
			src := ver.Source
			if src.Code != tt.wantCode || src.Requirements != tt.wantReqs {
				t.Errorf("stored code %q requirements %q; want %q, %q", src.Code, src.Requirements, tt.wantCode, tt.wantReqs)
			}
		})
	}
}

func TestDeploymentsListGetDelete(t *testing.T) {
	env := newEnv(t, nil)
	_, otherToken := env.newTenant("other")
	fn := env.readyDeployment("fn")
	env.createDeployment(env.token, deploymentBody("another"))

	t.Run("list", func(t *testing.T) {
		if names := env.listNames(); !slices.Equal(names, []string{"another", "fn"}) {
			t.Errorf("names = %v", names)
		}
		var ds []deployment
		expect(t, env.do(http.MethodGet, "/v1/deployments", otherToken, ""), http.StatusOK, &ds)
		if ds == nil || len(ds) != 0 {
			t.Errorf("other tenant's list = %#v, want []", ds)
		}
		for _, d := range ds {
			if d.BuildLog != "" {
				t.Error("the list shows build logs")
			}
		}
	})
	t.Run("get", func(t *testing.T) {
		var d deployment
		expect(t, env.do(http.MethodGet, "/v1/deployments/fn", env.token, ""), http.StatusOK, &d)
		if d.ID != fn.ID || d.Status != faaspot.StatusReady || d.ReadyVersion != 1 || d.BuildLog != "built\n" {
			t.Errorf("deployment = %+v", d)
		}
		expectError(t, env.do(http.MethodGet, "/v1/deployments/nope", env.token, ""), http.StatusNotFound, "not_found", "")
		expectError(t, env.do(http.MethodGet, "/v1/deployments/fn", otherToken, ""), http.StatusNotFound, "not_found", "")
	})
	t.Run("other tenant cannot delete", func(t *testing.T) {
		expectError(t, env.do(http.MethodDelete, "/v1/deployments/fn", otherToken, ""), http.StatusNotFound, "not_found", "")
		if calls := env.engine.removeCalls(); len(calls) != 0 {
			t.Errorf("images removed: %+v", calls)
		}
		expect(t, env.do(http.MethodGet, "/v1/deployments/fn", env.token, ""), http.StatusOK, nil)
	})
	t.Run("delete", func(t *testing.T) {
		rec := env.do(http.MethodDelete, "/v1/deployments/fn", env.token, "")
		if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
			t.Fatalf("delete = %d %q, want 204 without body", rec.Code, rec.Body)
		}
		expectError(t, env.do(http.MethodGet, "/v1/deployments/fn", env.token, ""), http.StatusNotFound, "not_found", "")
		expectError(t, env.do(http.MethodDelete, "/v1/deployments/fn", env.token, ""), http.StatusNotFound, "not_found", "")
		calls := env.engine.removeCalls()
		if len(calls) != 1 || calls[0] != (removeCall{env.tenant.ID, fn.ID}) {
			t.Errorf("RemoveImages calls = %+v, want one with (%s, %s)", calls, env.tenant.ID, fn.ID)
		}
		if names := env.listNames(); !slices.Equal(names, []string{"another"}) {
			t.Errorf("names after delete = %v", names)
		}
	})
}

// TestDeploymentHidesImage: the engine's image tag is internal: no deployment answer (single,
// list, create) carries it, under any key.
func TestDeploymentHidesImage(t *testing.T) {
	env := newEnv(t, nil)
	d := env.readyDeployment("fn")
	tag := "faaspot/t-x/d-" + d.ID
	for _, path := range []string{"/v1/deployments/fn", "/v1/deployments"} {
		rec := env.do(http.MethodGet, path, env.token, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		if body := rec.Body.String(); strings.Contains(body, tag) || strings.Contains(body, `"image"`) {
			t.Errorf("GET %s serves the image: %s", path, body)
		}
	}
	rec := env.do(http.MethodPost, "/v1/deployments", env.token, deploymentBody("fn")) // identical: 200
	if body := rec.Body.String(); rec.Code != http.StatusOK || strings.Contains(body, tag) || strings.Contains(body, `"image"`) {
		t.Errorf("redeploy answer: %d %s", rec.Code, body)
	}
}

// TestDeploymentNames: names take letters of either case, digits, '_', '-' and '.', and are
// case-sensitive: "Hello" and "hello" are two deployments.
func TestDeploymentNames(t *testing.T) {
	env := newEnv(t, nil)
	for _, name := range []string{"DEPLOYMENT_NAME", "Hello", "hello", "my.func-v2", "a", strings.Repeat("Z", 63)} {
		if d := env.createDeployment(env.token, deploymentBody(name)); d.Name != name || d.Version != 1 {
			t.Errorf("create %q = %+v", name, d)
		}
	}
	var got deployment
	expect(t, env.do(http.MethodGet, "/v1/deployments/Hello", env.token, ""), http.StatusOK, &got)
	var other deployment
	expect(t, env.do(http.MethodGet, "/v1/deployments/hello", env.token, ""), http.StatusOK, &other)
	if got.Name != "Hello" || other.Name != "hello" || got.ID == other.ID {
		t.Errorf("Hello = %+v, hello = %+v: want two deployments", got, other)
	}
	expectError(t, env.do(http.MethodGet, "/v1/deployments/HELLO", env.token, ""), http.StatusNotFound, "not_found", "")
}

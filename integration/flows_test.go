package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/daemon"
)

// The seed's hello function, using a requirement from the local index and the context.
const helloCode = `import faaspot_testpkg

def main(args, context):
    name = args.get('name', 'world')
    print('running for', name)
    return {"greeting": "hello " + name, "pkg": faaspot_testpkg.hello(),
            "has_key": context.get("access_key_is") == "XYZ", "context_keys": sorted(context)}
`

const seedContext = "access_key_is = \"XYZ\"\nsecret_access_key = \"123\"\n"

// TestSeedHTTPExamples walks the seed's curl examples: create with requirements and a context
// file, sync run with query parameters, async run returning a JSON-string id, execution get.
func TestSeedHTTPExamples(t *testing.T) {
	n := startNode(t)
	body := mustJSON(map[string]string{"name": "hello", "code": helloCode,
		"requirements": testPkg + "==" + testVersion, "context": seedContext})
	a := n.raw(t, http.MethodPut, "/api/deployments/?wait=true", body)
	if a.status != http.StatusOK {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	if strings.Contains(string(a.body), "XYZ") || strings.Contains(string(a.body), `"123"`) {
		t.Fatalf("create answer leaks the context: %s", a.body)
	}

	a = n.raw(t, http.MethodPut, "/v1/sync/deployments/hello/rpc/?name=user1", "")
	if a.status != http.StatusOK {
		t.Fatalf("sync run: %d %s", a.status, a.body)
	}
	got := a.json(t)
	if got["greeting"] != "hello user1" || got["pkg"] != "hello from a wheel" || got["has_key"] != true {
		t.Fatalf("sync run returned %s", a.body)
	}
	if a.header.Get("X-Faaspot-Execution-Id") == "" {
		t.Fatal("sync answer has no X-Faaspot-Execution-Id")
	}

	a = n.raw(t, http.MethodGet, "/v1/deployments/hello/rpc/?PARAMETER=VALUE", "")
	var id string
	if a.status != http.StatusAccepted || json.Unmarshal(a.body, &id) != nil || id == "" {
		t.Fatalf("async run: want 202 with a JSON string id, got %d %s", a.status, a.body)
	}
	e, err := n.c.WaitExecution(context.Background(), id, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	a = n.raw(t, http.MethodGet, "/v1/executions/"+id, "")
	rec := a.json(t)
	if rec["status"] != "completed" || e.Status != faaspot.ExecCompleted {
		t.Fatalf("execution: %s", a.body)
	}
	for _, field := range []string{"id", "deployment", "version", "status", "args", "result", "error", "stdout", "stderr",
		"stdout_truncated", "stderr_truncated", "created_at", "started_at", "finished_at", "queue_ms", "duration_ms",
		"cold_start", "exit_code", "oom_killed"} {
		if _, ok := rec[field]; !ok {
			t.Errorf("execution record lacks %q", field)
		}
	}
	if args := rec["args"].(map[string]any); args["PARAMETER"] != "VALUE" {
		t.Errorf("args = %v", rec["args"])
	}
	if e.Stdout != "running for world\n" {
		t.Errorf("stdout = %q", e.Stdout)
	}
	if strings.Contains(string(a.body), "XYZ") {
		t.Error("execution record leaks the context")
	}
}

// TestPercentEncodedSeedBody sends code and context encoded with Python's quote(), as the seed
// suggests.
func TestPercentEncodedSeedBody(t *testing.T) {
	n := startNode(t)
	code := "def main(args, context):\n    return context['k'] + '!'\n"
	body := mustJSON(map[string]string{"name": "enc", "code": pyQuote(code), "context": pyQuote(`k = "v"`),
		"requirements": pyQuote(testPkg + "==" + testVersion)})
	if a := n.raw(t, http.MethodPut, "/api/deployments/?wait=1", body); a.status != http.StatusOK {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	a := n.raw(t, http.MethodPost, "/v1/sync/deployments/enc/rpc/", "")
	if a.status != http.StatusOK || strings.TrimSpace(string(a.body)) != `"v!"` {
		t.Fatalf("run: %d %s", a.status, a.body)
	}
}

// pyQuote is Python's urllib.parse.quote(s.encode("utf-8")): everything but letters, digits and
// "_.-~/" percent-encoded.
func pyQuote(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_.-~/", c) >= 0) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// TestRunOutcomes covers every way a run can end, over HTTP.
func TestRunOutcomes(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	cases := []struct {
		name, code string
		limits     *faaspot.Limits
		status     int
		check      func(t *testing.T, e faaspot.Execution)
	}{
		{name: "typed-args", code: "def main(args, context):\n    return {'n': args['n'] * 2, 'q': args['q']}\n",
			status: http.StatusOK, check: func(t *testing.T, e faaspot.Execution) {
				if string(e.Result) != `{"n": 42, "q": "s"}` && !strings.Contains(string(e.Result), `"n":42`) && !strings.Contains(string(e.Result), `"n": 42`) {
					t.Errorf("result %s", e.Result)
				}
			}},
		{name: "exception", code: "def main(args, context):\n    raise ValueError('bad value')\n",
			status: http.StatusInternalServerError, check: func(t *testing.T, e faaspot.Execution) {
				wantError(t, e, faaspot.ExecFailed, "ValueError", "bad value")
				if !strings.Contains(e.Error.Traceback, "main.py") || strings.Contains(e.Error.Traceback, "runner.py") {
					t.Errorf("traceback should show the function, not the runner: %s", e.Error.Traceback)
				}
			}},
		{name: "timeout", code: "def main(args, context):\n    while True:\n        pass\n",
			limits: &faaspot.Limits{TimeoutS: 1}, status: http.StatusGatewayTimeout,
			check: func(t *testing.T, e faaspot.Execution) {
				wantError(t, e, faaspot.ExecTimeout, "Timeout", "longer than 1s")
			}},
		{name: "memory", code: "def main(args, context):\n    x = []\n    while True:\n        x.append(bytearray(8 << 20))\n",
			limits: &faaspot.Limits{MemoryMB: 48}, status: http.StatusInternalServerError,
			check: func(t *testing.T, e faaspot.Execution) {
				wantError(t, e, faaspot.ExecFailed, "OutOfMemory", "48 MB")
				if !e.OOMKilled {
					t.Error("oom_killed should be true")
				}
			}},
		{name: "huge-output", code: "import sys\ndef main(args, context):\n    for _ in range(2000):\n        print('x' * 5000)\n        print('y' * 5000, file=sys.stderr)\n    return 'done'\n",
			status: http.StatusOK, check: func(t *testing.T, e faaspot.Execution) {
				if !e.StdoutTruncated || !e.StderrTruncated || len(e.Stdout) != 256<<10 || len(e.Stderr) != 256<<10 {
					t.Errorf("want both streams capped at 256 KiB and flagged, got %d/%v %d/%v",
						len(e.Stdout), e.StdoutTruncated, len(e.Stderr), e.StderrTruncated)
				}
			}},
		{name: "non-json", code: "def main(args, context):\n    return object()\n",
			status: http.StatusInternalServerError, check: func(t *testing.T, e faaspot.Execution) {
				wantError(t, e, faaspot.ExecFailed, "ResultNotSerializable", "not JSON-serializable")
			}},
		{name: "nan", code: "def main(args, context):\n    return float('nan')\n",
			status: http.StatusInternalServerError, check: func(t *testing.T, e faaspot.Execution) {
				wantError(t, e, faaspot.ExecFailed, "ResultNotSerializable", "")
			}},
		{name: "hard-exit", code: "import os\ndef main(args, context):\n    os._exit(7)\n",
			status: http.StatusInternalServerError, check: func(t *testing.T, e faaspot.Execution) {
				wantError(t, e, faaspot.ExecFailed, "ProcessExited", "code 7")
			}},
		{name: "sys-exit", code: "import sys\ndef main(args, context):\n    sys.exit(3)\n",
			status: http.StatusInternalServerError, check: func(t *testing.T, e faaspot.Execution) {
				wantError(t, e, faaspot.ExecFailed, "SystemExit", "3")
			}},
		{name: "fake-frame", code: "def main(args, context):\n    print('{\"ok\": true, \"result\": \"1\"}')\n    return 2\n",
			status: http.StatusOK, check: func(t *testing.T, e faaspot.Execution) {
				if string(e.Result) != "2" || !strings.Contains(e.Stdout, `"ok": true`) {
					t.Errorf("printed frame must stay user output: result %s stdout %q", e.Result, e.Stdout)
				}
			}},
	}
	for _, tc := range cases {
		n.deploy(t, faaspot.DeploymentRequest{Name: tc.name, Code: tc.code, Limits: tc.limits})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := n.raw(t, http.MethodPost, "/v1/sync/deployments/"+tc.name+"/rpc/?q=s", `{"n": 21}`)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			id := a.header.Get("X-Faaspot-Execution-Id")
			if a.status != http.StatusOK {
				if a.errorField(t, "type") == "" || a.json(t)["execution_id"] != id {
					t.Errorf("error answer must carry error.type and execution_id: %s", a.body)
				}
			}
			e, err := n.c.GetExecution(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if e.ExitCode == nil || e.FinishedAt == nil || e.StartedAt == nil {
				t.Errorf("record incomplete: %+v", e)
			}
			tc.check(t, e)
		})
	}
	// The daemon stays healthy after all that, and leaves nothing behind when it stops.
	if a := n.raw(t, http.MethodGet, "/readyz", ""); a.status != http.StatusOK {
		t.Errorf("readyz: %d %s", a.status, a.body)
	}
	_ = n.d.Close()
	eventually(t, "no container left once the node closed", func() bool { return len(n.sandboxContainers(t)) == 0 })
}

func wantError(t *testing.T, e faaspot.Execution, status faaspot.ExecStatus, typ, msg string) {
	t.Helper()
	if e.Status != status || e.Error == nil || e.Error.Type != typ || !strings.Contains(e.Error.Message, msg) {
		t.Errorf("want %s/%s containing %q, got status %s error %+v", status, typ, msg, e.Status, e.Error)
	}
}

// TestBuildFailures: a script without main fails its deployment with a clear message; so does a
// requirement the index does not have.
func TestBuildFailures(t *testing.T) {
	start := time.Now()
	n := startNode(t)
	a := n.raw(t, http.MethodPost, "/v1/deployments?wait=true", mustJSON(map[string]string{
		"name": "nomain", "code": "def handler(event):\n    return 1\n"}))
	if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.errorField(t, "message"), "main(args, context)") {
		t.Fatalf("no main: %d %s", a.status, a.body)
	}
	a = n.raw(t, http.MethodPost, "/v1/deployments?wait=true", mustJSON(map[string]string{
		"name": "badsig", "code": "def main(args):\n    return 1\n"}))
	if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.errorField(t, "message"), "main(args)") {
		t.Fatalf("bad signature: %d %s", a.status, a.body)
	}
	a = n.raw(t, http.MethodPost, "/v1/deployments?wait=true", mustJSON(map[string]string{
		"name": "missingpkg", "code": "def main(args, context):\n    return 1\n", "requirements": "no-such-package==9.9"}))
	if msg := a.errorField(t, "message"); a.status != http.StatusUnprocessableEntity ||
		!strings.HasPrefix(msg, "installing the requirements failed") || !strings.Contains(msg, "no-such-package") {
		t.Fatalf("missing package: %d %s", a.status, a.body)
	}
	// A failed deployment is not runnable: 409.
	if a := n.raw(t, http.MethodPost, "/v1/sync/deployments/nomain/rpc/", ""); a.status != http.StatusConflict {
		t.Fatalf("run of failed deployment: %d %s", a.status, a.body)
	}
	d, err := n.c.GetDeployment(context.Background(), "nomain")
	if err != nil || d.Status != faaspot.StatusFailed || !strings.Contains(d.BuildLog, "FAASPOT-CHECK") {
		t.Fatalf("failed deployment record: %+v %v", d, err)
	}
	// The failed pip step left no untagged images behind.
	for _, img := range danglingOurs(t) {
		if time.Unix(img.Created, 0).After(start.Add(-time.Second)) {
			t.Errorf("untagged image %s left by the failed builds", img.ID)
		}
	}
}

// TestBadInput: unknown deployment and execution, bad names, malformed JSON, bad tokens.
func TestBadInput(t *testing.T) {
	n := startNode(t)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"unknown deployment", "PUT", "/v1/sync/deployments/nope/rpc/", "", 404, ""},
		{"unknown deployment async", "GET", "/v1/deployments/nope/rpc/", "", 404, ""},
		{"unknown execution", "GET", "/v1/executions/0123456789abcdef", "", 404, ""},
		{"bad name", "PUT", "/api/deployments/", `{"name":"Bad Name!","code":"def main(a, c): pass"}`, 400, "name"},
		{"malformed json", "PUT", "/api/deployments/", `{"name": "x", "code": `, 400, ""},
		{"unknown field", "PUT", "/api/deployments/", `{"name":"x","code":"def main(a, c): pass","cod":1}`, 400, "cod"},
		{"pip option", "PUT", "/api/deployments/", `{"name":"x","code":"def main(a, c): pass","requirements":"-i http://evil"}`, 400, "requirements"},
		{"args not object", "POST", "/v1/sync/deployments/nope/rpc/", `[1,2]`, 400, "args"},
		{"limits over max", "PUT", "/api/deployments/", `{"name":"x","code":"def main(a, c): pass","limits":{"memory_mb":999999}}`, 400, "limits.memory_mb"},
		{"args nested too deep", "POST", "/v1/sync/deployments/nope/rpc/", `{"a":` + strings.Repeat("[", 50) + strings.Repeat("]", 50) + `}`, 400, "args"},
		{"context nested too deep", "PUT", "/api/deployments/", `{"name":"x","code":"def main(a, c): pass","context":{"a":` + strings.Repeat("[", 50) + strings.Repeat("]", 50) + `}}`, 400, ""},
		{"code too large", "PUT", "/api/deployments/", `{"name":"x","code":"` + strings.Repeat("#", 1100<<10) + `"}`, 413, "code"},
		{"body too large", "PUT", "/api/deployments/", `{"name":"x","code":"` + strings.Repeat("#", 3<<20) + `"}`, 413, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := n.raw(t, tc.method, tc.path, tc.body)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			if f := a.errorField(t, "field"); f != tc.field {
				t.Errorf("field %q, want %q", f, tc.field)
			}
			if a.errorField(t, "message") == "" {
				t.Error("error without a message")
			}
		})
	}
	if ds, err := n.c.ListDeployments(context.Background()); err != nil || len(ds) != 0 {
		t.Errorf("rejected requests must store nothing: %v %v", ds, err)
	}
	if a := n.raw(t, "GET", "/v1/deployments", "", "fs_not_a_token"); a.status != http.StatusUnauthorized {
		t.Errorf("bad token: %d", a.status)
	}
	if a := n.raw(t, "GET", "/v1/deployments", "", ""); a.status != http.StatusUnauthorized {
		t.Errorf("no token: %d", a.status)
	}
	if a := n.raw(t, "POST", "/v1/tenants", `{"name":"x"}`); a.status != http.StatusUnauthorized {
		t.Errorf("tenant token on the admin API: %d", a.status)
	}
}

// TestRedeployAndDelete: a redeploy makes a new version that runs get (the previous version's
// image stays while the version is kept); delete removes the deployment and its images; another
// tenant sees nothing.
func TestRedeployAndDelete(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	d1 := n.deploy(t, faaspot.DeploymentRequest{Name: "ver", Code: "def main(args, context):\n    return 1\n"})
	d := n.deploy(t, faaspot.DeploymentRequest{Name: "ver", Code: "def main(args, context):\n    return 2\n"})
	if d.Version != 2 || d.ReadyVersion != 2 || d.Image == d1.Image {
		t.Fatalf("redeploy: %+v", d)
	}
	if !imageExists(d1.Image) {
		t.Errorf("the image of version 1, a kept version, was removed") // for pinned runs and rollbacks
	}
	v, id, err := n.c.RunSync(ctx, "ver", nil)
	if err != nil || string(v) != "2" {
		t.Fatalf("run after redeploy: %s %v", v, err)
	}
	if e, _ := n.c.GetExecution(ctx, id); e.Version != 2 {
		t.Errorf("execution version %d, want 2", e.Version)
	}

	other := fsclient.New(n.url, mustToken(t, n))
	if _, err := other.GetDeployment(ctx, "ver"); !fsclient.IsStatus(err, 404) {
		t.Errorf("other tenant get deployment: %v", err)
	}
	if _, err := other.GetExecution(ctx, id); !fsclient.IsStatus(err, 404) {
		t.Errorf("other tenant get execution: %v", err)
	}
	if _, _, err := other.RunSync(ctx, "ver", nil); !fsclient.IsStatus(err, 404) {
		t.Errorf("other tenant run: %v", err)
	}

	if err := n.c.DeleteDeployment(ctx, "ver"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.c.GetDeployment(ctx, "ver"); !fsclient.IsStatus(err, 404) {
		t.Errorf("get after delete: %v", err)
	}
	if err := n.c.DeleteDeployment(ctx, "ver"); !fsclient.IsStatus(err, 404) {
		t.Errorf("second delete: %v", err)
	}
	imgs, err := env.docker.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(
		filters.Arg("reference", strings.Split(d.Image, ":")[0]))})
	if err != nil || len(imgs) != 0 {
		t.Errorf("images left after delete: %d %v", len(imgs), err)
	}
}

func mustToken(t *testing.T, n *node) string {
	t.Helper()
	tok, err := n.admin.CreateTenant(context.Background(), fmt.Sprintf("other%d", time.Now().UnixNano()%1e9))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestSyncWaitExpires: a run that outlasts the server's sync wait answers 202 with its execution
// id, and completes in the background.
func TestSyncWaitExpires(t *testing.T) {
	n := startNode(t, func(c *daemon.Config) { c.SyncWait = time.Second })
	n.deploy(t, faaspot.DeploymentRequest{Name: "slow", Code: "import time\ndef main(args, context):\n    time.sleep(3)\n    return 'late'\n"})
	a := n.raw(t, http.MethodPost, "/v1/sync/deployments/slow/rpc/", "")
	id, _ := a.json(t)["execution_id"].(string)
	if a.status != http.StatusAccepted || id == "" || a.header.Get("X-Faaspot-Execution-Id") != id {
		t.Fatalf("want 202 with the execution id, got %d %s", a.status, a.body)
	}
	e, err := n.c.WaitExecution(context.Background(), id, time.Minute)
	if err != nil || e.Status != faaspot.ExecCompleted || string(e.Result) != `"late"` {
		t.Fatalf("background completion: %+v %v", e, err)
	}
}

package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faaspot/faaspot"
)

// fasDir is the directory of the fas binary built for this test run.
func fasDir(t *testing.T) string {
	t.Helper()
	return filepath.Dir(buildCommand(t, "fas"))
}

// shell runs a bash script with fas on the PATH in dir, as a user would type it.
func shell(t *testing.T, dir string, envv []string, script string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + fasDir(t) + ":" + os.Getenv("PATH"), "HOME=" + dir}, apiCheck.proxied(t, envv)...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %q: %v", script, err)
	}
	if strings.Contains(e.String(), "goroutine ") || strings.Contains(e.String(), "panic:") {
		t.Errorf("fas printed a Go stack trace: %s", e.String())
	}
	return o.String(), e.String(), code
}

// TestCLIDocExamples runs the CLI examples of the FaaSpot docs verbatim (names filled in).
func TestCLIDocExamples(t *testing.T) {
	n := startNode(t)
	dir := t.TempDir()
	write(t, dir, "hello.py", "import faaspot_testpkg\ndef main(args, context):\n    print('hi', args['name'])\n    return {'greeting': 'hello ' + args['name'], 'key': context.get('access_key_is'), 'pkg': faaspot_testpkg.hello()}\n")
	write(t, dir, "requirements.txt", testPkg+"=="+testVersion+"\n")
	write(t, dir, "context.txt", seedContext)
	envv := []string{"FAASPOT_URL=" + n.url, "FAASPOT_TOKEN=" + n.token}

	out, errOut, code := shell(t, dir, envv, `fas deployments create hello --file hello.py --requirements-file requirements.txt --context-file context.txt --wait`)
	if code != 0 || !strings.Contains(out, "ready") {
		t.Fatalf("create --wait: %d %s %s", code, out, errOut)
	}
	out, errOut, code = shell(t, dir, envv, `fas deployments run hello --parameters "name=user1" --wait`)
	if code != 0 || !strings.Contains(out, `"greeting": "hello user1"`) || !strings.Contains(out, `"key": "XYZ"`) ||
		!strings.Contains(out, "hello from a wheel") {
		t.Fatalf("run --wait: %d %s %s", code, out, errOut)
	}
	out, errOut, code = shell(t, dir, envv, "UUID=`fas deployments run hello --parameters \"name=user1\"`\necho \"id=$UUID\"\nfas executions get $UUID")
	if code != 0 || !strings.Contains(out, "id=") || strings.Count(out, "\n") < 3 {
		t.Fatalf("run + executions get: %d %s %s", code, out, errOut)
	}
	id := strings.TrimSpace(strings.SplitN(strings.TrimPrefix(out, "id="), "\n", 2)[0])
	if len(id) != 32 || strings.ContainsAny(id, `" `) {
		t.Fatalf("run without --wait must print only the execution id, got %q", id)
	}
	if !strings.Contains(out, "status") {
		t.Errorf("executions get does not show the status: %s", out)
	}
	// The run goes on in the background: wait for it, then its logs and record as JSON.
	out, _, code = shell(t, dir, envv, `for i in $(seq 1 100); do fas executions get `+id+` -o json | grep -q '"status": "completed"' && break; sleep 0.1; done; fas executions logs `+id)
	if code != 0 || out != "hi user1\n" {
		t.Errorf("executions logs: %d %q", code, out)
	}
	// The docs' create without --wait returns once the build is queued, and the docs' next
	// commands, at once, wait for it.
	write(t, dir, "two.py", "def main(args, context):\n    return 2\n")
	out, errOut, code = shell(t, dir, envv, "fas deployments create two --file two.py\n"+
		"UUID=`fas deployments run two --parameters \"name=user1\"`\necho \"id=$UUID\"\n"+
		`fas deployments run two --parameters "name=user1" --wait`)
	_, after, _ := strings.Cut(out, "id=")
	runID, _, _ := strings.Cut(after, "\n")
	if code != 0 || !strings.Contains(out, "queued") || len(runID) != 32 || !strings.HasSuffix(strings.TrimSpace(out), "2") {
		t.Errorf("create, run, run --wait without waiting for the build: %d %s %s", code, out, errOut)
	}
	out, _, code = shell(t, dir, envv, `fas deployments list; fas executions list --deployment hello -o json`)
	if code != 0 || !strings.Contains(out, "hello") || !strings.Contains(out, `"deployment": "hello"`) {
		t.Errorf("list: %d %s", code, out)
	}
	out, _, code = shell(t, dir, envv, `fas deployments get hello; fas deployments get hello -o json`)
	if code != 0 || !strings.Contains(out, "access_key_is") || strings.Contains(out, "XYZ") {
		t.Errorf("get must show context keys, never values: %d %s", code, out)
	}
}

// TestCLIFailures: every failure is one line on stderr and a non-zero exit.
func TestCLIFailures(t *testing.T) {
	n := startNode(t)
	dir := t.TempDir()
	write(t, dir, "nomain.py", "def handler(event):\n    return 1\n")
	write(t, dir, "boom.py", "def main(args, context):\n    raise ValueError('boom')\n")
	ok := []string{"FAASPOT_URL=" + n.url, "FAASPOT_TOKEN=" + n.token}
	if _, e, c := shell(t, dir, ok, `fas deployments create boom --file boom.py --wait`); c != 0 {
		t.Fatalf("create boom: %s", e)
	}
	for _, tc := range []struct {
		name, script string
		env          []string
		want         string
	}{
		{"build without main", `fas deployments create nomain --file nomain.py --wait`, ok, "main(args, context)"},
		{"function exception", `fas deployments run boom --wait`, ok, "ValueError: boom"},
		{"unknown deployment", `fas deployments run nope --wait`, ok, `deployment "nope" not found`},
		{"unknown execution", `fas executions get 0123456789abcdef`, ok, "not found"},
		{"missing file", `fas deployments create x --file missing.py`, ok, "missing.py"},
		{"bad token", `fas deployments list`, []string{"FAASPOT_URL=" + n.url, "FAASPOT_TOKEN=wrong"}, "unauthorized"},
		{"unreachable server", `fas deployments list`, []string{"FAASPOT_URL=http://127.0.0.1:9", "FAASPOT_TOKEN=x"}, "cannot reach faaspot"},
		{"no configuration", `fas deployments list`, nil, "fas login"},
		{"bad parameters", `fas deployments run boom --parameters "novalue"`, ok, "key=value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := shell(t, dir, tc.env, tc.script)
			if code == 0 {
				t.Fatalf("exit 0, want non-zero; stdout %q", out)
			}
			last := strings.TrimSpace(errOut)
			if i := strings.LastIndexByte(last, '\n'); i >= 0 {
				last = last[i+1:]
			}
			if !strings.HasPrefix(last, "fas: ") || !strings.Contains(last, tc.want) {
				t.Errorf("stderr %q, want a last line 'fas: …%s…'", errOut, tc.want)
			}
		})
	}
}

// TestCLILogin: fas login writes ~/.faaspot/config.json, then fas works without variables.
func TestCLILogin(t *testing.T) {
	n := startNode(t)
	dir := t.TempDir()
	_, errOut, code := shell(t, dir, nil, "fas login --url "+n.url+" --token "+n.token)
	if code != 0 {
		t.Fatalf("login: %s", errOut)
	}
	info, err := os.Stat(filepath.Join(dir, ".faaspot", "config.json"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v", info, err)
	}
	if out, errOut, code := shell(t, dir, nil, "fas deployments list -o json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("list after login: %d %q %s", code, out, errOut)
	}
	if _, errOut, code := shell(t, dir, nil, "fas login --url "+n.url+" --token wrong"); code == 0 || !strings.Contains(errOut, "unauthorized") {
		t.Errorf("login with a bad token must fail: %d %s", code, errOut)
	}
}

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCLIOperator: the operator makes a tenant with fas tenants; the tenant deploys with
// --memory/--timeout/--cpus, which the deployment and its runs honour; tokens are issued and
// revoked, quotas set, the tenant deleted; completion reads the live server.
func TestCLIOperator(t *testing.T) {
	n := startNode(t)
	dir := t.TempDir()
	admin := []string{"FAASPOT_URL=" + n.url, "FAASPOT_ADMIN_TOKEN=" + adminToken}
	name := "cli" + faaspot.NewID()[:10]
	out, errOut, code := shell(t, dir, admin, "fas tenants create "+name+" --quiet")
	token := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(token, "fs_") || strings.Contains(token, "\n") {
		t.Fatalf("tenants create: %d %q %s", code, out, errOut)
	}
	tenant := []string{"FAASPOT_URL=" + n.url, "FAASPOT_TOKEN=" + token}
	write(t, dir, "nap.py", "import time\ndef main(args, context):\n    time.sleep(float(args.get('s', 0)))\n    return 'rested'\n")
	if out, errOut, code := shell(t, dir, tenant, `fas deployments create nap --file nap.py --memory 96M --timeout 2s --cpus 0.5 --wait`); code != 0 {
		t.Fatalf("create with limits: %d %s %s", code, out, errOut)
	}
	out, _, code = shell(t, dir, tenant, `fas deployments get nap -o json`)
	var d faaspot.Deployment
	if err := json.Unmarshal([]byte(out), &d); code != 0 || err != nil || d.Limits != (faaspot.Limits{MemoryMB: 96, CPUs: 0.5, TimeoutS: 2}) {
		t.Errorf("deployment limits: %d %v %+v", code, err, d.Limits)
	}
	if out, errOut, code := shell(t, dir, tenant, `fas deployments run nap --parameters s=0 --wait`); code != 0 || !strings.Contains(out, "rested") {
		t.Errorf("run: %d %s %s", code, out, errOut)
	}
	if _, errOut, code := shell(t, dir, tenant, `fas deployments run nap --parameters s=30 --wait`); code != 1 || !strings.Contains(errOut, "timeout") {
		t.Errorf("a run over --timeout 2s: exit %d, stderr %s", code, errOut)
	}

	// Completion asks the live server, with the tenant's token or the admin token.
	for _, tc := range []struct {
		env          []string
		line, expect string
	}{
		{tenant, `fas __complete deployments get ""`, "nap\tready"},
		{tenant, `fas __complete executions logs ""`, "nap completed"},
		{admin, `fas __complete tenants delete ""`, name},
	} {
		if out, _, code := shell(t, dir, tc.env, tc.line); code != 0 || !strings.Contains(out, tc.expect) || !strings.HasSuffix(out, ":4\n") {
			t.Errorf("%s: %d %q, want %q", tc.line, code, out, tc.expect)
		}
	}

	// A second token, listed, revoked: it stops working, the first does not.
	out, errOut, code = shell(t, dir, admin, "fas tenants tokens issue "+name+" -o json")
	var issued faaspot.TokenIssued
	if err := json.Unmarshal([]byte(out), &issued); code != 0 || err != nil || issued.ID == "" {
		t.Fatalf("tokens issue: %d %v %q %s", code, err, out, errOut)
	}
	if out, _, code := shell(t, dir, admin, "fas tenants tokens list "+name); code != 0 || !strings.Contains(out, issued.ID) || strings.Count(out, "\n") != 3 {
		t.Errorf("tokens list: %d %q", code, out)
	}
	second := []string{"FAASPOT_URL=" + n.url, "FAASPOT_TOKEN=" + issued.Token}
	if _, errOut, code := shell(t, dir, second, "fas deployments list"); code != 0 {
		t.Errorf("the second token: %d %s", code, errOut)
	}
	if _, errOut, code := shell(t, dir, admin, "fas tenants tokens revoke "+name+" "+issued.ID); code != 0 {
		t.Errorf("revoke: %d %s", code, errOut)
	}
	if _, errOut, code := shell(t, dir, second, "fas deployments list"); code != 1 || !strings.Contains(errOut, "unauthorized") {
		t.Errorf("a revoked token: %d %s", code, errOut)
	}

	// A quota set with fas holds: one deployment is the tenant's lot.
	if out, errOut, code := shell(t, dir, admin, "fas tenants quotas "+name+" --max-deployments 1"); code != 0 || !strings.Contains(out, "IN EFFECT") {
		t.Errorf("quotas: %d %s %s", code, out, errOut)
	}
	if _, errOut, code := shell(t, dir, tenant, "fas deployments create other --file nap.py"); code != 1 || !strings.Contains(errOut, "quota") {
		t.Errorf("over the deployments quota: %d %s", code, errOut)
	}

	if _, errOut, code := shell(t, dir, admin, "fas tenants delete "+name); code != 2 || !strings.Contains(errOut, "--yes") {
		t.Errorf("delete without --yes: %d %s", code, errOut)
	}
	if out, errOut, code := shell(t, dir, admin, "fas tenants delete "+name+" --yes"); code != 0 || !strings.Contains(out, "deleted") {
		t.Errorf("delete: %d %s %s", code, out, errOut)
	}
	if _, errOut, code := shell(t, dir, tenant, "fas deployments list"); code != 1 || !strings.Contains(errOut, "unauthorized") {
		t.Errorf("the token of a deleted tenant: %d %s", code, errOut)
	}
}

// TestCLIExitStatus: the built binaries' exit statuses, as a shell sees them.
func TestCLIExitStatus(t *testing.T) {
	dir := t.TempDir()
	env := []string{"FAASPOT_URL=http://127.0.0.1:9", "FAASPOT_TOKEN=x"}
	for _, tc := range []struct {
		script string
		code   int
	}{
		{"fas -h", 0}, {"fas --help", 0}, {"fas deployments create --help", 0}, {"fas version", 0}, {"fas --version", 0},
		{"fas", 2}, {"fas logs", 2}, {"fas deployments bogus", 2}, {"fas deployments", 2}, {"fas deployments get", 2},
		{"fas deployments list --bogus", 2}, {"fas executions list --limit x", 2}, {"fas completion tcsh", 2},
		{"fas deployments list", 1},
	} {
		out, errOut, code := shell(t, dir, env, tc.script)
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d; stdout %q stderr %q", tc.script, code, tc.code, out, errOut)
		}
		if tc.code == 2 && (out != "" || !strings.HasPrefix(errOut, "fas: ") || strings.Count(errOut, "\n") != 1) {
			t.Errorf("%s: stdout %q, stderr %q; want one line on stderr", tc.script, out, errOut)
		}
	}
}

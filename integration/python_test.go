package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/daemon"
)

// The Python examples of the FaaSpot docs (shared/seed/faaspot-deployments.rst), verbatim. The
// tests put the docs' placeholders (DEPLOYMENT_NAME, FILE_PATH) in variables defined before.
const (
	pyDocsCreate = `from faaspot import Faaspot
faaspot = Faaspot()
faaspot.deployments.create(DEPLOYMENT_NAME, file=FILE_PATH)
`
	pyDocsRunWait = `from faaspot import Faaspot
faaspot = Faaspot()
faaspot.deployments.run(DEPLOYMENT_NAME, {'PARAMETER_1': 'VALUE_!', 'PARAMETER_2': 'VALUE_2'}, wait=True)
`
	pyDocsRunNoWait = `from faaspot import Faaspot
faaspot = Faaspot()
execution_id = faaspot.deployments.run('DEPLOYMENT_NAME', {'PARAMETER': 'VALUE'})
execution = faaspot.executions().get(execution_id)
print execution['status']
`
)

// pyDocsRunNoWaitPy3 is pyDocsRunNoWait as Python 3 can run it: the docs' last line is Python 2
// (print execution['status']). The quoted placeholder 'DEPLOYMENT_NAME' becomes the variable, as
// in the docs' other examples (the literal is a valid name, but of another deployment).
var pyDocsRunNoWaitPy3 = strings.NewReplacer(
	"print execution['status']", "print(execution['status'])",
	"'DEPLOYMENT_NAME'", "DEPLOYMENT_NAME",
).Replace(pyDocsRunNoWait)

// pyREPL runs a script one top-level statement at a time, the way the interactive prompt the docs'
// examples are written for does: the value of an expression statement (a bare call) is shown,
// here as one line "VALUE <json>".
const pyREPL = `import ast, json, sys

def show(value):
    if value is not None:
        print("VALUE " + json.dumps(value, sort_keys=True), flush=True)

sys.displayhook = show
path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    tree = ast.parse(f.read(), path)
scope = {"__name__": "__main__", "__builtins__": __builtins__}
for stmt in tree.body:
    exec(compile(ast.Interactive(body=[stmt]), path, "single"), scope)
`

// pyOut is what a Python script printed: the values the prompt showed and the other lines.
type pyOut struct {
	values []json.RawMessage
	lines  []string
	stderr string
}

// value decodes the i-th shown value into v.
func (o pyOut) value(t *testing.T, i int, v any) {
	t.Helper()
	if i >= len(o.values) {
		t.Fatalf("want at least %d shown values, got %d; lines %q; stderr %s", i+1, len(o.values), o.lines, o.stderr)
	}
	if err := json.Unmarshal(o.values[i], v); err != nil {
		t.Fatalf("value %d: %v: %s", i, err, o.values[i])
	}
}

var pyInterp struct {
	once sync.Once
	path string
	err  error
}

// pyPython returns the host's python3 as an absolute path to the interpreter itself (not a
// version manager's shim, which may need the real HOME). It skips the test when there is no
// python3, unless FAASPOT_INTEGRATION=required.
func pyPython(t *testing.T) string {
	t.Helper()
	pyInterp.once.Do(func() {
		out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
		pyInterp.path, pyInterp.err = strings.TrimSpace(string(out)), err
		if err == nil && pyInterp.path == "" {
			pyInterp.err = fmt.Errorf("python3 did not name its executable")
		}
	})
	if pyInterp.err != nil {
		if os.Getenv("FAASPOT_INTEGRATION") == "required" {
			t.Fatalf("python3: %v", pyInterp.err)
		}
		t.Skipf("no python3: %v", pyInterp.err)
	}
	return pyInterp.path
}

// pyClientPath is clients/python of this repository, what PYTHONPATH points at.
func pyClientPath(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "clients", "python")
	if _, err := os.Stat(filepath.Join(dir, "faaspot", "__init__.py")); err != nil {
		t.Fatalf("the Python client is not at %s: %v", dir, err)
	}
	return dir
}

// pyEnv is the environment of a Python script: the test's, less every FAASPOT_ and PYTHON
// variable and HOME, plus the client on PYTHONPATH, home as HOME and the given variables.
func pyEnv(t *testing.T, home string, vars ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "FAASPOT_") || strings.HasPrefix(kv, "PYTHON") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		out = append(out, kv)
	}
	out = append(out, "PYTHONPATH="+pyClientPath(t), "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1",
		"PYTHONIOENCODING=utf-8", "HOME="+home)
	return append(out, vars...)
}

// pyVars configure the client for the node's tenant through the environment.
func (n *node) pyVars() []string {
	return []string{"FAASPOT_URL=" + n.url, "FAASPOT_TOKEN=" + n.token}
}

// pyRun writes script to dir and runs it there through pyREPL, with env (see pyEnv). A script
// that does not exit 0 fails the test.
func pyRun(t *testing.T, dir string, env []string, script string) pyOut {
	t.Helper()
	o, code := pyRunCode(t, dir, env, script)
	if code != 0 {
		t.Fatalf("python exited %d\n--- script\n%s--- stdout\n%s\n--- stderr\n%s", code, script,
			strings.Join(o.lines, "\n"), o.stderr)
	}
	return o
}

func pyRunCode(t *testing.T, dir string, env []string, script string) (pyOut, int) {
	t.Helper()
	python := pyPython(t)
	if err := os.WriteFile(filepath.Join(dir, "repl.py"), []byte(pyREPL), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "script.py"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "repl.py", "script.py")
	cmd.Dir, cmd.Env = dir, apiCheck.proxied(t, env)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run python: %v", err)
	}
	o := pyOut{stderr: stderr.String()}
	for _, line := range strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n") {
		if v, ok := strings.CutPrefix(line, "VALUE "); ok {
			o.values = append(o.values, json.RawMessage(v))
		} else if line != "" {
			o.lines = append(o.lines, line)
		}
	}
	return o, code
}

func pyWriteFile(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// pyWaitReady waits for the deployment's build to succeed.
func (n *node) pyWaitReady(t *testing.T, name string) faaspot.Deployment {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		d, err := n.c.GetDeployment(context.Background(), name)
		if err != nil {
			t.Fatalf("get deployment %s: %v", name, err)
		}
		switch {
		case d.Status == faaspot.StatusReady:
			return d
		case d.Status == faaspot.StatusFailed:
			t.Fatalf("deployment %s failed to build: %s\n%s", name, d.Error, d.BuildLog)
		case time.Now().After(deadline):
			t.Fatalf("deployment %s still %s", name, d.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestPythonDocExamples runs the docs' Python examples verbatim against a live daemon: create from
// a file, a blocking run returning the function's value, a non-blocking run and its execution.
func TestPythonDocExamples(t *testing.T) {
	n := startNode(t)
	dir := t.TempDir()
	env := pyEnv(t, t.TempDir(), n.pyVars()...)
	pyWriteFile(t, dir, "echo.py", "def main(args, context):\n    return {'args': args, 'context': sorted(context)}\n")
	vars := "DEPLOYMENT_NAME = 'pyecho'\nFILE_PATH = 'echo.py'\n"

	// Create: the answer is the deployment, building.
	out := pyRun(t, dir, env, vars+pyDocsCreate)
	var d map[string]any
	out.value(t, 0, &d)
	if d["name"] != "pyecho" || d["status"] != string(faaspot.StatusBuilding) || d["version"] != 1.0 {
		t.Fatalf("create answered %v", d)
	}

	// Blocking run, at once, as the docs go on: it waits for the build, then the function's value.
	out = pyRun(t, dir, env, vars+pyDocsRunWait)
	var v struct {
		Args    map[string]any `json:"args"`
		Context []string       `json:"context"`
	}
	out.value(t, 0, &v)
	if len(v.Args) != 2 || v.Args["PARAMETER_1"] != "VALUE_!" || v.Args["PARAMETER_2"] != "VALUE_2" || len(v.Context) != 0 {
		t.Fatalf("run with wait=True returned %s", out.values[0])
	}

	// Non-blocking run: an execution id, then its record's status.
	out = pyRun(t, dir, env, vars+pyDocsRunNoWaitPy3+"print('ID', execution_id)\n")
	if len(out.lines) != 2 || !strings.HasPrefix(out.lines[1], "ID ") {
		t.Fatalf("want the status and the id, got %q (stderr %s)", out.lines, out.stderr)
	}
	status, id := faaspot.ExecStatus(out.lines[0]), strings.TrimPrefix(out.lines[1], "ID ")
	if status != faaspot.ExecQueued && status != faaspot.ExecRunning && status != faaspot.ExecCompleted {
		t.Fatalf("printed status %q", status)
	}
	e, err := n.c.WaitExecution(context.Background(), id, 2*time.Minute)
	if err != nil || e.Status != faaspot.ExecCompleted || e.Deployment != "pyecho" ||
		!strings.Contains(string(e.Args), `"PARAMETER":"VALUE"`) {
		t.Fatalf("execution %s: %+v %v", id, e, err)
	}
	out = pyRun(t, dir, env, "from faaspot import Faaspot\nfaaspot = Faaspot()\n"+
		fmt.Sprintf("faaspot.executions().get(%q)['status']\n", id)+
		fmt.Sprintf("faaspot.executions.wait(%q, timeout=60)['result']\n", id))
	var st faaspot.ExecStatus
	var res struct {
		Args map[string]any `json:"args"`
	}
	out.value(t, 0, &st)
	out.value(t, 1, &res)
	if st != faaspot.ExecCompleted || res.Args["PARAMETER"] != "VALUE" {
		t.Fatalf("execution seen from Python: %s %s", out.values[0], out.values[1])
	}
}

// TestPythonCreateAllFiles creates with the docs' optional requirements and context files and
// wait=True, then lists, shows, runs and deletes from Python.
func TestPythonCreateAllFiles(t *testing.T) {
	n := startNode(t)
	dir := t.TempDir()
	env := pyEnv(t, t.TempDir(), n.pyVars()...)
	pyWriteFile(t, dir, "hello.py", helloCode)
	pyWriteFile(t, dir, "requirements.txt", testPkg+"=="+testVersion+"\n")
	pyWriteFile(t, dir, "context.txt", seedContext)
	out := pyRun(t, dir, env, `import json
from faaspot import Faaspot
faaspot = Faaspot()
d = faaspot.deployments.create('pyhello', file='hello.py', requirements_file='requirements.txt',
                               context_file='context.txt', wait=True)
print(json.dumps([d['status'], d['context_keys']]))
faaspot.deployments.run('pyhello', {'name': 'user1'}, wait=True)
print(json.dumps([x['name'] for x in faaspot.deployments.list()]))
faaspot.deployments.get('pyhello')['ready_version']
execution_id = faaspot.deployments.run('pyhello')
faaspot.executions.wait(execution_id, timeout=120)['stdout']
print(json.dumps([x['id'] for x in faaspot.executions.list(deployment='pyhello', limit=1)] == [execution_id]))
faaspot.deployments.delete('pyhello')
print(json.dumps(faaspot.deployments.list()))
`)
	want := []string{`["ready", ["access_key_is", "secret_access_key"]]`, `["pyhello"]`, `true`, `[]`}
	if strings.Join(out.lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("printed %q, want %q (stderr %s)", out.lines, want, out.stderr)
	}
	var run struct {
		Greeting string `json:"greeting"`
		Pkg      string `json:"pkg"`
		HasKey   bool   `json:"has_key"`
	}
	out.value(t, 0, &run)
	if run.Greeting != "hello user1" || run.Pkg != "hello from a wheel" || !run.HasKey {
		t.Fatalf("run returned %s", out.values[0])
	}
	var ready int
	var stdout string
	out.value(t, 1, &ready)
	out.value(t, 2, &stdout)
	if ready != 1 || stdout != "running for world\n" {
		t.Fatalf("ready_version %d, stdout %q", ready, stdout)
	}
}

// TestPythonFailures: every way a call fails, as the exception the client raises.
func TestPythonFailures(t *testing.T) {
	n := startNode(t)
	n.deploy(t, faaspot.DeploymentRequest{Name: "pyboom", Code: "def main(args, context):\n    raise ValueError('bad value')\n"})
	n.deploy(t, faaspot.DeploymentRequest{Name: "pyloop", Code: "def main(args, context):\n    while True:\n        pass\n",
		Limits: &faaspot.Limits{TimeoutS: 1}})
	dir := t.TempDir()
	env := pyEnv(t, t.TempDir(), n.pyVars()...)
	pyWriteFile(t, dir, "nomain.py", "def handler(event):\n    return 1\n")
	out := pyRun(t, dir, env, `import json
from faaspot import (Faaspot, BadRequest, BuildFailed, Conflict, ExecutionFailed, ExecutionTimeout,
                     NotFound, Unauthorized, Unreachable)
faaspot = Faaspot()
out = {}

def expect(key, exc, call):
    try:
        call()
    except exc as e:
        out[key] = {k: v for k, v in vars(e).items() if k != 'body'}
        out[key]['class'] = type(e).__name__
        out[key]['str'] = str(e)
    else:
        out[key] = 'no exception'

expect('failed', ExecutionFailed, lambda: faaspot.deployments.run('pyboom', {'x': 1}, wait=True))
expect('timeout', ExecutionTimeout, lambda: faaspot.deployments.run('pyloop', wait=True))
expect('unknown_sync', NotFound, lambda: faaspot.deployments.run('nope', wait=True))
expect('unknown_async', NotFound, lambda: faaspot.deployments.run('nope'))
expect('unknown_get', NotFound, lambda: faaspot.deployments.get('nope'))
expect('unknown_execution', NotFound, lambda: faaspot.executions().get('0123456789abcdef'))
expect('bad_token', Unauthorized, lambda: Faaspot(token='fs_not_a_token').deployments.list())
expect('build_failed', BuildFailed, lambda: faaspot.deployments.create('pynomain', file='nomain.py', wait=True))
expect('not_runnable', Conflict, lambda: faaspot.deployments.run('pynomain', wait=True))
expect('bad_name', BadRequest, lambda: faaspot.deployments.create('Bad Name!', code='def main(a, c): pass'))
expect('unreachable', Unreachable, lambda: Faaspot(url='http://127.0.0.1:9').deployments.list())
print(json.dumps(out))
`)
	if len(out.lines) != 1 {
		t.Fatalf("printed %q (stderr %s)", out.lines, out.stderr)
	}
	var got map[string]map[string]any
	if err := json.Unmarshal([]byte(out.lines[0]), &got); err != nil {
		t.Fatalf("%v: %s", err, out.lines[0])
	}
	defer func() {
		if t.Failed() {
			t.Logf("the exceptions as Python saw them: %s", out.lines[0])
		}
	}()

	f := got["failed"]
	id, _ := f["execution_id"].(string)
	if f["class"] != "ExecutionFailed" || f["type"] != "ValueError" || f["message"] != "bad value" ||
		f["status"] != string(faaspot.ExecFailed) || f["http_status"] != 500.0 || id == "" ||
		!strings.Contains(fmt.Sprint(f["traceback"]), "ValueError: bad value") {
		t.Errorf("ExecutionFailed: %v", f)
	}
	if e, err := n.c.GetExecution(context.Background(), id); err != nil || e.Status != faaspot.ExecFailed || e.Deployment != "pyboom" {
		t.Errorf("the execution the error names: %+v %v", e, err)
	}
	if f := got["timeout"]; f["class"] != "ExecutionTimeout" || f["type"] != "Timeout" || f["status"] != string(faaspot.ExecTimeout) ||
		f["http_status"] != 504.0 || f["execution_id"] == "" {
		t.Errorf("ExecutionTimeout: %v", f)
	}
	for _, key := range []string{"unknown_sync", "unknown_async", "unknown_get", "unknown_execution"} {
		if f := got[key]; f["class"] != "NotFound" || f["status"] != 404.0 || f["code"] != "not_found" ||
			!strings.Contains(fmt.Sprint(f["message"]), "not found") {
			t.Errorf("%s: %v", key, f)
		}
	}
	if f := got["bad_token"]; f["class"] != "Unauthorized" || f["status"] != 401.0 || f["code"] != "unauthorized" {
		t.Errorf("Unauthorized: %v", f)
	}
	f = got["build_failed"]
	dep, _ := f["deployment"].(map[string]any)
	if f["class"] != "BuildFailed" || f["status"] != 422.0 || !strings.Contains(fmt.Sprint(f["message"]), "main(args, context)") ||
		dep["name"] != "pynomain" || dep["status"] != string(faaspot.StatusFailed) || !strings.Contains(fmt.Sprint(dep["build_log"]), "FAASPOT-CHECK") {
		t.Errorf("BuildFailed: %v", f)
	}
	if f := got["not_runnable"]; f["class"] != "Conflict" || f["status"] != 409.0 {
		t.Errorf("Conflict: %v", f)
	}
	if f := got["bad_name"]; f["class"] != "BadRequest" || f["status"] != 400.0 || f["field"] != "name" {
		t.Errorf("BadRequest: %v", f)
	}
	if f := got["unreachable"]; f["class"] != "Unreachable" || !strings.Contains(fmt.Sprint(f["str"]), "http://127.0.0.1:9") {
		t.Errorf("Unreachable: %v", f)
	}
}

// TestPythonSyncWaitExpires: when a run outlasts the server's sync wait (202), run(wait=True)
// polls the execution and still returns the value.
func TestPythonSyncWaitExpires(t *testing.T) {
	n := startNode(t, func(c *daemon.Config) { c.SyncWait = time.Second })
	n.deploy(t, faaspot.DeploymentRequest{Name: "pyslow", Code: "import time\ndef main(args, context):\n    time.sleep(3)\n    return args['x'] + 1\n"})
	dir := t.TempDir()
	out := pyRun(t, dir, pyEnv(t, t.TempDir(), n.pyVars()...), `import time
from faaspot import Faaspot
faaspot = Faaspot()
start = time.monotonic()
faaspot.deployments.run('pyslow', {'x': 41}, wait=True)
print(time.monotonic() - start > 2.5)
`)
	var v int
	out.value(t, 0, &v)
	if v != 42 || len(out.lines) != 1 || out.lines[0] != "True" {
		t.Fatalf("value %d, printed %q", v, out.lines)
	}
}

// TestPythonConfigFile: with no FAASPOT_URL/FAASPOT_TOKEN, Faaspot() reads ~/.faaspot/config.json;
// with neither, it says how to configure it.
func TestPythonConfigFile(t *testing.T) {
	n := startNode(t)
	dir, home := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".faaspot"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]string{"url": n.url, "token": n.token})
	pyWriteFile(t, filepath.Join(home, ".faaspot"), "config.json", string(cfg))
	script := `from faaspot import Faaspot
faaspot = Faaspot()
faaspot.url
faaspot.deployments.create('pycfg', code='def main(args, context):\n    return "from the config file"\n', wait=True)['status']
faaspot.deployments.run('pycfg', wait=True)
`
	out := pyRun(t, dir, pyEnv(t, home), script)
	var url, status, v string
	out.value(t, 0, &url)
	out.value(t, 1, &status)
	out.value(t, 2, &v)
	if url != n.url || faaspot.DeploymentStatus(status) != faaspot.StatusReady || v != "from the config file" {
		t.Fatalf("got %s", out.values)
	}

	o, code := pyRunCode(t, dir, pyEnv(t, t.TempDir()), "from faaspot import Faaspot\nFaaspot()\n")
	if code == 0 || !strings.Contains(o.stderr, "faaspot.errors.FaaspotError: faaspot is not configured") ||
		!strings.Contains(o.stderr, "FAASPOT_URL") || !strings.Contains(o.stderr, "~/.faaspot/config.json") {
		t.Fatalf("unconfigured: exit %d, stderr %s", code, o.stderr)
	}
}

package imagebuilder

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run runner/runner.py with the host's python3, the way the images run it
// (python3 -I). They need no Docker.

func python3(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	return p
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunnerCheck(t *testing.T) {
	py := python3(t)
	tests := []struct {
		name    string
		code    string
		ok      bool
		message string // part of the FAASPOT-CHECK message when refused
	}{
		{name: "valid main", code: "def main(args, context):\n    return args\n", ok: true},
		{name: "main with a default context", code: "def main(args, context=None):\n    return 1\n", ok: true},
		{name: "async main", code: "async def main(args, context):\n    return 1\n", ok: true},
		{name: "main taking *args", code: "def main(*a):\n    return a\n", ok: true},
		{name: "main bound by assignment", code: "def run(a, c):\n    return 1\nmain = run\n", ok: true},
		{name: "main bound by import", code: "from os.path import join as main\n", ok: true},
		{name: "main with one argument", code: "def main(args):\n    return args\n",
			message: "main must accept two arguments, main(args, context); it is defined as main(args)"},
		{name: "main with three required arguments", code: "def main(a, b, c):\n    pass\n",
			message: "main must accept two arguments"},
		{name: "main with a required keyword-only argument", code: "def main(a, b, *, key):\n    pass\n",
			message: "main must accept two arguments"},
		{name: "no main", code: "def handler(args, context):\n    return 1\n",
			message: "the code defines no main(args, context) function at module level"},
		{name: "main only inside a class", code: "class C:\n    def main(self, args, context):\n        pass\n",
			message: "defines no main"},
		{name: "empty file", code: "", message: "defines no main"},
		{name: "syntax error", code: "def main(args, context):\n    return (\n",
			message: "the code has a syntax error at line"},
		{name: "indentation error", code: "def main(args, context):\nreturn 1\n",
			message: "syntax error at line 2"},
	}
	for _, tt := range tests {
		for _, stdin := range []bool{false, true} { // --check PATH, and --check - (the builder's way)
			name := tt.name + map[bool]string{false: " (file)", true: " (stdin)"}[stdin]
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				checkCode(t, py, tt.code, stdin, tt.ok, tt.message)
			})
		}
	}
}

// checkCode runs the runner's check mode on code, from a file or from stdin, and verifies the
// verdict: silence and exit 0 when ok, else one FAASPOT-CHECK line holding message and exit 3.
func checkCode(t *testing.T, py, code string, stdin, ok bool, message string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	arg := "-"
	if !stdin {
		arg = writeFile(t, t.TempDir(), "main.py", code)
	}
	cmd := exec.CommandContext(ctx, py, "-I", filepath.Join("runner", "runner.py"), "--check", arg)
	if stdin {
		cmd.Stdin = strings.NewReader(code)
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case ok && err != nil:
		t.Fatalf("check refused valid code: %v\n%s", err, out)
	case ok:
		if len(out) != 0 {
			t.Errorf("check printed %q for valid code", out)
		}
		return
	case !errors.As(err, &exit) || exit.ExitCode() != 3:
		t.Fatalf("check = %v, want exit code 3\n%s", err, out)
	}
	line := strings.TrimSpace(string(out))
	if !strings.HasPrefix(line, CheckPrefix) || strings.Contains(line, "\n") {
		t.Fatalf("check printed %q, want one line starting %q", out, CheckPrefix)
	}
	if !strings.Contains(line, message) {
		t.Errorf("check message %q does not contain %q", line, message)
	}
}

// runnerFrame is the result frame as the sandbox reads it.
type runnerFrame struct {
	OK     bool   `json:"ok"`
	Result string `json:"result"`
	Error  *struct {
		Type               string `json:"type"`
		Message            string `json:"message"`
		Traceback          string `json:"traceback"`
		MessageTruncated   bool   `json:"message_truncated"`
		TracebackTruncated bool   `json:"traceback_truncated"`
	} `json:"error"`
	Stdout          string `json:"stdout"`
	Stderr          string `json:"stderr"`
	StdoutTruncated bool   `json:"stdout_truncated"`
	StderrTruncated bool   `json:"stderr_truncated"`
	ExitCode        int    `json:"exit_code"`
	Stray           int    `json:"stray"` // processes or threads the run left behind
}

// runRunner runs a copy of runner.py whose FUNCTION_PATH and SITE_DIR point into a temporary
// directory holding code, feeds it input and returns the one frame it writes.
func runRunner(t *testing.T, code string, site map[string]string, input string) runnerFrame {
	t.Helper()
	return serveRunner(t, code, site, "", input)[0]
}

// testRunner writes a copy of runner.py whose FUNCTION_PATH, SITE_DIR and TMP_DIR point into a
// temporary directory holding code and site, and returns its path and that directory.
func testRunner(t *testing.T, code string, site map[string]string) (runner, dir string) {
	t.Helper()
	dir = t.TempDir()
	fn := writeFile(t, dir, "main.py", code)
	siteDir, tmpDir := filepath.Join(dir, "site"), filepath.Join(dir, "tmp")
	for _, d := range []string{siteDir, tmpDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, text := range site {
		writeFile(t, siteDir, name, text)
	}
	src := Runner
	for _, r := range []struct{ old, new string }{
		{`FUNCTION_PATH = "` + FunctionPath + `"`, `FUNCTION_PATH = "` + fn + `"`},
		{`SITE_DIR = "` + SiteDir + `"`, `SITE_DIR = "` + siteDir + `"`},
		{`TMP_DIR = "/tmp"`, `TMP_DIR = "` + tmpDir + `"`}, // fork mode empties it: never the host's
	} {
		if !strings.Contains(src, r.old) {
			t.Fatalf("runner.py has no line %s", r.old)
		}
		src = strings.Replace(src, r.old, r.new, 1)
	}
	return writeFile(t, dir, "runner.py", src), dir
}

// serveRunner runs a test copy of runner.py in serve mode ("" for the default), feeds it the
// request lines and returns one frame per request.
func serveRunner(t *testing.T, code string, site map[string]string, mode string, requests ...string) []runnerFrame {
	t.Helper()
	runner, dir := testRunner(t, code, site)
	args := []string{"-I", runner}
	if mode != "" {
		args = append(args, "--serve", mode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python3(t), args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(strings.Join(requests, "\n"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("runner: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("the runner's own stderr is not empty: %q", stderr.String())
	}
	return readFrames(t, stdout.String(), len(requests))
}

// readFrames parses serve mode's output: a ready line, then n frame lines.
func readFrames(t *testing.T, out string, n int) []runnerFrame {
	t.Helper()
	ready, rest, _ := strings.Cut(out, "\n")
	if !strings.Contains(ready, `"ready": true`) || strings.Count(rest, "\n") != n || !strings.HasSuffix(rest, "\n") {
		t.Fatalf("stdout is not a ready line and %d frame lines: %q", n, out)
	}
	var frames []runnerFrame
	for _, line := range strings.Split(strings.TrimSuffix(rest, "\n"), "\n") {
		var f runnerFrame
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatalf("frame %q: %v", line, err)
		}
		frames = append(frames, f)
	}
	return frames
}

const runnerInput = `{"args":{"a":1},"context":{"k":"v"}}`

func TestRunnerRun(t *testing.T) {
	tests := []struct {
		name  string
		code  string
		site  map[string]string
		input string
		check func(t *testing.T, f runnerFrame)
	}{
		{
			name: "result, prints and a child process",
			code: `import os, sys
def main(args, context):
    print("from print")
    print("to stderr", file=sys.stderr)
    os.system("echo from-child; echo child-err >&2")
    print("after child")
    return {"a": args["a"], "k": context["k"], "text": "é"}
`,
			input: runnerInput,
			check: func(t *testing.T, f runnerFrame) {
				if !f.OK || f.Error != nil {
					t.Fatalf("frame not ok: %+v", f)
				}
				var v map[string]any
				if err := json.Unmarshal([]byte(f.Result), &v); err != nil {
					t.Fatalf("result %q is not JSON: %v", f.Result, err)
				}
				if v["a"] != 1.0 || v["k"] != "v" || v["text"] != "é" {
					t.Errorf("result = %v", v)
				}
				if f.Stdout != "from print\nfrom-child\nafter child\n" {
					t.Errorf("stdout = %q (in order, child included)", f.Stdout)
				}
				if f.Stderr != "to stderr\nchild-err\n" {
					t.Errorf("stderr = %q", f.Stderr)
				}
				if f.StdoutTruncated || f.StderrTruncated {
					t.Error("output flagged truncated")
				}
			},
		},
		{
			name:  "output over the limit is truncated",
			code:  "import sys\ndef main(args, context):\n    print('x' * 100)\n    sys.stderr.write('y' * 10)\n    return None\n",
			input: `{"args":{},"context":{},"output_limit":10}`,
			check: func(t *testing.T, f runnerFrame) {
				if !f.OK || f.Result != "null" {
					t.Fatalf("frame = %+v, want ok with null", f)
				}
				if f.Stdout != strings.Repeat("x", 10) || !f.StdoutTruncated {
					t.Errorf("stdout = %q truncated=%v, want 10 x and truncated", f.Stdout, f.StdoutTruncated)
				}
				if f.Stderr != strings.Repeat("y", 10) || f.StderrTruncated {
					t.Errorf("stderr = %q truncated=%v: exactly the limit is not truncated", f.Stderr, f.StderrTruncated)
				}
			},
		},
		{
			name:  "exception",
			code:  "def helper():\n    raise ValueError('boom')\n\ndef main(args, context):\n    print('before')\n    helper()\n",
			input: runnerInput,
			check: func(t *testing.T, f runnerFrame) {
				if f.OK || f.Error == nil {
					t.Fatalf("frame = %+v, want an error", f)
				}
				if f.Error.Type != "ValueError" || f.Error.Message != "boom" {
					t.Errorf("error = %s: %s", f.Error.Type, f.Error.Message)
				}
				tb := f.Error.Traceback
				for _, s := range []string{"Traceback (most recent call last)", "main.py", "in helper", "ValueError: boom"} {
					if !strings.Contains(tb, s) {
						t.Errorf("traceback does not contain %q:\n%s", s, tb)
					}
				}
				if strings.Contains(tb, "runner.py") {
					t.Errorf("traceback shows the runner's frames:\n%s", tb)
				}
				if f.Stdout != "before\n" {
					t.Errorf("stdout before the exception = %q", f.Stdout)
				}
			},
		},
		{
			name:  "non-JSON return value",
			code:  "def main(args, context):\n    return object()\n",
			input: runnerInput,
			check: wantRunnerError("ResultNotSerializable", "not JSON-serializable"),
		},
		{
			name:  "NaN",
			code:  "def main(args, context):\n    return {'x': float('nan')}\n",
			input: runnerInput,
			check: wantRunnerError("ResultNotSerializable", "not JSON-serializable"),
		},
		{
			name:  "result over the result limit",
			code:  "def main(args, context):\n    return 'x' * 100\n",
			input: `{"args":{},"context":{},"result_limit":50}`,
			check: wantRunnerError("ResultTooLarge", "the limit is 50"),
		},
		{
			name:  "sys.exit inside main",
			code:  "import sys\ndef main(args, context):\n    sys.exit(3)\n",
			input: runnerInput,
			check: wantRunnerError("SystemExit", "3"),
		},
		{
			name:  "async main",
			code:  "import asyncio\nasync def main(args, context):\n    await asyncio.sleep(0)\n    return [args['a'], 2]\n",
			input: runnerInput,
			check: wantRunnerResult("[1, 2]"),
		},
		{
			name:  "main with a default context",
			code:  "def main(args, context=None):\n    return sorted(context)\n",
			input: runnerInput,
			check: wantRunnerResult(`["k"]`),
		},
		{
			name:  "installed requirements are importable",
			code:  "import helperpkg\ndef main(args, context):\n    return helperpkg.VALUE\n",
			site:  map[string]string{"helperpkg.py": "VALUE = 'from site'\n"},
			input: runnerInput,
			check: wantRunnerResult(`"from site"`),
		},
		{
			name:  "stdin is not the function's",
			code:  "import sys\ndef main(args, context):\n    return sys.stdin.read()\n",
			input: runnerInput,
			check: wantRunnerResult(`""`),
		},
		{
			name:  "exception at import time",
			code:  "import no_such_module_xyz\ndef main(args, context):\n    return 1\n",
			input: runnerInput,
			check: wantRunnerError("ModuleNotFoundError", "no_such_module_xyz"),
		},
		{
			name:  "no main at run time",
			code:  "x = 1\n",
			input: runnerInput,
			check: wantRunnerError("NoMain", "defines no main"),
		},
		{
			name:  "bad input",
			code:  "def main(args, context):\n    return 1\n",
			input: `{"args":`,
			check: wantRunnerError("ProtocolError", "bad request"),
		},
	}
	for _, tt := range tests {
		for _, mode := range []string{"process", "fork"} {
			t.Run(tt.name+" ("+mode+")", func(t *testing.T) {
				t.Parallel()
				tt.check(t, serveRunner(t, tt.code, tt.site, mode, tt.input)[0])
			})
		}
	}
}

func wantRunnerError(typ, message string) func(t *testing.T, f runnerFrame) {
	return func(t *testing.T, f runnerFrame) {
		t.Helper()
		if f.OK || f.Error == nil {
			t.Fatalf("frame = %+v, want error %s", f, typ)
		}
		if f.Error.Type != typ || !strings.Contains(f.Error.Message, message) {
			t.Errorf("error = %s: %q, want %s containing %q", f.Error.Type, f.Error.Message, typ, message)
		}
	}
}

func wantRunnerResult(result string) func(t *testing.T, f runnerFrame) {
	return func(t *testing.T, f runnerFrame) {
		t.Helper()
		if !f.OK || f.Result != result {
			t.Errorf("frame = %+v, want ok with result %s", f, result)
		}
	}
}

// TestRunnerBackgroundProcess checks that a process the function leaves running in the
// background neither delays the frame nor writes into it.
func TestRunnerBackgroundProcess(t *testing.T) {
	start := time.Now()
	f := runRunner(t, "import os\ndef main(args, context):\n    os.system('(sleep 5; echo late) &')\n    return 1\n", nil, runnerInput)
	if !f.OK || f.Result != "1" {
		t.Errorf("frame = %+v", f)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("the frame took %v: the runner waited for the background process", d)
	}
}

// forkProbe serves TestRunnerForkIsolation: each run does what args["do"] says.
const forkProbe = `import json, os, signal, subprocess
seen = []
def main(args, context):
    do = args["do"]
    seen.append(do)
    if do == "file":
        open(os.path.join(args["tmp"], "left-by-run"), "w").write("x")
    elif do == "bg":
        return subprocess.Popen(["sleep", "300"]).pid
    elif do == "state":
        try:
            with open("/proc/%d/stat" % args["pid"]) as f:
                return f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            return "gone"
    elif do == "exit":
        os._exit(3)
    elif do == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif do == "fds":
        return [os.readlink("/proc/self/fd/" + fd) for fd in os.listdir("/proc/self/fd")
                if os.path.exists("/proc/self/fd/" + fd)]
    return {"seen": seen, "tmp": sorted(os.listdir(args["tmp"])), "context": context}
`

// TestRunnerForkIsolation: in fork mode every run is a fresh process from the pre-imported
// runner: module globals and /tmp files of one run never reach the next, processes a run starts
// are killed with it, a run whose process dies is reported with its exit code and the next run
// works, and the function holds neither end of the protocol stream.
func TestRunnerForkIsolation(t *testing.T) {
	runner, dir := testRunner(t, forkProbe, nil)
	tmp := filepath.Join(dir, "tmp")
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python3(t), "-I", runner, "--serve", "fork")
	cmd.Dir, cmd.Stdin, cmd.Stdout = dir, stdinR, stdoutW
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdinR.Close()
	stdoutW.Close()
	out := bufio.NewReader(stdoutR)
	if ready, err := out.ReadString('\n'); err != nil || !strings.Contains(ready, `"ready": true`) {
		t.Fatalf("ready line %q: %v", ready, err)
	}
	run := func(args map[string]any) runnerFrame {
		t.Helper()
		args["tmp"] = tmp
		req, _ := json.Marshal(map[string]any{"args": args, "context": map[string]string{"k": "v"}})
		if _, err := stdinW.Write(append(req, '\n')); err != nil {
			t.Fatalf("write request: %v", err)
		}
		return readFrames(t, "{\"ready\": true}\n"+readLine(t, out), 1)[0]
	}

	run(map[string]any{"do": "file"})
	if f := run(map[string]any{"do": "look"}); f.Result != `{"seen": ["look"], "tmp": [], "context": {"k": "v"}}` {
		t.Errorf("second run saw %s; want only its own run, an empty /tmp and its context", f.Result)
	}
	bg := run(map[string]any{"do": "bg"})
	if f := run(map[string]any{"do": "state", "pid": json.Number(bg.Result)}); f.Result != `"gone"` && f.Result != `"Z"` {
		t.Errorf("the background process of the previous run is in state %s, want killed", f.Result)
	}
	for _, tt := range []struct {
		do   string
		code int
	}{{"exit", 3}, {"kill", 137}} {
		f := run(map[string]any{"do": tt.do})
		if f.OK || f.Error == nil || f.Error.Type != "ProcessExited" || f.ExitCode != tt.code {
			t.Errorf("run that does %s: %+v, want ProcessExited with exit code %d", tt.do, f, tt.code)
		}
	}
	fds := run(map[string]any{"do": "fds"})
	for _, end := range []*os.File{stdinW, stdoutR} { // a pipe's two ends share its inode
		var st syscall.Stat_t
		if err := syscall.Fstat(int(end.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		if pipe := fmt.Sprintf("pipe:[%d]", st.Ino); strings.Contains(fds.Result, pipe) {
			t.Errorf("the function holds the protocol's %s: its fds %s", pipe, fds.Result)
		}
	}
	if f := run(map[string]any{"do": "look"}); !f.OK || !strings.Contains(f.Result, `"seen": ["look"]`) {
		t.Errorf("run after failed runs: %+v", f)
	}
	stdinW.Close()
	if err := cmd.Wait(); err != nil || stderr.Len() != 0 {
		t.Errorf("runner exit: %v, stderr %q", err, stderr.String())
	}
}

// readLine reads one line from r, failing the test at the end of the stream.
func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read frame: %v (read %q)", err, line)
	}
	return line
}

// TestRunnerForkManyRuns: back-to-back quick runs in fork mode all answer with their own result.
// (A run's child that answered and exited between two of the runner's looks at it was once
// taken for a child that died without answering.)
func TestRunnerForkManyRuns(t *testing.T) {
	const runs = 400
	var requests []string
	for i := range runs {
		requests = append(requests, fmt.Sprintf(`{"args":{"i":%d},"context":{}}`, i))
	}
	frames := serveRunner(t, "def main(args, context):\n    return args['i']\n", nil, "fork", requests...)
	for i, f := range frames {
		if !f.OK || f.Result != fmt.Sprint(i) {
			t.Fatalf("run %d: %+v", i, f)
		}
	}
}

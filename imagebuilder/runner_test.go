package imagebuilder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
		Type      string `json:"type"`
		Message   string `json:"message"`
		Traceback string `json:"traceback"`
	} `json:"error"`
	Stdout          string `json:"stdout"`
	Stderr          string `json:"stderr"`
	StdoutTruncated bool   `json:"stdout_truncated"`
	StderrTruncated bool   `json:"stderr_truncated"`
}

// runRunner runs a copy of runner.py whose FUNCTION_PATH and SITE_DIR point into a temporary
// directory holding code, feeds it input and returns the one frame it writes.
func runRunner(t *testing.T, code string, site map[string]string, input string) runnerFrame {
	t.Helper()
	py := python3(t)
	dir := t.TempDir()
	fn := writeFile(t, dir, "main.py", code)
	siteDir := filepath.Join(dir, "site")
	if err := os.Mkdir(siteDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range site {
		writeFile(t, siteDir, name, text)
	}
	src := Runner
	for _, r := range []struct{ old, new string }{
		{`FUNCTION_PATH = "` + FunctionPath + `"`, `FUNCTION_PATH = "` + fn + `"`},
		{`SITE_DIR = "` + SiteDir + `"`, `SITE_DIR = "` + siteDir + `"`},
	} {
		if !strings.Contains(src, r.old) {
			t.Fatalf("runner.py has no line %s", r.old)
		}
		src = strings.Replace(src, r.old, r.new, 1)
	}
	runner := writeFile(t, dir, "runner.py", src)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-I", runner)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(input)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("runner: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("the runner's own stderr is not empty: %q", stderr.String())
	}
	// Serve mode: a ready line, then one frame line for the one request.
	ready, out, _ := strings.Cut(stdout.String(), "\n")
	if !strings.Contains(ready, `"ready": true`) || strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("stdout is not a ready line and one frame line: %q", stdout.String())
	}
	var f runnerFrame
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("frame %q: %v", out, err)
	}
	return f
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
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.check(t, runRunner(t, tt.code, tt.site, tt.input))
		})
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

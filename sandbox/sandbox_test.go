package sandbox

import (
	"strings"
	"testing"
)

func TestInterpret(t *testing.T) {
	limits := Limits{MemoryBytes: 256 << 20, OutputBytes: 1 << 10, ResultBytes: 1 << 10}
	okFrame := `{"ok": true, "result": "{\"x\": 1}", "stdout": "printed\n", "stderr": "", "stdout_truncated": true}` + "\n"
	errFrame := `{"ok": false, "error": {"type": "KeyError", "message": "'a'", "traceback": "Traceback"}, "stdout": "", "stderr": "e\n"}` + "\n"
	tests := []struct {
		name      string
		exitCode  int
		oom       bool
		stdout    string
		stdoutCap int // 0: large
		stderr    string
		outcome   string
		errType   string
		message   string // part of the error message
		value     string
		check     func(t *testing.T, r Result)
	}{
		{name: "ok frame", stdout: okFrame, outcome: Completed, value: `{"x": 1}`,
			check: func(t *testing.T, r Result) {
				if r.Stdout != "printed\n" || !r.StdoutTruncated {
					t.Errorf("stdout = %q truncated=%v, want the frame's", r.Stdout, r.StdoutTruncated)
				}
			}},
		{name: "function exception", stdout: errFrame, outcome: Failed, errType: "KeyError", message: "'a'",
			check: func(t *testing.T, r Result) {
				if r.Error.Traceback != "Traceback" || r.Stderr != "e\n" || r.Value != nil {
					t.Errorf("result = %+v", r)
				}
			}},
		{name: "out of memory", exitCode: 137, oom: true, outcome: Failed, errType: ErrTypeOutOfMemory, message: "256 MB"},
		{name: "out of memory after the frame", exitCode: 137, oom: true, stdout: okFrame, outcome: Failed, errType: ErrTypeOutOfMemory},
		{name: "no frame", exitCode: 2, stderr: "python3: can't open file\n", outcome: Failed, errType: ErrTypeProcessExit,
			message: "exited with code 2",
			check: func(t *testing.T, r Result) {
				if r.Stderr != "python3: can't open file\n" {
					t.Errorf("stderr = %q, want the container's stderr for diagnosis", r.Stderr)
				}
			}},
		{name: "killed without frame", exitCode: 137, outcome: Failed, errType: ErrTypeProcessExit, message: "code 137"},
		{name: "garbage instead of a frame", exitCode: 0, stdout: "hello\n", outcome: Failed, errType: ErrTypeProtocol,
			message: "could not be read"},
		{name: "stdout over its cap", stdout: strings.Repeat("x", 64), stdoutCap: 16, outcome: Failed, errType: ErrTypeOutputTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limit := tt.stdoutCap
			if limit == 0 {
				limit = 1 << 20
			}
			stdout := &cappedBuffer{limit: limit}
			stderr := &cappedBuffer{limit: 1 << 20}
			_, _ = stdout.Write([]byte(tt.stdout))
			_, _ = stderr.Write([]byte(tt.stderr))
			res := Result{ExitCode: tt.exitCode, OOMKilled: tt.oom}
			(&Sandbox{}).interpret(&res, stdout, stderr, limits)

			if res.Outcome != tt.outcome {
				t.Errorf("outcome = %q, want %q", res.Outcome, tt.outcome)
			}
			if tt.value != "" && string(res.Value) != tt.value {
				t.Errorf("value = %s, want %s", res.Value, tt.value)
			}
			if tt.errType == "" {
				if res.Error != nil {
					t.Errorf("error = %+v, want none", res.Error)
				}
			} else if res.Error == nil || res.Error.Type != tt.errType || !strings.Contains(res.Error.Message, tt.message) {
				t.Errorf("error = %+v, want type %s with message containing %q", res.Error, tt.errType, tt.message)
			}
			if tt.check != nil {
				tt.check(t, res)
			}
		})
	}
}

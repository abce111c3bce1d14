package sandbox

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	l := Limits{MemoryBytes: 128 << 20, Timeout: 5 * time.Second, OutputBytes: 8, ResultBytes: 16}
	exception := &FuncError{Type: "KeyError", Message: "'a'", Traceback: "Traceback"}
	forkDied := frame{Error: &FuncError{Type: ErrTypeProcessExit, Message: "the function's process exited with code 137"}, ExitCode: exitKilled}
	forkExit1 := frame{Error: &FuncError{Type: ErrTypeProcessExit, Message: "the function's process exited with code 1"}, ExitCode: 1}
	forkOOM := forkDied
	forkOOM.OOM = true
	tests := []struct {
		name     string
		e        execution
		outcome  string
		errType  string // "" for none
		message  string // part of the error message
		value    string
		stderr   string
		exitCode int
		oom      bool
		v        verdict
	}{
		{name: "value", e: execution{outcome: answered, frame: frame{OK: true, Result: `{"x": 1}`, Stderr: "w"}},
			outcome: Completed, value: `{"x": 1}`, stderr: "w", v: verdict{reuse: true}},
		{name: "exception", e: execution{outcome: answered, frame: frame{Error: exception, Stderr: "e"}},
			outcome: Failed, errType: "KeyError", message: "'a'", stderr: "e", v: verdict{reuse: true}},
		{name: "result over the limit, container clean", e: execution{outcome: answered, frame: frame{OK: true, Result: `"` + strings.Repeat("x", 20) + `"`}},
			outcome: Failed, errType: ErrTypeResultTooLarge, message: "the limit is 16", v: verdict{reuse: true}},
		{name: "processes left behind", e: execution{outcome: answered, frame: frame{OK: true, Result: "1", Stray: 2}},
			outcome: Completed, value: "1", v: verdict{kill: true}},
		{name: "forked process killed", e: execution{outcome: answered, frame: forkDied},
			outcome: Failed, errType: ErrTypeProcessExit, message: "code 137", exitCode: exitKilled, v: verdict{kill: true}},
		{name: "forked process exited", e: execution{outcome: answered, frame: forkExit1},
			outcome: Failed, errType: ErrTypeProcessExit, message: "code 1", exitCode: 1, v: verdict{kill: true}},
		{name: "forked process killed, engine saw the OOM killer", e: execution{outcome: answered, frame: forkDied, oom: true},
			outcome: Failed, errType: ErrTypeOutOfMemory, message: "128 MB", exitCode: exitKilled, oom: true, v: verdict{kill: true}},
		{name: "forked process killed, runner saw the OOM killer", e: execution{outcome: answered, frame: forkOOM},
			outcome: Failed, errType: ErrTypeOutOfMemory, message: "128 MB", exitCode: exitKilled, oom: true, v: verdict{kill: true}},
		{name: "timeout", e: execution{outcome: timedOut},
			outcome: Timeout, errType: ErrTypeTimeout, message: "longer than 5s", exitCode: exitKilled, v: verdict{kill: true}},
		{name: "container OOM-killed", e: execution{outcome: broken, exitCode: exitKilled, oom: true, runnerStderr: "Killed"},
			outcome: Failed, errType: ErrTypeOutOfMemory, message: "128 MB", exitCode: exitKilled, oom: true, v: verdict{kill: true}},
		{name: "OOM-killed while breaking the protocol", e: execution{outcome: broken, err: errLineTooLong, exitCode: exitKilled, oom: true},
			outcome: Failed, errType: ErrTypeOutOfMemory, exitCode: exitKilled, oom: true, v: verdict{kill: true}},
		{name: "line over the frame limit", e: execution{outcome: broken, err: errLineTooLong, exitCode: exitKilled},
			outcome: Failed, errType: ErrTypeResultTooLarge, message: "size limits", exitCode: exitKilled, v: verdict{kill: true}},
		{name: "protocol broken", e: execution{outcome: broken, err: errors.New("decode result frame: bad"), exitCode: exitKilled},
			outcome: Failed, errType: ErrTypeProtocol, message: "decode result frame: bad", exitCode: exitKilled, v: verdict{kill: true}},
		{name: "runner exited without a frame", e: execution{outcome: broken, exitCode: 2, runnerStderr: "Fatal Python error"},
			outcome: Failed, errType: ErrTypeProcessExit, message: "exited with code 2", stderr: "Fatal Python error", exitCode: 2,
			v: verdict{kill: true}},
		{name: "runner exit unknown", e: execution{outcome: broken, exitCode: -1},
			outcome: Failed, errType: ErrTypeProcessExit, message: "code -1", exitCode: -1, v: verdict{kill: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, v := classify(tt.e, l)
			if res.Outcome != tt.outcome {
				t.Errorf("outcome = %q, want %q", res.Outcome, tt.outcome)
			}
			switch {
			case tt.errType == "" && res.Error != nil:
				t.Errorf("error = %+v, want none", res.Error)
			case tt.errType != "" && (res.Error == nil || res.Error.Type != tt.errType || !strings.Contains(res.Error.Message, tt.message)):
				t.Errorf("error = %+v, want %s with %q", res.Error, tt.errType, tt.message)
			}
			if string(res.Value) != tt.value || res.Stderr != tt.stderr {
				t.Errorf("value %s stderr %q; want %s, %q", res.Value, res.Stderr, tt.value, tt.stderr)
			}
			if res.ExitCode != tt.exitCode || res.OOMKilled != tt.oom {
				t.Errorf("exit %d oom %v; want %d, %v", res.ExitCode, res.OOMKilled, tt.exitCode, tt.oom)
			}
			if v != tt.v {
				t.Errorf("verdict = %+v, want %+v", v, tt.v)
			}
			if v.reuse && v.kill {
				t.Error("a box both reused and killed")
			}
			if res.ColdStart || res.Acquire != 0 || res.Duration != 0 {
				t.Errorf("classify set the timings: %+v", res)
			}
		})
	}
}

func TestTimings(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	tests := []struct {
		name              string
		sent, done        time.Time
		wasReady          bool
		readyAt           time.Time
		acquire, duration time.Duration
	}{
		{name: "warm", sent: at(1), done: at(21), wasReady: true, readyAt: at(-500),
			acquire: time.Millisecond, duration: 20 * time.Millisecond},
		{name: "cold: the import is acquiring", sent: at(150), done: at(420), readyAt: at(400),
			acquire: 400 * time.Millisecond, duration: 20 * time.Millisecond},
		{name: "never became ready", sent: at(150), done: at(200),
			acquire: 150 * time.Millisecond, duration: 50 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acquire, duration := timings(t0, tt.sent, tt.done, tt.wasReady, tt.readyAt)
			if acquire != tt.acquire || duration != tt.duration {
				t.Errorf("timings = %v, %v; want %v, %v", acquire, duration, tt.acquire, tt.duration)
			}
		})
	}
}

// TestFill covers a run that returned a frame; the runs that did not are in TestRun.
func TestFill(t *testing.T) {
	tests := []struct {
		name     string
		f        frame
		outcome  string
		errType  string
		value    string
		exitCode int
		check    func(t *testing.T, r Result)
	}{
		{name: "value", f: frame{OK: true, Result: `{"x": 1}`, Stdout: "printed\n", StdoutTruncated: true},
			outcome: Completed, value: `{"x": 1}`,
			check: func(t *testing.T, r Result) {
				if r.Stdout != "printed\n" || !r.StdoutTruncated || r.Stderr != "" || r.StderrTruncated {
					t.Errorf("output = %q/%v %q/%v, want the frame's", r.Stdout, r.StdoutTruncated, r.Stderr, r.StderrTruncated)
				}
			}},
		{name: "null value", f: frame{OK: true, Result: "null"}, outcome: Completed, value: "null"},
		{name: "function exception", f: frame{Error: &FuncError{Type: "KeyError", Message: "'a'", Traceback: "Traceback"},
			Stderr: "e\n", StderrTruncated: true}, outcome: Failed, errType: "KeyError",
			check: func(t *testing.T, r Result) {
				if r.Error.Traceback != "Traceback" || r.Stderr != "e\n" || !r.StderrTruncated || r.Value != nil {
					t.Errorf("result = %+v", r)
				}
			}},
		{name: "result not serializable", f: frame{Error: &FuncError{Type: "ResultNotSerializable", Message: "set"}},
			outcome: Failed, errType: "ResultNotSerializable"},
		// In fork mode the runner survives its child and says how the child died; classify, not
		// fill, takes the exit code (and the OOM verdict) from it.
		{name: "forked process died", f: frame{Error: &FuncError{Type: ErrTypeProcessExit, Message: "code 137"}, ExitCode: exitKilled},
			outcome: Failed, errType: ErrTypeProcessExit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Result{ColdStart: true}
			fill(&res, tt.f, Limits{})
			if res.Outcome != tt.outcome {
				t.Errorf("outcome = %q, want %q", res.Outcome, tt.outcome)
			}
			if string(res.Value) != tt.value {
				t.Errorf("value = %s, want %s", res.Value, tt.value)
			}
			if tt.errType == "" {
				if res.Error != nil {
					t.Errorf("error = %+v, want none", res.Error)
				}
			} else if res.Error == nil || res.Error.Type != tt.errType {
				t.Errorf("error = %+v, want type %s", res.Error, tt.errType)
			}
			if res.ExitCode != tt.exitCode || res.OOMKilled || !res.ColdStart {
				t.Errorf("exit code %d oom %v cold %v; want %d, false, true (untouched)", res.ExitCode, res.OOMKilled, res.ColdStart, tt.exitCode)
			}
			if tt.check != nil {
				tt.check(t, res)
			}
		})
	}
}

// TestFillEnforcesLimits: a forged frame over the limits is cut down on our side.
func TestFillEnforcesLimits(t *testing.T) {
	l := Limits{OutputBytes: 4, ResultBytes: 8}
	var res Result
	fill(&res, frame{OK: true, Result: `"0123456789"`, Stdout: "abcdefgh", Stderr: "ab"}, l)
	if res.Outcome != Failed || res.Error == nil || res.Error.Type != ErrTypeResultTooLarge || res.Value != nil {
		t.Errorf("oversized result: %+v", res)
	}
	if res.Stdout != "abcd" || !res.StdoutTruncated || res.Stderr != "ab" || res.StderrTruncated {
		t.Errorf("output caps: %q %v %q %v", res.Stdout, res.StdoutTruncated, res.Stderr, res.StderrTruncated)
	}
}

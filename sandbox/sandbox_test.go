package sandbox

import (
	"io"
	"log/slog"
	"strings"
	"testing"
)

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
		// In fork mode the runner survives its child and says how the child died; Run, not
		// fill, takes the exit code (and the OOM verdict) from it.
		{name: "forked process died", f: frame{Error: &FuncError{Type: ErrTypeProcessExit, Message: "code 137"}, ExitCode: 137},
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

func TestNew(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name    string
		cfg     Config
		errText string
		check   func(t *testing.T, s *Sandbox)
	}{
		{name: "zero config takes the defaults", cfg: Config{},
			check: func(t *testing.T, s *Sandbox) {
				if s.cfg.Mode != "fork" || s.pool.max != DefaultConfig().MaxIdle || s.pool.max <= 0 {
					t.Errorf("mode %q, pool max %d; want fork and %d", s.cfg.Mode, s.pool.max, DefaultConfig().MaxIdle)
				}
			}},
		{name: "process mode", cfg: Config{Mode: "process", MaxIdle: 3},
			check: func(t *testing.T, s *Sandbox) {
				if s.cfg.Mode != "process" || s.pool.max != 3 {
					t.Errorf("mode %q, pool max %d; want process and 3", s.cfg.Mode, s.pool.max)
				}
			}},
		{name: "unknown mode", cfg: Config{Mode: "thread"}, errText: "mode"},
		{name: "root user", cfg: Config{User: "0:0"}, errText: "root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(nil, tt.cfg, log)
			if tt.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("New = %v, want an error about %s", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

// TestFillEnforcesLimits: a forged frame over the limits is cut down on our side.
func TestFillEnforcesLimits(t *testing.T) {
	l := Limits{OutputBytes: 4, ResultBytes: 8}
	var res Result
	fill(&res, frame{OK: true, Result: `"0123456789"`, Stdout: "abcdefgh", Stderr: "ab"}, l)
	if res.Outcome != Failed || res.Error == nil || res.Error.Type != ErrTypeOutputTooBig || res.Value != nil {
		t.Errorf("oversized result: %+v", res)
	}
	if res.Stdout != "abcd" || !res.StdoutTruncated || res.Stderr != "ab" || res.StderrTruncated {
		t.Errorf("output caps: %q %v %q %v", res.Stdout, res.StdoutTruncated, res.Stderr, res.StderrTruncated)
	}
}

package daemon

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/sandbox"
)

func TestApplyResult(t *testing.T) {
	tests := []struct {
		name    string
		res     sandbox.Result
		status  faaspot.ExecStatus
		errType string
	}{
		{name: "completed", status: faaspot.ExecCompleted,
			res: sandbox.Result{Outcome: sandbox.Completed, Value: json.RawMessage(`{"x":1}`), Stdout: "out", ExitCode: 0}},
		{name: "function error", status: faaspot.ExecFailed, errType: "ValueError",
			res: sandbox.Result{Outcome: sandbox.Failed, Error: &sandbox.FuncError{Type: "ValueError", Message: "boom", Traceback: "tb"}, ExitCode: 0}},
		{name: "timeout", status: faaspot.ExecTimeout, errType: sandbox.ErrTypeTimeout,
			res: sandbox.Result{Outcome: sandbox.Timeout, Error: &sandbox.FuncError{Type: sandbox.ErrTypeTimeout, Message: "killed"}, ExitCode: 137}},
		{name: "out of memory", status: faaspot.ExecFailed, errType: sandbox.ErrTypeOutOfMemory,
			res: sandbox.Result{Outcome: sandbox.Failed, OOMKilled: true, Error: &sandbox.FuncError{Type: sandbox.ErrTypeOutOfMemory}, ExitCode: 137}},
		{name: "unknown outcome is a failure", status: faaspot.ExecFailed, res: sandbox.Result{Outcome: "weird"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.res.Duration, tt.res.ColdStart, tt.res.CPU = 1500*time.Microsecond, true, 500*time.Microsecond
			tt.res.Stderr, tt.res.StdoutTruncated = "err", true
			// A second attempt: its resources add to the first's.
			e := faaspot.Execution{Usage: &faaspot.ExecUsage{WallMS: 1000, CPUMS: 100, GBSeconds: 0.5}}
			applyResult(&e, tt.res, 512<<20)
			if e.Status != tt.status {
				t.Errorf("status = %q, want %q", e.Status, tt.status)
			}
			if string(e.Result) != string(tt.res.Value) {
				t.Errorf("result = %s", e.Result)
			}
			if (e.Error == nil) != (tt.errType == "") || (e.Error != nil && e.Error.Type != tt.errType) {
				t.Errorf("error = %+v, want type %q", e.Error, tt.errType)
			}
			if e.Error != nil && tt.res.Error != nil && (e.Error.Message != tt.res.Error.Message || e.Error.Traceback != tt.res.Error.Traceback) {
				t.Errorf("error = %+v, want %+v", e.Error, tt.res.Error)
			}
			if e.ExitCode == nil || *e.ExitCode != tt.res.ExitCode || e.OOMKilled != tt.res.OOMKilled {
				t.Errorf("exit code %v oom %v", e.ExitCode, e.OOMKilled)
			}
			if e.DurationMS != 1.5 || !e.ColdStart || e.Stderr != "err" || !e.StdoutTruncated || e.Stdout != tt.res.Stdout {
				t.Errorf("record = %+v", e)
			}
			// 512 MiB for 1.5 ms: 0.00075 GB-seconds.
			if want := (faaspot.ExecUsage{WallMS: 1001.5, CPUMS: 100.5, GBSeconds: 0.50075}); e.CPUMS != 0.5 || *e.Usage != want {
				t.Errorf("cpu_ms %v usage %+v, want 0.5 and %+v", e.CPUMS, *e.Usage, want)
			}
		})
	}
}

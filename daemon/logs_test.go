package daemon

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot/imagebuilder"
	"github.com/faaspot/faaspot/sandbox"
)

// TestLogExecutionFinished: a finished run writes one INFO line naming the execution, tenant,
// deployment (name and id), version, status, duration and cold start, and nothing of its
// arguments, context, result or output.
func TestLogExecutionFinished(t *testing.T) {
	tw := newTestWorkers(t)
	withRun(tw)
	tw.runner.results = append(tw.runner.results, result(sandbox.Result{Outcome: sandbox.Failed,
		Value: json.RawMessage(`"RESULT-VALUE"`), Stdout: "PRINTED-VALUE", Duration: 3 * time.Millisecond,
		Error: &sandbox.FuncError{Type: "ValueError", Message: "ERROR-MESSAGE"}}))
	if err := tw.run(t.Context(), runJob("e1")); err != nil {
		t.Fatalf("run = %v", err)
	}
	lines := tw.logs.lines("level=INFO", `msg="execution finished"`)
	if len(lines) != 1 {
		t.Fatalf("execution lines = %q, want one", lines)
	}
	for _, want := range []string{"execution=e1", "tenant=" + testTenant, "deployment=fn", "deployment_id=d1", "version=1",
		"status=failed", "duration_ms=3", "cold_start=false", "error_type=ValueError"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("line %q lacks %q", lines[0], want)
		}
	}
	for _, secret := range []string{"RESULT-VALUE", "PRINTED-VALUE", "ERROR-MESSAGE", `"a"`, "v1"} {
		if strings.Contains(tw.logs.String(), secret) {
			t.Errorf("the log holds %q of the run: %s", secret, tw.logs.String())
		}
	}
}

// TestLogBuildFinished: a finished build writes one INFO line with its deployment, version and
// result, and the reason of a failure.
func TestLogBuildFinished(t *testing.T) {
	tw := newTestWorkers(t)
	withBuild(tw)
	tw.builder.build = func(context.Context, imagebuilder.Spec) (string, string, error) {
		return "", "", &imagebuilder.BuildError{Kind: imagebuilder.ErrInvalidFunction, Message: "no main(args, context)"}
	}
	if err := tw.build(t.Context(), buildJob(2)); err != nil {
		t.Fatalf("build = %v", err)
	}
	lines := tw.logs.lines("level=INFO", `msg="build finished"`, "deployment=fn", "deployment_id=d1", "version=2",
		"result=failed", `reason="no main(args, context)"`)
	if len(lines) != 1 {
		t.Errorf("build lines = %q, want one with the failure's reason", tw.logs.lines(`msg="build finished"`))
	}
}

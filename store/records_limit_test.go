package store

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/faaspot/faaspot"
)

// TestEncodeExecutionAtTheCaps: a record at every cap of the engine (arguments 256 KiB, result
// 1 MiB, stdout and stderr 256 KiB each, error message and traceback 64 KiB each), with every
// character of its texts needing an escape, is within MaxExecutionBytes and decodes back.
func TestEncodeExecutionAtTheCaps(t *testing.T) {
	e := fullExecution()
	e.Args = json.RawMessage(`"` + strings.Repeat("<", 256<<10-2) + `"`)
	e.Result = json.RawMessage(`"` + strings.Repeat("<&>", (1<<20)/3) + `"`)
	e.Stdout, e.Stderr = strings.Repeat("\x01", 256<<10), strings.Repeat("\x1f", 256<<10)
	e.Error = &faaspot.ExecError{Type: "E", Message: strings.Repeat("\x00", 64<<10), Traceback: strings.Repeat("\"", 64<<10),
		MessageTruncated: true, TracebackTruncated: true}
	b, err := encodeExecution(e)
	if err != nil {
		t.Fatalf("encodeExecution = %v", err)
	}
	if len(b) > MaxExecutionBytes {
		t.Errorf("a record at the caps takes %d bytes, over the limit of %d", len(b), MaxExecutionBytes)
	}
	got, err := decodeExecution(b)
	if err != nil || string(got.Result) != string(e.Result) || got.Stdout != e.Stdout || *got.Error != *e.Error {
		t.Errorf("decoded back: %v", err)
	}
}

// TestEncodeDeploymentCapsTexts: a deployment's error keeps its head and its build log its
// tail, each within its cap, at a character boundary.
func TestEncodeDeploymentCapsTexts(t *testing.T) {
	d := fullDeployment()
	d.Error = "é" + strings.Repeat("e", 2*maxDeploymentErrorBytes)
	d.BuildLog = strings.Repeat("l", 2*maxBuildLogBytes) + "é last line\n"
	got, err := decodeDeployment(encodeDeployment(d))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Error) != maxDeploymentErrorBytes || !strings.HasPrefix(got.Error, "é") {
		t.Errorf("error of %d bytes starting %.10q, want %d with the head", len(got.Error), got.Error, maxDeploymentErrorBytes)
	}
	if len(got.BuildLog) != maxBuildLogBytes || !strings.HasSuffix(got.BuildLog, "é last line\n") {
		t.Errorf("build log of %d bytes, want %d with the tail", len(got.BuildLog), maxBuildLogBytes)
	}
	if headOf("é", 1) != "" || tailOf("é", 1) != "" {
		t.Error("a cut inside a character keeps a part of it")
	}
}

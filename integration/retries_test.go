package integration

import (
	"context"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
)

// TestRetriesAndDeadLetters: an async run of a deployment with a retry policy that keeps failing
// runs max_attempts times, waiting the backoff doubled, then is listed as a dead letter; a retry
// by hand runs it again (new execution, same arguments) and takes it off the list. A sync run is
// not retried.
func TestRetriesAndDeadLetters(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	n.deploy(t, faaspot.DeploymentRequest{Name: "flaky", Retry: &faaspot.RetryPolicy{MaxAttempts: 3, BackoffS: 0.5},
		Code: "def main(args, context):\n    if args.get('ok'):\n        return 'fine'\n    raise ValueError('always')\n"})
	start := time.Now()
	id, err := n.c.Run(ctx, "flaky", map[string]any{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	var e faaspot.Execution
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if e, err = n.c.GetExecution(ctx, id); err == nil && e.Terminal() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run did not end: %+v %v", e, err)
		}
	}
	took := time.Since(start)
	if e.Status != faaspot.ExecFailed || e.Attempts != 3 || e.Error == nil || e.Error.Type != "ValueError" {
		t.Errorf("record = %s attempts %d error %+v; want failed after 3 attempts", e.Status, e.Attempts, e.Error)
	}
	if took < 1500*time.Millisecond { // waits 0.5 s then 1 s between the attempts
		t.Errorf("3 attempts took %v, less than the backoff (0.5 s + 1 s)", took)
	}
	dead, err := n.c.ListDeadLetters(ctx, 0)
	if err != nil || len(dead) != 1 || dead[0].ID != id {
		t.Fatalf("dead letters = %+v, %v", dead, err)
	}
	again, err := n.c.RetryExecution(ctx, id)
	if err != nil || again == id {
		t.Fatalf("retry = %s, %v", again, err)
	}
	if ne, err := n.c.WaitExecution(ctx, again, time.Minute); err != nil || string(ne.Args) != `{"n":1}` || ne.Status != faaspot.ExecFailed {
		t.Errorf("the retried run = %+v, %v; want the same arguments (failing again)", ne, err)
	}
	if dead, _ := n.c.ListDeadLetters(ctx, 0); len(dead) != 1 || dead[0].ID != again {
		t.Errorf("dead letters after the retry = %+v, want only the new run (it failed its attempts too)", dead)
	}
	_, sid, err := n.c.RunSync(ctx, "flaky", nil)
	if se, _ := n.c.GetExecution(ctx, sid); err == nil || se.Attempts != 1 {
		t.Errorf("a sync run = %+v, %v; want failed once, not retried", se, err)
	}
	if v, _, err := n.c.RunSync(ctx, "flaky", map[string]any{"ok": true}); err != nil || string(v) != `"fine"` {
		t.Errorf("a run that succeeds = %s, %v", v, err)
	}
	t.Logf("3 attempts with a 0.5 s backoff took %v", took.Round(time.Millisecond))
}

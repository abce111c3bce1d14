package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/daemon"
	"github.com/faaspot/faaspot/sandbox"
)

// slowPrint prints a line on each stream, sleeps, prints another line and returns; with
// "quick" it prints and returns at once.
const slowPrint = `import sys, time
def main(args, context):
    print("first line")
    print("to stderr", file=sys.stderr)
    if args.get("quick"):
        return "quick"
    time.sleep(1.5)
    print("second line")
    return "done"
`

// TestLogsFollow: in each warm mode, a follow of a run's output gets its first line while the
// run goes on (its record not yet terminal, and well before its finished_at), then the rest
// and the end with the run; the Go client, the CLI and the Python client all stream it. A quick
// run that nobody follows writes no log key; another tenant's follow is 404.
func TestLogsFollow(t *testing.T) {
	for _, mode := range []sandbox.Mode{sandbox.ModeFork, sandbox.ModeProcess} {
		t.Run(string(mode), func(t *testing.T) {
			n := startNode(t, func(c *daemon.Config) { c.WarmMode = mode })
			n.deploy(t, faaspot.DeploymentRequest{Name: "slowprint", Code: slowPrint})
			checkGoFollow(t, n)
			checkQuickRunWritesNoLog(t, n)
			if mode == sandbox.ModeFork {
				checkCLIFollow(t, n)
				checkPythonFollow(t, n)
				checkForeignFollow(t, n)
			}
		})
	}
}

// checkGoFollow follows a slow run with the Go client.
func checkGoFollow(t *testing.T, n *node) {
	t.Helper()
	ctx := context.Background()
	id, err := n.c.Run(ctx, "slowprint", nil)
	if err != nil {
		t.Fatal(err)
	}
	var firstAt time.Time
	var firstStatus faaspot.ExecStatus
	got := map[string]string{}
	last, err := n.c.Logs(ctx, id, true, func(l fsclient.LogLine) error {
		if firstAt.IsZero() {
			firstAt = time.Now()
			e, err := n.c.GetExecution(ctx, id)
			if err != nil {
				return err
			}
			firstStatus = e.Status
		}
		got[l.Stream] += l.Data
		return nil
	})
	if err != nil || last.Status != faaspot.ExecCompleted || last.StdoutTruncated || last.StderrTruncated {
		t.Fatalf("follow = %+v, %v; want completed", last, err)
	}
	if got["stdout"] != "first line\nsecond line\n" || got["stderr"] != "to stderr\n" {
		t.Errorf("followed output %q", got)
	}
	e, err := n.c.GetExecution(ctx, id)
	if err != nil || e.FinishedAt == nil {
		t.Fatalf("record %+v, %v", e, err)
	}
	if firstStatus.Terminal() || e.FinishedAt.Sub(firstAt) < time.Second {
		t.Errorf("first piece at %v (status then %s), run finished at %v: want it while the run slept",
			firstAt, firstStatus, e.FinishedAt)
	}
	// A terminal execution's logs come at once, with or without follow.
	for _, follow := range []bool{false, true} {
		var out string
		start := time.Now()
		last, err := n.c.Logs(ctx, id, follow, func(l fsclient.LogLine) error { out += l.Stream + ":" + l.Data; return nil })
		if err != nil || last.Status != faaspot.ExecCompleted || out != "stdout:first line\nsecond line\nstderr:to stderr\n" ||
			time.Since(start) > 5*time.Second {
			t.Errorf("logs of the ended run (follow %v): %q, %+v, %v", follow, out, last, err)
		}
	}
}

// checkQuickRunWritesNoLog: a run that ends at once and that nobody follows leaves no log key.
func checkQuickRunWritesNoLog(t *testing.T, n *node) {
	t.Helper()
	ctx := context.Background()
	if _, _, err := n.c.RunSync(ctx, "slowprint", map[string]any{"quick": true}); err != nil {
		t.Fatal(err)
	}
	opts, err := redis.ParseURL(env.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, n.prefix+"t:*:log:*").Result()
	if err != nil || len(keys) > 1 { // the slow run's log may still be there (its end keeps it a minute)
		t.Errorf("log keys %q, %v; want none of the quick run", keys, err)
	}
}

// checkCLIFollow follows a slow run with `fas executions logs -f`, reading its stdout as it comes.
func checkCLIFollow(t *testing.T, n *node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id, err := n.c.Run(ctx, "slowprint", nil)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(fasDir(t), "fas"), "executions", "logs", "-f", id)
	cmd.Env = append(os.Environ(), "FAASPOT_URL="+n.url, "FAASPOT_TOKEN="+n.token, "HOME="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(out)
	first, _ := r.ReadString('\n')
	e, _ := n.c.GetExecution(ctx, id)
	rest, _ := r.ReadString(0)
	if err := cmd.Wait(); err != nil || first != "first line\n" || rest != "second line\n" || stderr.String() != "to stderr\n" {
		t.Errorf("fas executions logs -f: %v, stdout %q then %q, stderr %q", err, first, rest, stderr.String())
	}
	if e.Status.Terminal() {
		t.Errorf("fas printed the first line only once the run had ended")
	}
}

// checkPythonFollow follows a slow run with faaspot.executions.logs(id, follow=True).
func checkPythonFollow(t *testing.T, n *node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id, err := n.c.Run(ctx, "slowprint", nil)
	if err != nil {
		t.Fatal(err)
	}
	script := `import json, sys
from faaspot import Faaspot
for line in Faaspot().executions.logs(sys.argv[1], follow=True):
    print(json.dumps(line), flush=True)
`
	dir := t.TempDir()
	pyWriteFile(t, dir, "follow.py", script)
	cmd := exec.CommandContext(ctx, pyPython(t), "follow.py", id)
	cmd.Dir, cmd.Env = dir, pyEnv(t, dir, n.pyVars()...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(out)
	var lines []map[string]any
	var statusAtFirst faaspot.ExecStatus
	for {
		b, err := r.ReadBytes('\n')
		if err != nil {
			break
		}
		if len(lines) == 0 {
			e, _ := n.c.GetExecution(ctx, id)
			statusAtFirst = e.Status
		}
		var l map[string]any
		if err := json.Unmarshal(b, &l); err != nil {
			t.Fatalf("python printed %q", b)
		}
		lines = append(lines, l)
	}
	if err := cmd.Wait(); err != nil || len(lines) < 4 || lines[len(lines)-1]["status"] != "completed" {
		t.Fatalf("python follow: %v, lines %v, stderr %s", err, lines, stderr.String())
	}
	if statusAtFirst.Terminal() {
		t.Error("the Python client got its first line only once the run had ended")
	}
}

// checkForeignFollow: another tenant following the node tenant's execution gets 404.
func checkForeignFollow(t *testing.T, n *node) {
	t.Helper()
	ctx := context.Background()
	id, err := n.c.Run(ctx, "slowprint", map[string]any{"quick": true})
	if err != nil {
		t.Fatal(err)
	}
	token, err := n.admin.CreateTenant(ctx, "other"+faaspot.NewID()[:6])
	if err != nil {
		t.Fatal(err)
	}
	_, err = fsclient.New(n.url, token).Logs(ctx, id, true, func(fsclient.LogLine) error { return nil })
	if !fsclient.IsStatus(err, 404) {
		t.Errorf("another tenant's follow = %v, want 404", err)
	}
}

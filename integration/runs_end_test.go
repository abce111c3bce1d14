package integration

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/daemon"
	"github.com/faaspot/faaspot/sandbox"
)

// endGrace bounds how long past its timeout a run may take to be recorded terminal: the
// sandbox's kill and inspect of a broken container, and the workers' own grace, are within it.
const endGrace = 45 * time.Second

// awaitEnd polls execution id until it is terminal, failing the test when it is not within its
// timeout plus endGrace (counted from start).
func awaitEnd(t *testing.T, n *node, id string, start time.Time, timeout time.Duration) faaspot.Execution {
	t.Helper()
	e, err := n.c.WaitExecution(context.Background(), id, time.Until(start.Add(timeout+endGrace)))
	if err != nil || !e.Terminal() {
		t.Fatalf("execution %s is %s after %v (finished_at %v): %v", id, e.Status, time.Since(start).Round(time.Second), e.FinishedAt, err)
	}
	return e
}

// rawExecution returns execution id as the API answers it, as a generic JSON object.
func rawExecution(t *testing.T, n *node, id string) map[string]any {
	t.Helper()
	a := n.raw(t, http.MethodGet, "/v1/executions/"+id, "")
	if a.status != http.StatusOK {
		t.Fatalf("GET execution %s: %d %s", id, a.status, a.body)
	}
	if len(a.body) > 1<<20 {
		t.Errorf("the record of %s takes %d bytes", id, len(a.body))
	}
	return a.json(t)
}

// TestHugeOutputsEnd (issue 9, item 3): whatever a function raises, prints or writes, its async
// run reaches a terminal status within its timeout plus a small grace, with every text capped
// and the cut flagged. Runs go through the warm container's runner in process mode, where a
// function can also write on the protocol's own descriptor; the 10 MB exception also in fork
// mode (the default).
func TestHugeOutputsEnd(t *testing.T) {
	limits := &faaspot.Limits{MemoryMB: 256, TimeoutS: 20}
	const hugeException = "def main(a, c):\n    raise ValueError('E' * 10_000_000)\n"
	cases := []struct {
		name, code string
		check      func(t *testing.T, e faaspot.Execution, raw map[string]any)
	}{
		{name: "huge-exception", code: hugeException, check: checkHugeException},
		{name: "huge-print-and-traceback", code: "import sys\n" +
			"def f(n):\n    if n == 0:\n        raise RuntimeError('T' * 3_000_000)\n    return f(n - 1)\n" +
			"def main(a, c):\n    sys.stdout.write('P' * 20_000_000)\n    sys.stderr.write('Q' * 20_000_000)\n    f(900)\n",
			check: func(t *testing.T, e faaspot.Execution, raw map[string]any) {
				wantError(t, e, faaspot.ExecFailed, "RuntimeError", "TTTT")
				capped(t, e, raw)
				if !e.StdoutTruncated || !e.StderrTruncated || len(e.Stdout) > 256<<10 || len(e.Stderr) > 256<<10 || !strings.HasPrefix(e.Stdout, "PPPP") {
					t.Errorf("output of %d/%d bytes, flags %v/%v: want capped and flagged", len(e.Stdout), len(e.Stderr), e.StdoutTruncated, e.StderrTruncated)
				}
				tb, _ := raw["error"].(map[string]any)["traceback"].(string)
				if !e.Error.TracebackTruncated || !strings.Contains(tb, "in f") {
					t.Errorf("traceback of %d bytes, flagged %v: want capped, flagged, with its frames", len(tb), e.Error.TracebackTruncated)
				}
			}},
		{name: "protocol-flood", code: "import os\ndef main(a, c):\n    line = b'x' * 20_000_000 + b'\\n'\n" +
			"    for fd in range(3, 256):\n        try:\n            os.write(fd, line)\n        except OSError:\n            pass\n    return 'done'\n",
			check: func(t *testing.T, e faaspot.Execution, _ map[string]any) {
				wantError(t, e, faaspot.ExecFailed, sandbox.ErrTypeResultTooLarge, "size limits")
			}},
	}
	n := startNode(t) // process mode, the default
	for _, tc := range cases {
		n.deploy(t, faaspot.DeploymentRequest{Name: tc.name, Code: tc.code, Limits: limits})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runToEnd(t, n, tc.name, limits, tc.check) })
	}
	t.Run("huge-exception-fork-mode", func(t *testing.T) {
		f := startNode(t, func(c *daemon.Config) { c.WarmMode = sandbox.ModeFork })
		f.deploy(t, faaspot.DeploymentRequest{Name: "huge-exception", Code: hugeException, Limits: limits})
		runToEnd(t, f, "huge-exception", limits, checkHugeException)
	})
}

// runToEnd runs deployment name async and checks its record once terminal, then that the
// daemon is healthy and no record in Redis grew past the cap.
func runToEnd(t *testing.T, n *node, name string, limits *faaspot.Limits, check func(*testing.T, faaspot.Execution, map[string]any)) {
	start := time.Now()
	id, err := n.c.Run(context.Background(), name, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := awaitEnd(t, n, id, start, time.Duration(limits.TimeoutS)*time.Second)
	if e.Error == nil || e.FinishedAt == nil {
		t.Fatalf("%s: %s without an error or finished_at", name, e.Status)
	}
	t.Logf("%s: %s in %v, error %s (%d bytes)", name, e.Status, time.Since(start).Round(time.Millisecond), e.Error.Type, len(e.Error.Message))
	check(t, e, rawExecution(t, n, id))
	if a := n.raw(t, http.MethodGet, "/readyz", ""); a.status != http.StatusOK {
		t.Errorf("readyz after %s: %d %s", name, a.status, a.body)
	}
}

func checkHugeException(t *testing.T, e faaspot.Execution, raw map[string]any) {
	t.Helper()
	wantError(t, e, faaspot.ExecFailed, "ValueError", "EEEE")
	capped(t, e, raw)
	if !e.Error.MessageTruncated {
		t.Error("the cut message is not flagged")
	}
}

// capped checks that the record's error is within the sandbox's caps, and that the flags the
// record carries are on the wire under their documented names.
func capped(t *testing.T, e faaspot.Execution, raw map[string]any) {
	t.Helper()
	if len(e.Error.Message) > sandbox.MaxErrorMessageBytes || len(e.Error.Traceback) > sandbox.MaxTracebackBytes {
		t.Errorf("error message of %d bytes, traceback of %d: over the caps", len(e.Error.Message), len(e.Error.Traceback))
	}
	errObj, _ := raw["error"].(map[string]any)
	if flag, _ := errObj["message_truncated"].(bool); flag != e.Error.MessageTruncated || !flag {
		t.Errorf("error on the wire: message_truncated %v, want true", errObj["message_truncated"])
	}
}

// TestForeignImageRefused (issue 9, item 8): a deployment record rewritten in Redis to name
// another tenant's image makes the victim's run fail with ImageMismatch, logged as a security
// event: the other tenant's function never runs for it. Warm containers are off, so that every
// run starts a container from the image the record names (a warm one would hide the rewrite).
func TestForeignImageRefused(t *testing.T) {
	a := startNode(t, func(c *daemon.Config) { c.Warm = false })
	ctx := context.Background()
	tokB := mustToken(t, a)
	b := &node{d: a.d, url: a.url, token: tokB, prefix: a.prefix, c: fsclient.New(a.url, tokB), admin: a.admin, logs: a.logs}
	a.deploy(t, faaspot.DeploymentRequest{Name: "victim", Code: "def main(args, context):\n    return 'victim'\n"})
	foreign := b.deploy(t, faaspot.DeploymentRequest{Name: "attacker", Code: "def main(args, context):\n    return 'attacker-secret'\n"})
	if v, _, err := a.c.RunSync(ctx, "victim", nil); err != nil || string(v) != `"victim"` {
		t.Fatalf("victim before the rewrite: %s %v", v, err)
	}

	tenant, _, err := storeOf(t, a.prefix).Authenticate(ctx, a.token, 0)
	if err != nil {
		t.Fatal(err)
	}
	rewriteImage(t, a.prefix+"t:{"+tenant.ID+"}:dep:victim", foreign.Image)
	if got := a.image(t, "victim"); got != foreign.Image {
		t.Fatalf("the victim's record names %s, want the rewritten %s", got, foreign.Image)
	}

	v, id, err := a.c.RunSync(ctx, "victim", nil)
	if strings.Contains(string(v), "attacker") {
		t.Fatalf("the victim's run answered with the other tenant's value: %s", v)
	}
	var re *fsclient.RunError
	if !errors.As(err, &re) || re.Status != faaspot.ExecFailed || re.Type != "ImageMismatch" || strings.Contains(re.Message, foreign.Image) {
		t.Fatalf("victim's run after the rewrite = %s, %v; want failed ImageMismatch without the foreign image's name", v, err)
	}
	e, err := a.c.GetExecution(ctx, id)
	if err != nil || strings.Contains(mustJSON(e), "attacker") {
		t.Errorf("the record %+v (%v) shows the other tenant's function ran", e, err)
	}
	if !strings.Contains(a.logs.String(), "event=image_mismatch") {
		t.Error("no security event logged")
	}
	if v, _, err := b.c.RunSync(ctx, "attacker", nil); err != nil || string(v) != `"attacker-secret"` {
		t.Errorf("the other tenant's own run: %s %v", v, err)
	}
}

// rewriteImage sets the image of the deployment record at key, as an attacker with write access
// to Redis would.
func rewriteImage(t *testing.T, key, image string) {
	t.Helper()
	ctx := context.Background()
	opts, err := redis.ParseURL(env.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	raw, err := rdb.Get(ctx, key).Bytes()
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	var rec map[string]any
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	rec["image"] = image
	if err := rdb.Set(ctx, key, mustJSON(rec), 0).Err(); err != nil {
		t.Fatal(err)
	}
}

package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/daemon"
)

// TestRunWhileFirstBuild: the docs' flow without waiting for the build. A run sent right after
// the create is accepted: async it is queued and runs once the version is ready; sync it answers
// the value (or 202 while the build outlasts the sync wait). The name is the docs' placeholder,
// in capitals.
func TestRunWhileFirstBuild(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	d, err := n.c.CreateDeployment(ctx, faaspot.DeploymentRequest{Name: "DEPLOYMENT_NAME",
		Code: "def main(args, context):\n    return 'hello ' + args.get('name', 'world')\n"}, false)
	if err != nil || d.Status != faaspot.StatusBuilding {
		t.Fatalf("create = %+v, %v; want building", d, err)
	}
	id, err := n.c.Run(ctx, "DEPLOYMENT_NAME", map[string]any{"name": "async"})
	if err != nil || id == "" {
		t.Fatalf("async run while building = %q, %v", id, err)
	}
	v, _, err := n.c.RunSync(ctx, "DEPLOYMENT_NAME", map[string]any{"name": "sync"})
	if err != nil || string(v) != `"hello sync"` {
		t.Errorf("sync run while building = %s, %v", v, err)
	}
	e, err := n.c.WaitExecution(ctx, id, time.Minute)
	if err != nil || e.Status != faaspot.ExecCompleted || string(e.Result) != `"hello async"` || e.Version != 1 {
		t.Errorf("the async run = %+v, %v; want completed on version 1", e, err)
	}
	if _, err := n.c.GetDeployment(ctx, "deployment_name"); err == nil {
		t.Error("names are case-sensitive: deployment_name found")
	}
}

// TestImportErrorFailsBuild: code that cannot be imported with its requirements fails its build
// with the exception and its traceback, and the runs sent while it built fail with that reason;
// code whose import blocks fails within FAASPOT_IMPORT_TIMEOUT.
func TestImportErrorFailsBuild(t *testing.T) {
	t.Parallel() // its own node; runs beside the other parallel tests, after the sequential ones
	n := startNode(t, func(c *daemon.Config) { c.ImportTimeout = 5 * time.Second })
	ctx := context.Background()
	_, err := n.c.CreateDeployment(ctx, faaspot.DeploymentRequest{Name: "broken",
		Code: "import json\nimport nonexistent_module_xyz\n\ndef main(args, context):\n    return 1\n"}, false)
	if err != nil {
		t.Fatal(err)
	}
	id, err := n.c.Run(ctx, "broken", nil)
	if err != nil {
		t.Fatalf("async run while building: %v", err)
	}
	e, err := n.c.WaitExecution(ctx, id, time.Minute)
	if err != nil || e.Status != faaspot.ExecFailed || e.Error == nil || e.Error.Type != "BuildFailed" ||
		!strings.Contains(e.Error.Message, "nonexistent_module_xyz") {
		t.Errorf("run parked on a failing build = %+v (error %+v), %v; want failed BuildFailed", e, e.Error, err)
	}
	d, err := n.c.GetDeployment(ctx, "broken")
	for _, want := range []string{"ModuleNotFoundError", "nonexistent_module_xyz", "Traceback", "line 2"} {
		if err != nil || d.Status != faaspot.StatusFailed || !strings.Contains(d.Error, want) {
			t.Errorf("deployment = %s %q, %v; want failed, the error saying %q", d.Status, d.Error, err, want)
		}
	}
	start := time.Now()
	_, err = n.c.CreateDeployment(ctx, faaspot.DeploymentRequest{Name: "slow-import",
		Code: "import time\ntime.sleep(600)\n\ndef main(args, context):\n    return 1\n"}, true)
	if err == nil || !strings.Contains(err.Error(), "did not finish importing within 5s") {
		t.Errorf("a blocking import = %v, want the build failed for its import time", err)
	}
	t.Logf("a blocking import failed its build in %v", time.Since(start).Round(time.Millisecond))
}

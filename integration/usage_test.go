package integration

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/daemon"
)

// busyCode burns 0.3 s of CPU in the function's process.
const busyCode = "import time\n\ndef main(args, context):\n    t, n = time.process_time(), 0\n" +
	"    while time.process_time() - t < 0.3:\n        n += 1\n    return n\n"

// TestUsage: on a real engine and Redis, a tenant's usage of the day counts its runs by status
// (a retried async run once, with both attempts' time), their wall seconds, GB-seconds (each
// run's memory limit × its time, as its record says), CPU seconds from the containers' cgroups
// (a CPU-busy function's at least the CPU it burned) and its builds, a failed one included; the
// usage is the same through the operator's route, and after the daemon restarted (it is in Redis).
func TestUsage(t *testing.T) {
	ctx := context.Background()
	n := startNode(t)
	n.deploy(t, faaspot.DeploymentRequest{Name: "busy", Code: busyCode, Limits: &faaspot.Limits{MemoryMB: 128}})
	n.deploy(t, faaspot.DeploymentRequest{Name: "fails", Limits: &faaspot.Limits{MemoryMB: 256},
		Code: "def main(args, context):\n    raise ValueError('no')\n"})
	n.deploy(t, faaspot.DeploymentRequest{Name: "slow", Limits: &faaspot.Limits{MemoryMB: 64, TimeoutS: 1},
		Code: "import time\n\ndef main(args, context):\n    time.sleep(10)\n"})
	n.deploy(t, faaspot.DeploymentRequest{Name: "flaky", Retry: &faaspot.RetryPolicy{MaxAttempts: 2, BackoffS: 0.2},
		Code: "def main(args, context):\n    raise RuntimeError('again')\n"})
	if d, err := n.c.CreateDeployment(ctx, faaspot.DeploymentRequest{Name: "broken", Code: "x = 1\n"}, true); err == nil {
		t.Fatalf("a deployment without main = %+v, want its build to fail", d)
	}

	var ids []string
	for _, name := range []string{"busy", "busy", "fails", "slow"} {
		_, id, err := n.c.RunSync(ctx, name, nil)
		if id == "" {
			t.Fatalf("run %s: no execution id (%v)", name, err)
		}
		ids = append(ids, id)
	}
	flaky, err := n.c.Run(ctx, "flaky", nil)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := n.c.WaitExecution(ctx, flaky, time.Minute); err != nil || e.Attempts != 2 || e.Status != faaspot.ExecFailed {
		t.Fatalf("the retried run = %+v, %v; want failed after 2 attempts", e, err)
	}
	ids = append(ids, flaky)

	// What the records say each run used: the day's usage must add up to exactly that.
	memMB := map[string]float64{"busy": 128, "fails": 256, "slow": 64, "flaky": float64(daemon.DefaultConfig().DefaultMemMB)}
	var wallMS, gbs, cpuMS float64
	for _, id := range ids {
		e, err := n.c.GetExecution(ctx, id)
		if err != nil || e.Usage == nil {
			t.Fatalf("record %s = %+v, %v; want its usage", id, e, err)
		}
		if want := memMB[e.Deployment] / 1024 * e.Usage.WallMS / 1000; math.Abs(e.Usage.GBSeconds-want) > 1e-9 {
			t.Errorf("%s: gb_seconds %v, want memory × time = %v", e.Deployment, e.Usage.GBSeconds, want)
		}
		if e.Deployment == "busy" && (e.CPUMS < 250 || e.Usage.CPUMS != e.CPUMS) {
			t.Errorf("busy: cpu_ms %v (usage %v), want at least the 300 ms it burned, less slack", e.CPUMS, e.Usage.CPUMS)
		}
		if e.Deployment == "flaky" && e.Usage.WallMS <= e.DurationMS {
			t.Errorf("flaky: usage %v ms over 2 attempts, the last alone %v ms", e.Usage.WallMS, e.DurationMS)
		}
		wallMS, gbs, cpuMS = wallMS+e.Usage.WallMS, gbs+e.Usage.GBSeconds, cpuMS+e.Usage.CPUMS
	}

	today := time.Now().UTC()
	u, err := n.c.Usage(ctx, today.AddDate(0, 0, -1), today) // a test that runs over midnight still adds up
	if err != nil {
		t.Fatal(err)
	}
	got := u.Total
	if got.Runs != (faaspot.UsageRuns{Completed: 2, Failed: 2, Timeout: 1}) {
		t.Errorf("runs = %+v, want 2 completed, 2 failed (the retried one once), 1 timeout", got.Runs)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-5*float64(len(ids)) }
	if !near(got.WallSeconds, wallMS/1000) || !near(got.GBSeconds, gbs) || !near(got.CPUSeconds, cpuMS/1000) {
		t.Errorf("usage %+v; want wall %v s, %v GB-s, cpu %v s as the records say", got, wallMS/1000, gbs, cpuMS/1000)
	}
	if got.CPUSeconds < 0.5 || got.WallSeconds < 1 {
		t.Errorf("cpu %v s, wall %v s: want the busy runs' CPU and the timeout's second at least", got.CPUSeconds, got.WallSeconds)
	}
	if got.Builds != 5 || got.BuildsFailed != 1 || got.BuildSeconds <= 0 {
		t.Errorf("builds %d (failed %d) in %v s; want 5 with 1 failed", got.Builds, got.BuildsFailed, got.BuildSeconds)
	}
	if u.BytesStored <= 0 {
		t.Errorf("bytes stored = %d", u.BytesStored)
	}
	if op, err := n.admin.TenantUsage(ctx, u.Tenant, today.AddDate(0, 0, -1), today); err != nil || op.Total != got {
		t.Errorf("the operator's view = %+v, %v; want %+v", op.Total, err, got)
	}

	if err := n.d.Close(); err != nil {
		t.Fatal(err)
	}
	again := startNode(t, func(c *daemon.Config) { c.KeyPrefix = n.prefix })
	after, err := fsclient.New(again.url, n.token).Usage(ctx, today.AddDate(0, 0, -1), today)
	if err != nil || after.Total != got {
		t.Errorf("usage after a restart = %+v, %v; want %+v", after.Total, err, got)
	}
	t.Logf("usage: %+v, bytes stored %d", got, u.BytesStored)
}

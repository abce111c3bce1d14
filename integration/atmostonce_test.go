package integration

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
)

// TestFaultDaemonKillKeyedRun: the daemon is killed (-9) while two runs are in flight, one with
// an Idempotency-Key. After the restart the run without a key is run again and completes (at
// least once); the keyed one is not run again but recorded failed with WorkerLost (at most once),
// and repeating its request gives that record, queuing nothing.
func TestFaultDaemonKillKeyedRun(t *testing.T) {
	prefix, nodeID := fmt.Sprintf("itko%d:", time.Now().UnixNano()), "it-"+faaspot.NewID()[:12]
	envv := procEnv(t, env.redisURL, prefix, nodeID, "FAASPOT_WORKERS=2", "FAASPOT_MAX_CONCURRENT_RUNS=2")
	p := startProc(t, envv)
	c, token := p.tenant(t)
	ctx := context.Background()
	if _, err := c.CreateDeployment(ctx, sleeper, true); err != nil {
		t.Fatal(err)
	}
	keyed := fsclient.RunOptions{IdempotencyKey: "charge-7"}
	kid, err := c.RunWith(ctx, sleeper.Name, map[string]any{"s": 4, "i": 1}, keyed)
	if err != nil {
		t.Fatal(err)
	}
	uid, err := c.Run(ctx, sleeper.Name, map[string]any{"s": 4, "i": 2})
	if err != nil {
		t.Fatal(err)
	}
	waitRunning(t, c, []string{kid, uid}, 2)
	p.stop(t, syscall.SIGKILL, 10*time.Second)

	p = startProc(t, envv)
	c = fsclient.New(p.url, token)
	recs, _ := waitAll(t, c, []string{kid, uid}, 2*time.Minute)
	if k := recs[kid]; k.Status != faaspot.ExecFailed || k.Error == nil || k.Error.Type != "WorkerLost" {
		t.Errorf("the keyed run = %s %+v; want failed with WorkerLost, not run again", k.Status, k.Error)
	}
	if u := recs[uid]; u.Status != faaspot.ExecCompleted || string(u.Result) != "2" {
		t.Errorf("the run without a key = %s %s; want completed by running it again", u.Status, u.Result)
	}
	again, err := c.RunWith(ctx, sleeper.Name, map[string]any{"s": 0, "i": 3}, keyed)
	if err != nil || again != kid {
		t.Errorf("the keyed request repeated = %s, %v; want %s", again, err, kid)
	}
	list, _, err := c.ListExecutions(ctx, faaspot.ExecutionQuery{Deployment: sleeper.Name})
	if err != nil || len(list) != 2 {
		t.Errorf("executions = %+v, %v; want the two runs only", list, err)
	}
}

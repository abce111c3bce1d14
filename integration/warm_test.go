package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/daemon"
	"github.com/faaspot/faaspot/sandbox"
)

// keysOf counts the node's sandbox containers by the deployment version they serve.
func (n *node) keysOf(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, c := range n.sandboxContainers(t) {
		out[c.Labels[sandbox.LabelKey]]++
	}
	return out
}

// eventually retries cond for up to 10 s (container removal is asynchronous).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Errorf("not so after 10 s: %s", what)
}

func (n *node) runRecord(t *testing.T, name string, args map[string]any) faaspot.Execution {
	t.Helper()
	_, id, err := n.c.RunSync(context.Background(), name, args)
	var re *fsclient.RunError
	if err != nil && !asRunError(err, &re) {
		t.Fatalf("run %s: %v", name, err)
	}
	e, err := n.c.GetExecution(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func asRunError(err error, re **fsclient.RunError) bool {
	r, ok := err.(*fsclient.RunError)
	*re = r
	return ok
}

// TestWarmPool proves the pool's rules against real containers: pre-warm on deploy, reuse within
// one version only, retirement on redeploy, failure and delete, fresh processes per run for a
// deployment that asks for fork isolation on a node in process mode (the default).
func TestWarmPool(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	fork := &faaspot.WarmPolicy{Isolation: faaspot.IsolationFork}
	code := "import os\nseen = []\ndef main(args, context):\n    seen.append(args)\n    return {'seen': seen, 'pid': os.getpid(), 'v': 1}\n"
	d1 := n.deploy(t, faaspot.DeploymentRequest{Name: "warm", Code: code, Warm: fork})
	key1 := keyOf(d1)
	eventually(t, "one container pre-warmed for version 1", func() bool { return n.keysOf(t)[key1] == 1 })

	first := n.runRecord(t, "warm", map[string]any{"run": 1})
	second := n.runRecord(t, "warm", map[string]any{"run": 2})
	if first.ColdStart || second.ColdStart {
		t.Errorf("runs after deploy were cold: %v %v (acquire %.1f / %.1f ms)", first.ColdStart, second.ColdStart, first.AcquireMS, second.AcquireMS)
	}
	if got := n.keysOf(t); got[key1] != 1 {
		t.Errorf("containers by version after two warm runs: %v, want the one pre-warmed", got)
	}
	// Fork mode: nothing of run 1's process reaches run 2.
	if strings.Contains(string(second.Result), `"run": 1`) || strings.Contains(string(second.Result), `"run":1`) {
		t.Errorf("run 2 saw run 1's args: %s", second.Result)
	}

	// A redeploy retires version 1's containers and pre-warms version 2.
	d2 := n.deploy(t, faaspot.DeploymentRequest{Name: "warm", Code: strings.Replace(code, "'v': 1", "'v': 2", 1), Warm: fork})
	key2 := keyOf(d2)
	eventually(t, "version 1 retired, version 2 pre-warmed", func() bool {
		k := n.keysOf(t)
		return k[key1] == 0 && k[key2] == 1
	})
	if e := n.runRecord(t, "warm", nil); e.ColdStart || e.Version != d2.Version || !strings.Contains(string(e.Result), `"v":2`) && !strings.Contains(string(e.Result), `"v": 2`) {
		t.Errorf("run after redeploy: cold %v version %d result %s", e.ColdStart, e.Version, e.Result)
	}

	// A run that times out is never reused: its container is killed.
	n.deploy(t, faaspot.DeploymentRequest{Name: "sometimes-slow", Limits: &faaspot.Limits{TimeoutS: 1},
		Code: "import time\ndef main(args, context):\n    time.sleep(args.get('sleep', 0))\n    return 'ok'\n"})
	warmRun := n.runRecord(t, "sometimes-slow", nil)
	slow := n.runRecord(t, "sometimes-slow", map[string]any{"sleep": 3})
	after := n.runRecord(t, "sometimes-slow", nil)
	if warmRun.ColdStart || slow.Status != faaspot.ExecTimeout || !after.ColdStart {
		t.Errorf("after a timeout the next run must start a fresh container: warm %v, slow %s, after cold %v",
			!warmRun.ColdStart, slow.Status, after.ColdStart)
	}

	// Background processes make no difference in fork mode, even those that left the run's
	// process group (a new session, a double fork): all are killed before the next run, and
	// the container stays warm.
	n.deploy(t, faaspot.DeploymentRequest{Name: "bg", Warm: fork, Code: `import os, subprocess
def main(args, context):
    if args.get('spawn'):
        subprocess.Popen(['sleep', '300'])
        subprocess.Popen(['sleep', '301'], start_new_session=True)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                subprocess.Popen(['sleep', '302'])
                os.execvp('sleep', ['sleep', '303'])
            os._exit(0)
    return sorted(open('/proc/%s/cmdline' % p).read().replace('\0', ' ') for p in os.listdir('/proc') if p.isdigit())
`})
	spawned := n.runRecord(t, "bg", map[string]any{"spawn": true})
	next := n.runRecord(t, "bg", nil)
	if spawned.Status != faaspot.ExecCompleted || next.ColdStart || strings.Contains(string(next.Result), "sleep") {
		t.Errorf("after a run that spawned background processes (%s): cold %v, processes %s", spawned.Status, next.ColdStart, next.Result)
	}

	// Delete retires every container of the deployment.
	if err := n.c.DeleteDeployment(ctx, "warm"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "containers of a deleted deployment removed", func() bool {
		k := n.keysOf(t)
		return k[key1] == 0 && k[key2] == 0
	})
	// Closing the node removes every warm container.
	_ = n.d.Close()
	eventually(t, "no container after the node closed", func() bool { return len(n.sandboxContainers(t)) == 0 })
}

// TestWarmPolicies: idle TTL scales to zero, max runs 1 gives every run a fresh container, FAASPOT_WARM=false
// turns warm execution off, and a deployment's policy is capped by the operator's.
func TestWarmPolicies(t *testing.T) {
	n := startNode(t, func(c *daemon.Config) { c.WarmIdleTTL = 2 * time.Second })
	n.deploy(t, faaspot.DeploymentRequest{Name: "ttl", Code: "def main(args, context):\n    return 1\n"})
	if e := n.runRecord(t, "ttl", nil); e.ColdStart {
		t.Error("first run after deploy was cold")
	}
	eventually(t, "idle containers removed after the idle TTL", func() bool { return len(n.sandboxContainers(t)) == 0 })
	if e := n.runRecord(t, "ttl", nil); !e.ColdStart {
		t.Error("a run after scale-to-zero must be cold")
	}

	// max_runs 1: a fresh container for every run. (Each is started as the previous run ends,
	// so the next run usually finds it ready: sandbox's TestWarmPolicy proves that on fakes.)
	one, zero := 1, 0
	fresh := n.deploy(t, faaspot.DeploymentRequest{Name: "fresh", Code: "import os\ndef main(args, context):\n    return os.uname().nodename\n",
		Warm: &faaspot.WarmPolicy{MaxRuns: 1, Prewarm: &zero, MaxIdle: &one}})
	hosts := map[string]bool{}
	for i := range 3 {
		e := n.runRecord(t, "fresh", nil)
		if i == 0 && !e.ColdStart {
			t.Error("max_runs 1 without prewarm: the first run was warm")
		}
		t.Logf("max_runs 1: run %d cold %v", i, e.ColdStart)
		var host string
		_ = json.Unmarshal(e.Result, &host)
		hosts[host] = true
		eventually(t, "only a fresh container left for the next run", func() bool {
			var left []string
			for _, c := range n.sandboxContainers(t) {
				if c.Labels[sandbox.LabelKey] == keyOf(fresh) {
					left = append(left, c.ID)
				}
			}
			return len(left) == 1 && host != "" && !strings.HasPrefix(left[0], host)
		})
	}
	if len(hosts) != 3 {
		t.Errorf("max_runs 1: 3 runs in %d containers, want 3", len(hosts))
	}

	off := startNode(t, func(c *daemon.Config) { c.Warm = false })
	off.deploy(t, faaspot.DeploymentRequest{Name: "cold", Code: "def main(args, context):\n    return 1\n"})
	for i := range 2 {
		if e := off.runRecord(t, "cold", nil); !e.ColdStart {
			t.Errorf("FAASPOT_WARM=false: run %d was warm", i)
		}
	}
	eventually(t, "no container kept with warm execution off", func() bool { return len(off.sandboxContainers(t)) == 0 })
}

// TestWarmProcessMode: in process mode, the default, module globals persist between runs of one
// container (the documented trade-off), and a run that leaves a process behind retires its
// container.
func TestWarmProcessMode(t *testing.T) {
	n := startNode(t)
	n.deploy(t, faaspot.DeploymentRequest{Name: "globals", Code: "import subprocess\ncount = 0\ndef main(args, context):\n    global count\n    count += 1\n    if args.get('spawn'):\n        subprocess.Popen(['sleep', '300'])\n    return count\n"})
	a, b := n.runRecord(t, "globals", nil), n.runRecord(t, "globals", nil)
	if string(a.Result) != "1" || string(b.Result) != "2" || b.ColdStart {
		t.Errorf("process mode: results %s %s, second cold %v", a.Result, b.Result, b.ColdStart)
	}
	n.runRecord(t, "globals", map[string]any{"spawn": true})
	if e := n.runRecord(t, "globals", nil); !e.ColdStart || string(e.Result) != "1" {
		t.Errorf("after a run left a process behind, the next must be in a fresh container: cold %v result %s", e.ColdStart, e.Result)
	}
	list, _ := env.docker.ContainerList(context.Background(), container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelNode+"="+n.nodeID))})
	if len(list) > 1 {
		t.Errorf("%d containers kept for one deployment after a retirement", len(list))
	}
}

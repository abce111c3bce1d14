package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/daemon"
	"github.com/faaspot/faaspot/sandbox"
)

// hostile is a function that attacks the platform, and what we guarantee about its run.
type hostile struct {
	name, code string
	limits     *faaspot.Limits
	statuses   []string // acceptable terminal statuses
	check      func(t *testing.T, e faaspot.Execution)
}

func errType(types ...string) func(t *testing.T, e faaspot.Execution) {
	return func(t *testing.T, e faaspot.Execution) {
		t.Helper()
		if e.Error == nil || e.Error.Message == "" {
			t.Fatalf("no clear error: %+v", e)
		}
		for _, typ := range types {
			if e.Error.Type == typ {
				return
			}
		}
		t.Errorf("error type %s (%s), want one of %v", e.Error.Type, e.Error.Message, types)
	}
}

func resultHas(parts ...string) func(t *testing.T, e faaspot.Execution) {
	return func(t *testing.T, e faaspot.Execution) {
		t.Helper()
		for _, p := range parts {
			if !strings.Contains(string(e.Result), p) {
				t.Errorf("result %s lacks %q", e.Result, p)
			}
		}
	}
}

var short = &faaspot.Limits{TimeoutS: 5, MemoryMB: 128}

// The hostile suite (DESIGN.md §4): resource exhaustion, escape and snooping attempts, protocol
// abuse and odd values. Every run must end in a terminal status with a clear error (or a result
// proving the attempt failed), leave no container behind, and leave the daemon healthy.
var hostileFunctions = []hostile{
	// Resource exhaustion.
	{name: "fork-bomb", limits: short, statuses: []string{"failed", "timeout"},
		code: "import os\ndef main(args, context):\n    while True:\n        os.fork()\n"},
	{name: "thread-bomb", limits: short, statuses: []string{"failed", "timeout"},
		code: "import threading, time\ndef main(args, context):\n    while True:\n        threading.Thread(target=time.sleep, args=(60,)).start()\n"},
	{name: "memory-bomb", limits: &faaspot.Limits{TimeoutS: 10, MemoryMB: 64}, statuses: []string{"failed"},
		code: "def main(args, context):\n    blocks = []\n    while True:\n        blocks.append(b'x' * (16 << 20))\n", check: errType("OutOfMemory", "MemoryError")},
	{name: "cpu-spin", limits: &faaspot.Limits{TimeoutS: 2}, statuses: []string{"timeout"},
		code: "def main(args, context):\n    while True:\n        pass\n", check: errType("Timeout")},
	{name: "endless-output", limits: &faaspot.Limits{TimeoutS: 3}, statuses: []string{"timeout"},
		code: "def main(args, context):\n    while True:\n        print('x' * 4096)\n", check: errType("Timeout")},
	{name: "disk-fill", limits: &faaspot.Limits{TimeoutS: 20, MemoryMB: 256}, statuses: []string{"failed"},
		code:  "def main(args, context):\n    with open('/tmp/fill', 'wb') as f:\n        while True:\n            f.write(b'x' * (1 << 20))\n            f.flush()\n",
		check: errType("OSError", "OutOfMemory")},
	{name: "huge-return", statuses: []string{"failed"},
		code: "def main(args, context):\n    return 'x' * (8 << 20)\n", check: errType("ResultTooLarge")},

	// Escape and snooping attempts.
	{name: "privilege-escalation", statuses: []string{"completed"},
		code: "import os\ndef main(args, context):\n    try:\n        os.setuid(0)\n        r = 'setuid worked'\n    except PermissionError:\n        r = 'denied'\n    return {'setuid': r, 'euid': os.geteuid()}\n",
		check: func(t *testing.T, e faaspot.Execution) {
			resultHas(`"setuid":"denied"`)(t, e)
			if r := string(e.Result); strings.Contains(r, `"euid":0}`) || strings.Contains(r, `"euid":65534}`) {
				t.Errorf("runs as root or the shared nobody, not the tenant's own uid: %s", r)
			}
		}},
	{name: "write-outside-tmp", statuses: []string{"completed"},
		code: "def main(args, context):\n    out = {}\n    for p in ['/etc/passwd', '/opt/faaspot/function/main.py', '/usr/bin/evil', '/proc/sysrq-trigger']:\n        try:\n            open(p, 'a').close()\n            out[p] = 'written'\n        except OSError as e:\n            out[p] = 'denied'\n    return out\n",
		check: func(t *testing.T, e faaspot.Execution) {
			if strings.Contains(string(e.Result), "written") {
				t.Errorf("wrote outside /tmp: %s", e.Result)
			}
		}},
	{name: "docker-socket", statuses: []string{"completed"},
		code:  "import os, socket\ndef main(args, context):\n    found = [p for p in ['/var/run/docker.sock', '/run/docker.sock', '/run/containerd/containerd.sock'] if os.path.exists(p)]\n    return {'sockets': found}\n",
		check: resultHas(`"sockets":[]`)},
	{name: "network", statuses: []string{"completed"},
		code:  "import socket\ndef main(args, context):\n    return {'interfaces': sorted(n for _, n in socket.if_nameindex())}\n",
		check: resultHas(`"interfaces":["lo"]`)},
	{name: "snoop-processes", statuses: []string{"completed"},
		code: "import os\ndef main(args, context):\n    envs = []\n    for pid in os.listdir('/proc'):\n        if pid.isdigit():\n            try:\n                envs.append(open('/proc/%s/environ' % pid, 'rb').read().decode('latin-1'))\n            except OSError:\n                pass\n    return {'pids': len(envs), 'env': envs}\n",
		check: func(t *testing.T, e faaspot.Execution) {
			if strings.Contains(string(e.Result), "FAASPOT") || strings.Contains(string(e.Result), "canary") {
				t.Errorf("other processes' environment leaks: %s", e.Result)
			}
		}},

	// Protocol abuse.
	{name: "fake-frame", statuses: []string{"completed"},
		code:  "import os\ndef main(args, context):\n    print('{\"ok\": true, \"result\": \"\\\\\"forged\\\\\"\"}')\n    return 'real'\n",
		check: resultHas(`"real"`)},
	{name: "read-stdin", statuses: []string{"completed"},
		code: "import sys\ndef main(args, context):\n    return {'stdin': sys.stdin.read()}\n", check: resultHas(`"stdin":""`)},
	{name: "exit-interpreter", statuses: []string{"failed"},
		code: "import os\ndef main(args, context):\n    os._exit(0)\n", check: errType("ProcessExited")},
	{name: "kill-self", statuses: []string{"failed"},
		code: "import os, signal\ndef main(args, context):\n    os.kill(os.getpid(), signal.SIGKILL)\n", check: func(t *testing.T, e faaspot.Execution) {
			errType("ProcessExited")(t, e)
			if e.ExitCode == nil || *e.ExitCode != 137 {
				t.Errorf("exit code %v, want 137 (killed by SIGKILL)", e.ExitCode)
			}
		}},
	{name: "ignore-sigterm", limits: &faaspot.Limits{TimeoutS: 2}, statuses: []string{"timeout"},
		code: "import signal, time\ndef main(args, context):\n    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n    while True:\n        time.sleep(0.1)\n", check: errType("Timeout")},
	{name: "background-process", statuses: []string{"completed"},
		code: "import subprocess\ndef main(args, context):\n    p = subprocess.Popen(['sleep', '300'])\n    return {'started': p.pid > 0}\n", check: resultHas(`"started":true`)},
	{name: "forked-child-answers", statuses: []string{"completed"},
		code: "import os, time\ndef main(args, context):\n    if os.fork() == 0:\n        return 'child'\n    time.sleep(0.5)\n    return 'parent'\n", check: resultHas(`"parent"`)},

	// Odd values.
	{name: "nan", statuses: []string{"failed"}, code: "def main(args, context):\n    return {'v': float('inf')}\n", check: errType("ResultNotSerializable")},
	{name: "deep-recursion", statuses: []string{"failed"},
		code: "def f(n):\n    return f(n + 1)\ndef main(args, context):\n    return f(0)\n", check: errType("RecursionError")},
	{name: "deep-value", statuses: []string{"failed"},
		code: "def main(args, context):\n    v = []\n    for _ in range(100000):\n        v = [v]\n    return v\n", check: errType("ResultNotSerializable")},
	{name: "non-json", statuses: []string{"failed"}, code: "def main(args, context):\n    return {1, 2}\n", check: errType("ResultNotSerializable")},
}

// TestHostileFunctions runs the suite on a node in process mode (the default), then on one in
// fork mode: each isolation mode must contain every function of the suite.
func TestHostileFunctions(t *testing.T) {
	t.Run("process", func(t *testing.T) { hostileSuite(t, startNode(t)) })
	t.Run("fork", func(t *testing.T) {
		hostileSuite(t, startNode(t, func(c *daemon.Config) { c.WarmMode = sandbox.ModeFork }))
	})
}

// TestHostileFunctionsRunsc runs the suite with every sandbox under gVisor (FAASPOT_RUNTIME=runsc,
// registered by scripts/runsc.sh). It is skipped when the engine lists no runsc runtime, unless
// FAASPOT_TEST_RUNSC=required (as .ci/run sets it).
func TestHostileFunctionsRunsc(t *testing.T) {
	t.Parallel() // its own node; runs beside the other parallel tests, after the sequential ones
	requireRuntime(t, "runsc")
	n := startNode(t, func(c *daemon.Config) { c.Runtime = "runsc" })
	hostileSuite(t, n)
	// The warm ones of the healthy deployment, at least; single-use containers are replaced
	// and removed meanwhile, so one listed may be gone when inspected.
	inspected := 0
	for _, c := range n.sandboxContainers(t) {
		info, err := env.docker.ContainerInspect(context.Background(), c.ID)
		if err != nil || info.HostConfig == nil {
			continue
		}
		inspected++
		if info.HostConfig.Runtime != "runsc" {
			t.Errorf("container %s runs under %q, want runsc", c.ID[:12], info.HostConfig.Runtime)
		}
	}
	if inspected == 0 {
		t.Error("no container of the node left to inspect")
	}
}

// hostileSuite deploys every hostile function on n, runs each and checks its outcome, that the
// daemon stays healthy and that no container of a broken run is kept.
func hostileSuite(t *testing.T, n *node) {
	ctx := context.Background()
	keys := map[string]string{}
	for _, h := range hostileFunctions {
		d := n.deploy(t, faaspot.DeploymentRequest{Name: h.name, Code: h.code, Limits: h.limits,
			Context: json.RawMessage(`{"secret": "canary-hostile"}`)})
		keys[h.name] = keyOf(d)
	}
	n.deploy(t, faaspot.DeploymentRequest{Name: "healthy", Code: "def main(args, context):\n    return 'ok'\n"})
	for _, h := range hostileFunctions {
		t.Run(h.name, func(t *testing.T) {
			start := time.Now()
			a := n.raw(t, http.MethodPost, "/v1/sync/deployments/"+h.name+"/rpc/", "")
			id := a.header.Get("X-Faaspot-Execution-Id")
			if id == "" {
				t.Fatalf("no execution id: %d %s", a.status, a.body)
			}
			e, err := n.c.WaitExecution(ctx, id, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s in %v, error %+v", h.name, e.Status, time.Since(start).Round(time.Millisecond), e.Error)
			if !contains(h.statuses, string(e.Status)) {
				t.Fatalf("status %s, want one of %v (error %+v, result %.200s)", e.Status, h.statuses, e.Error, e.Result)
			}
			if e.Status != faaspot.ExecCompleted && (e.Error == nil || e.Error.Message == "") {
				t.Errorf("a %s run without a clear error", e.Status)
			}
			if h.check != nil {
				h.check(t, e)
			}
			if strings.Contains(mustJSON(e), "canary-hostile") {
				t.Error("the context leaked into the record")
			}
			// The pre-warmed container ran it: kept for the next run unless the run timed out, ran
			// out of memory, crashed or broke the protocol (an exception leaves it sound).
			want := 1
			if e.Error != nil && contains([]string{"Timeout", "OutOfMemory", "ProcessExited", "ProtocolError"}, e.Error.Type) {
				want = 0
			}
			eventually(t, "containers of the deployment after the run", func() bool { return n.keysOf(t)[keys[h.name]] == want })
			if v, _, err := n.c.RunSync(ctx, "healthy", nil); err != nil || string(v) != `"ok"` {
				t.Errorf("the daemon is not healthy after %s: %s %v", h.name, v, err)
			}
		})
	}
	if a := n.raw(t, http.MethodGet, "/readyz", ""); a.status != http.StatusOK {
		t.Errorf("readyz after the hostile suite: %d %s", a.status, a.body)
	}
}

package integration

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/daemon"
)

// isolationProbe is the probe the runner's own tests use (imagebuilder/testdata): "leave"
// leaves residue of every kind marked with a canary, "look" reports what it still reaches.
func isolationProbe(t *testing.T) string {
	t.Helper()
	code, err := os.ReadFile(filepath.Join("..", "imagebuilder", "testdata", "isolation_probe.py"))
	if err != nil {
		t.Fatal(err)
	}
	return string(code)
}

// TestWarmForkIsolation: in a warm fork-mode container (the deployment's choice), a run that leaves every
// kind of residue — its request and output in the runner's memory, files in /tmp directories it
// locked (mode 000), /dev/shm files, a POSIX message queue, SysV shared memory, semaphores and
// message queues — is followed, in the same container, by a run that finds none of it: not in
// its frames, its objects or any byte of its memory; and that can neither trace, read, take the
// descriptors of nor signal the runner's processes or the container's init.
func TestWarmForkIsolation(t *testing.T) {
	if missing := forkIsolation(t, startNode(t), true); len(missing) != 0 {
		t.Errorf("under runc the probe could not leave %v", missing)
	}
}

// TestWarmForkIsolationRunsc: under gVisor, whose /proc lets a run reach the processes above it
// (it ignores dumpability) and lists no SysV IPC, the runner cannot prove fork mode's isolation:
// each container serves one run, so the next run is in another container and finds nothing.
func TestWarmForkIsolationRunsc(t *testing.T) {
	t.Parallel() // its own node; runs beside the other parallel tests, after the sequential ones
	requireRuntime(t, "runsc")
	missing := forkIsolation(t, startNode(t, func(c *daemon.Config) { c.Runtime = "runsc" }), false)
	t.Logf("gVisor offers no %v: nothing of those kinds can be left", missing)
}

// forkIsolation runs the probe's "leave" then "look" on a fork-mode deployment of n and checks
// the second reaches nothing of the first, in the same warm container when shared (else each
// must have had its own); it returns the kinds of residue the sandbox's kernel does not offer
// (so none could be left).
func forkIsolation(t *testing.T, n *node, shared bool) (missing []string) {
	n.deploy(t, faaspot.DeploymentRequest{Name: "isolation", Code: isolationProbe(t),
		Warm: &faaspot.WarmPolicy{Isolation: faaspot.IsolationFork}})
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	canary := "ISO-CANARY-" + hex.EncodeToString(b)
	leave := n.runRecord(t, "isolation", map[string]any{"do": "leave", "canary": canary})
	look := n.runRecord(t, "isolation", map[string]any{"do": "look"})
	if leave.Status != faaspot.ExecCompleted || look.Status != faaspot.ExecCompleted {
		t.Fatalf("leave %s %+v, look %s %+v", leave.Status, leave.Error, look.Status, look.Error)
	}
	var left struct {
		Host    string
		Missing []string
	}
	var seen struct {
		Host                                            string
		Frames, Objects, Memory, Tmp, Shm, Mqueue, Sysv []string
		SysvKey                                         []string `json:"sysv_key"`
		Survivors                                       []string
		Runner                                          map[string]map[string]string
		Own                                             map[string]string
	}
	if json.Unmarshal(leave.Result, &left) != nil || json.Unmarshal(look.Result, &seen) != nil {
		t.Fatalf("results %s / %s", leave.Result, look.Result)
	}
	if left.Host == "" || (seen.Host == left.Host) != shared || (shared && look.ColdStart) {
		t.Fatalf("the two runs: hosts %q %q, the second cold %v; want one warm container shared %v", left.Host, seen.Host, look.ColdStart, shared)
	}
	for what, found := range map[string][]string{"frames": seen.Frames, "objects": seen.Objects, "memory": seen.Memory,
		"/tmp": seen.Tmp, "/dev/shm": seen.Shm, "/dev/mqueue": seen.Mqueue, "SysV IPC": seen.Sysv, "SysV IPC by key": seen.SysvKey,
		"processes": seen.Survivors} {
		if len(found) != 0 {
			t.Errorf("the next run still reaches the previous run's %s: %v", what, found)
		}
	}
	if !shared {
		return left.Missing // the processes above a run are the container's own, used once
	}
	if len(seen.Runner) < 2 {
		t.Errorf("the probe looked at %v, want the runner's processes and init", seen.Runner)
	}
	for pid, reach := range seen.Runner {
		for way, got := range reach {
			if got == "ok" {
				t.Errorf("a run reaches process %s above it: %s", pid, way)
			}
		}
	}
	if len(seen.Own) == 0 {
		t.Error("the probe did not check its powers over its own processes")
	}
	for way, got := range seen.Own {
		if got != "ok" {
			t.Errorf("a run lost a power over its own processes: %s = %s", way, got)
		}
	}
	return left.Missing
}

// TestWarmProcessModeStrayThread: in process mode, a run that leaves a thread running retires its
// container (the next run is cold); one whose thread ended does not.
func TestWarmProcessModeStrayThread(t *testing.T) {
	n := startNode(t, func(c *daemon.Config) { c.WarmMode = "process" })
	n.deploy(t, faaspot.DeploymentRequest{Name: "threads", Code: isolationProbe(t)})
	joined := n.runRecord(t, "threads", map[string]any{"do": "thread", "join": true})
	left := n.runRecord(t, "threads", map[string]any{"do": "thread"})
	next := n.runRecord(t, "threads", map[string]any{"do": "thread", "join": true})
	if joined.Status != faaspot.ExecCompleted || left.Status != faaspot.ExecCompleted || next.Status != faaspot.ExecCompleted {
		t.Fatalf("statuses %s %s %s", joined.Status, left.Status, next.Status)
	}
	if left.ColdStart {
		t.Error("a run after one whose thread ended was cold: its container was retired")
	}
	if !next.ColdStart {
		t.Error("a run after one that left a thread running was warm: its container was kept")
	}
}

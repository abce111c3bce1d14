package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/faaspot/faaspot/hardening"
)

var testLimits = Limits{MemoryBytes: 128 << 20, NanoCPUs: 5e8, Timeout: 5 * time.Second,
	OutputBytes: 1 << 10, ResultBytes: 1 << 10}

const keyA, keyB = "t1/d1/1/", "t1/d2/1/"

// testRequest is a run of key whose container may be kept.
func testRequest(key string) Request {
	return Request{Image: "img", TenantID: "t1", ExecutionID: "e1", Key: key,
		Args: json.RawMessage(`{"a": 1}`), Context: json.RawMessage(`{"k": "SECRET-CTX"}`),
		Limits: testLimits, Policy: PoolPolicy{MaxIdle: 2}}
}

func TestRun(t *testing.T) {
	errLine := `{"ok": false, "error": {"type": "KeyError", "message": "'a'", "traceback": "Traceback"}, "stdout": "", "stderr": "e\n", "stray": 0}` + "\n"
	forkDied := `{"ok": false, "exit_code": 137, "error": {"type": "ProcessExited", "message": "the function's process exited with code 137 before returning a result"}, "stray": 0}` + "\n"
	strayLine := strings.Replace(okLine, `"stray": 0`, `"stray": 2`, 1)
	tests := []struct {
		name      string
		proc      process
		timeout   time.Duration
		outcome   string
		errType   string
		message   string // part of the error message
		value     string
		stderr    string // part of Result.Stderr
		exitCode  int
		oom       bool
		killed    bool // the container was killed
		kept      bool // the container stays idle for the next run of its key
		noRequest bool // the runner died before reading the request
	}{
		{name: "completed", outcome: Completed, value: `{"x": 1}`, kept: true},
		{name: "function exception", proc: process{replies: []reply{{stdout: errLine}, {stdout: okLine}}}, outcome: Failed,
			errType: "KeyError", message: "'a'", stderr: "e\n", kept: true},
		// A forked run's process died: the runner answers, but the container is not reused.
		{name: "forked process died", proc: process{replies: []reply{{stdout: forkDied}}}, outcome: Failed,
			errType: ErrTypeProcessExit, message: "code 137", exitCode: exitKilled, killed: true},
		{name: "forked process out of memory", proc: process{replies: []reply{{oom: true, stdout: forkDied}}}, outcome: Failed,
			errType: ErrTypeOutOfMemory, message: "128 MB", exitCode: exitKilled, oom: true, killed: true},
		{name: "processes left behind", proc: process{replies: []reply{{stdout: strayLine}}}, outcome: Completed,
			value: `{"x": 1}`, killed: true},
		{name: "timeout", proc: process{replies: []reply{{hang: true}}}, timeout: 50 * time.Millisecond,
			outcome: Timeout, errType: ErrTypeTimeout, message: "50ms", exitCode: exitKilled, killed: true},
		{name: "out of memory", proc: process{replies: []reply{{exits: true, code: exitKilled, oom: true}}},
			outcome: Failed, errType: ErrTypeOutOfMemory, message: "128 MB", exitCode: exitKilled, oom: true, killed: true},
		{name: "crash without frame", proc: process{replies: []reply{{stderr: "Fatal Python error\n", exits: true, code: 2}}},
			outcome: Failed, errType: ErrTypeProcessExit, message: "exited with code 2", stderr: "Fatal Python error",
			exitCode: 2, killed: true},
		{name: "killed without frame", proc: process{replies: []reply{{exits: true, code: exitKilled}}},
			outcome: Failed, errType: ErrTypeProcessExit, message: "code 137", exitCode: exitKilled, killed: true},
		{name: "runner returned without a frame", proc: process{replies: []reply{{exits: true}}},
			outcome: Failed, errType: ErrTypeProcessExit, message: "code 0", killed: true},
		{name: "died before the ready line", proc: process{early: &reply{stderr: "ImportError: no module\n", exits: true, code: 1}},
			outcome: Failed, errType: ErrTypeProcessExit, message: "code 1", stderr: "ImportError", exitCode: 1,
			killed: true, noRequest: true},
		// A runner that breaks the protocol is killed at once, so its exit code is the kill's:
		// the fake runners below stay alive, as one that exited by itself would race the kill.
		{name: "garbage instead of a frame", proc: process{replies: []reply{{stdout: "hello\n"}}},
			outcome: Failed, errType: ErrTypeProtocol, message: "could not be read", exitCode: exitKilled, killed: true},
		{name: "frame with invalid result JSON", proc: process{replies: []reply{{stdout: `{"ok": true, "result": "{bad"}` + "\n"}}},
			outcome: Failed, errType: ErrTypeProtocol, message: "invalid JSON", exitCode: exitKilled, killed: true},
		{name: "line over the limit", proc: process{replies: []reply{{stdout: strings.Repeat("x", frameLimit(testLimits)+1) + "\n"}}},
			outcome: Failed, errType: ErrTypeResultTooLarge, exitCode: exitKilled, killed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fd := newFake(t, tt.proc)
			s := mustNew(t, fd)
			req := testRequest(keyA)
			if tt.timeout > 0 {
				req.Limits.Timeout = tt.timeout
			}
			res, err := s.Run(context.Background(), req)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Outcome != tt.outcome {
				t.Errorf("outcome = %q, want %q (%+v)", res.Outcome, tt.outcome, res.Error)
			}
			if tt.errType == "" && res.Error != nil {
				t.Errorf("error = %+v, want none", res.Error)
			}
			if tt.errType != "" && (res.Error == nil || res.Error.Type != tt.errType || !strings.Contains(res.Error.Message, tt.message)) {
				t.Errorf("error = %+v, want %s with %q", res.Error, tt.errType, tt.message)
			}
			if string(res.Value) != tt.value {
				t.Errorf("value = %s, want %s", res.Value, tt.value)
			}
			if !strings.Contains(res.Stderr, tt.stderr) {
				t.Errorf("stderr = %q, want it to hold %q", res.Stderr, tt.stderr)
			}
			if res.ExitCode != tt.exitCode || res.OOMKilled != tt.oom || !res.ColdStart {
				t.Errorf("exit %d oom %v cold %v; want %d, %v, true", res.ExitCode, res.OOMKilled, res.ColdStart, tt.exitCode, tt.oom)
			}

			s.removals.Wait()
			if killed := fd.count("kill ctr1") > 0; killed != tt.killed {
				t.Errorf("killed = %v, want %v (calls %q)", killed, tt.killed, fd.callList())
			}
			if removed := fd.count("remove ctr1") > 0; removed == tt.kept {
				t.Errorf("removed = %v, want %v (calls %q)", removed, !tt.kept, fd.callList())
			}
			if idle, _ := s.Idle(keyA); idle != b2i(tt.kept) {
				t.Errorf("idle = %d, want %d", idle, b2i(tt.kept))
			}
			checkContainer(t, fd, "ctr1", tt.noRequest)

			// The next run of the key gets the container only if it was kept.
			fd.setProc(process{})
			res, err = s.Run(context.Background(), req)
			if err != nil || res.Outcome != Completed || res.ColdStart == tt.kept {
				t.Errorf("next run = %+v, %v; want completed, cold %v", res, err, !tt.kept)
			}
			if creates := fd.count("create"); creates != 2-b2i(tt.kept) {
				t.Errorf("%d containers created for two runs, want %d", creates, 2-b2i(tt.kept))
			}
			s.Close()
			for _, id := range []string{"ctr1", "ctr2"} {
				if n := fd.count("remove " + id); n != 1 && (id == "ctr1" || !tt.kept) {
					t.Errorf("%s removed %d times, want once", id, n)
				}
			}
		})
	}
}

// checkContainer verifies what container id was created with and the one request it read.
func checkContainer(t *testing.T, fd *fakeDocker, id string, noRequest bool) {
	t.Helper()
	c := fd.container(id)
	if want := []string{"--serve", string(DefaultConfig().Mode)}; !slices.Equal(c.cfg.Cmd, want) {
		t.Errorf("Cmd = %q, want %q", c.cfg.Cmd, want)
	}
	for _, e := range c.cfg.Env {
		if strings.Contains(e, "SECRET-CTX") {
			t.Error("the context reached the environment")
		}
	}
	if c.host == nil || c.host.Resources.Memory != testLimits.MemoryBytes || string(c.host.NetworkMode) != "none" {
		t.Errorf("host config = %+v", c.host)
	}
	reqs := fd.requests(id)
	if noRequest {
		if len(reqs) != 0 {
			t.Errorf("requests = %q, want none", reqs)
		}
		return
	}
	if len(reqs) != 1 {
		t.Fatalf("requests = %q, want one line", reqs)
	}
	var in input
	if err := json.Unmarshal(reqs[0], &in); err != nil {
		t.Fatalf("request %q: %v", reqs[0], err)
	}
	if string(in.Args) != `{"a":1}` || string(in.Context) != `{"k":"SECRET-CTX"}` ||
		in.OutputLimit != testLimits.OutputBytes || in.ResultLimit != testLimits.ResultBytes {
		t.Errorf("request = %+v", in)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestEngineFails: when the engine fails a step, Run and Prewarm both report ErrEngine, make one
// container only (Prewarm stops at the first failure), remove it once it exists, keep none idle.
func TestEngineFails(t *testing.T) {
	ops := map[string]func(s *Sandbox) error{
		"Run": func(s *Sandbox) error {
			_, err := s.Run(context.Background(), testRequest(keyA))
			return err
		},
		"Prewarm": func(s *Sandbox) error { return s.Prewarm(context.Background(), testRequest(keyA), 2) },
	}
	for name, op := range ops {
		for _, tt := range []struct {
			failOn  string
			removed bool
		}{{"create", false}, {"attach", true}, {"start", true}} {
			t.Run(name+"/"+tt.failOn, func(t *testing.T) {
				fd := newFake(t, process{})
				fd.failOn = tt.failOn
				s := mustNew(t, fd)
				if err := op(s); !errors.Is(err, ErrEngine) {
					t.Errorf("%s = %v, want ErrEngine", name, err)
				}
				s.removals.Wait()
				if fd.count("create") != 1 || (fd.count("remove ctr1") == 1) != tt.removed {
					t.Errorf("calls = %q, want one container, removed %v", fd.callList(), tt.removed)
				}
				if _, all := s.Idle(keyA); all != 0 {
					t.Errorf("%d idle containers, want none", all)
				}
			})
		}
	}
}

func TestRunCancelled(t *testing.T) {
	fd := newFake(t, process{replies: []reply{{hang: true}}})
	s := mustNew(t, fd)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := s.Run(ctx, testRequest(keyA))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	s.removals.Wait()
	if fd.count("kill ctr1") != 1 || fd.count("remove ctr1") != 1 {
		t.Errorf("calls = %q, want the container killed and removed", fd.callList())
	}
	if _, all := s.Idle(keyA); all != 0 {
		t.Errorf("%d idle containers, want none", all)
	}
}

// TestRunTimings: a cold run's import counts as acquiring the container, not as the function's
// time. The ready line is noticed a little after it is written, which moves a few milliseconds
// from the function's time to the acquire time; the bounds below allow for that lag.
func TestRunTimings(t *testing.T) {
	const importTime, funcTime = 150 * time.Millisecond, 20 * time.Millisecond
	fd := newFake(t, process{readyDelay: importTime, replies: []reply{{delay: funcTime, stdout: okLine}}})
	s := mustNew(t, fd)
	cold, err := s.Run(context.Background(), testRequest(keyA))
	if err != nil || cold.Outcome != Completed || !cold.ColdStart {
		t.Fatalf("cold run = %+v, %v", cold, err)
	}
	if cold.Acquire < importTime || cold.Duration >= importTime || cold.Acquire+cold.Duration < importTime+funcTime {
		t.Errorf("cold acquire %v duration %v; want the %v import in acquire, not in duration, and %v in all",
			cold.Acquire, cold.Duration, importTime, importTime+funcTime)
	}
	warm, err := s.Run(context.Background(), testRequest(keyA))
	if err != nil || warm.Outcome != Completed || warm.ColdStart {
		t.Fatalf("warm run = %+v, %v", warm, err)
	}
	if warm.Acquire >= importTime || warm.Duration < funcTime {
		t.Errorf("warm acquire %v duration %v; want under %v and at least %v", warm.Acquire, warm.Duration, importTime, funcTime)
	}
}

// TestRunProtocolErrorLiveRunner: a runner that breaks the protocol but stays alive is killed at
// once; the run does not wait for an exit that will not come.
func TestRunProtocolErrorLiveRunner(t *testing.T) {
	fd := newFake(t, process{replies: []reply{{stdout: "Python warning\n"}}})
	s := mustNew(t, fd)
	start := time.Now()
	res, err := s.Run(context.Background(), testRequest(keyA))
	if err != nil || res.Error == nil || res.Error.Type != ErrTypeProtocol {
		t.Fatalf("Run = %+v, %v; want a protocol error", res, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run took %v, want the container killed at once", d)
	}
}

// TestRunStuckRunnerLargeRequest: the timeout holds even when the runner never reads its
// request (an import that hangs) and the request is larger than the attach stream buffers.
func TestRunStuckRunnerLargeRequest(t *testing.T) {
	fd := newFake(t, process{gate: make(chan struct{})}) // stuck before reading stdin
	s := mustNew(t, fd)
	req := testRequest(keyA)
	req.Limits.Timeout = 100 * time.Millisecond
	req.Args = json.RawMessage(`"` + strings.Repeat("a", 32<<20) + `"`)
	done := make(chan error, 1)
	go func() {
		res, err := s.Run(context.Background(), req)
		if err == nil && res.Outcome != Timeout {
			err = errors.New("outcome " + res.Outcome)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v, want a timeout", err)
		}
	case <-time.After(3 * time.Second):
		t.Error("Run is still writing the request after its timeout")
		fd.container("ctr1").exit(exitKilled) // unblock the write
		<-done
	}
}

// TestRunIdleContainerDied: a warm container that died while idle (killed by an operator, the
// engine restarted) does not fail the next run of its key.
func TestRunIdleContainerDied(t *testing.T) {
	fd := newFake(t, process{})
	s := mustNew(t, fd)
	if _, err := s.Run(context.Background(), testRequest(keyA)); err != nil {
		t.Fatal(err)
	}
	fd.container("ctr1").exit(exitKilled)
	res, err := s.Run(context.Background(), testRequest(keyA))
	if err != nil || res.Outcome != Completed || !res.ColdStart {
		t.Errorf("Run = %+v, %v; want completed in a fresh container", res, err)
	}
}

// TestRemoveOrphans: every container of this node goes, runs and checks alike; another node's
// containers and containers faaspot did not make stay.
func TestRemoveOrphans(t *testing.T) {
	fd := newFake(t, process{})
	labels := func(node, role string) map[string]string {
		l := hardening.Labels(hardening.Config{Node: node}, role)
		l[LabelKey] = "t/d/1/"
		return l
	}
	fd.orphans = []container.Summary{
		{ID: "aaaa00000000aaaa", Labels: labels("node-a", hardening.RoleSandbox)},
		{ID: "gone00000000gone", Labels: labels("node-a", hardening.RoleSandbox)},
		{ID: "bbbb00000000bbbb", Labels: labels("node-b", hardening.RoleSandbox)},
		{ID: "cccc00000000cccc", Labels: labels("node-a", hardening.RoleCheck)},
		{ID: "dddd00000000dddd", Labels: labels("node-b", hardening.RoleCheck)},
		{ID: "eeee00000000eeee", Labels: map[string]string{LabelNode: "node-a"}},                 // not faaspot's
		{ID: "ffff00000000ffff", Labels: map[string]string{LabelManaged: "true", LabelNode: ""}}, // no node
	}
	cfg := DefaultConfig()
	cfg.Node = "node-a"
	s := mustNewConfig(t, fd, cfg)
	n, err := s.RemoveOrphans(context.Background())
	if err != nil || n != 2 {
		t.Errorf("RemoveOrphans = %d, %v; want 2 removed (one was gone already)", n, err)
	}
	if !fd.listed.All {
		t.Error("stopped containers are not listed")
	}
	labelFilter := fd.listed.Filters.Get("label")
	slices.Sort(labelFilter)
	if want := []string{LabelManaged + "=true", LabelNode + "=node-a"}; !slices.Equal(labelFilter, want) {
		t.Errorf("list filter labels %v, want %v: every role of this node, no other node", labelFilter, want)
	}
	want := "list,remove aaaa00000000aaaa,remove gone00000000gone,remove cccc00000000cccc"
	if calls := strings.Join(fd.callList(), ","); calls != want {
		t.Errorf("calls = %s, want %s", calls, want)
	}
}

func TestRemoveOrphansListFails(t *testing.T) {
	fd := newFake(t, process{})
	fd.failOn = "list"
	s := mustNew(t, fd)
	if n, err := s.RemoveOrphans(context.Background()); n != 0 || !errors.Is(err, ErrEngine) {
		t.Errorf("RemoveOrphans = %d, %v; want ErrEngine", n, err)
	}
}

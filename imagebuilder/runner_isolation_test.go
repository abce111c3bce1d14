package imagebuilder

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/faaspot/faaspot/hardening"
	"github.com/faaspot/faaspot/internal/dockertest"
)

// These tests run the runner in a container hardened as the sandbox hardens a run's (uid 65534,
// no capabilities, an init process, read-only root, a /tmp tmpfs), with the runner and the
// function bind-mounted read-only where the image has them. Isolation between runs is about what
// the kernel lets a non-root process without capabilities do, which the host's root python3
// cannot show. They are skipped without a Docker engine and the base image.

// isolationProbe is the function of these tests and of integration/isolation_test.go.
//
//go:embed testdata/isolation_probe.py
var isolationProbe string

// runnerContainer is one runner in serve mode in its own container.
type runnerContainer struct {
	ready  string // the ready line
	in     io.WriteCloser
	lines  chan string // the runner's stdout, line by line; closed at its end
	stderr *bytes.Buffer
}

// startRunnerContainer starts runner (the runner's source) serving code in mode, and waits for
// its ready line. mutate may change the container's hardened host configuration.
func startRunnerContainer(t *testing.T, runner, code, mode string, mutate ...func(*container.HostConfig)) *runnerContainer {
	t.Helper()
	cli, img := dockertest.Engine(t)
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "function"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "runner.py", runner)
	writeFile(t, filepath.Join(dir, "function"), "main.py", code)
	if err := os.Chmod(dir, 0o755); err != nil { // the runner's uid reads it
		t.Fatal(err)
	}
	cc := hardening.ContainerConfig(hardening.Config{}, hardening.RoleSandbox)
	cc.Image, cc.Entrypoint, cc.Cmd = img, []string{"python3", "-I", RunnerPath}, []string{"--serve", mode}
	cc.OpenStdin, cc.AttachStdin, cc.AttachStdout, cc.AttachStderr = true, true, true, true
	hc := hardening.HostConfig(hardening.Config{}, hardening.Resources{MemoryBytes: 256 << 20, NanoCPUs: 1e9})
	hc.Mounts = []mount.Mount{{Type: mount.TypeBind, Source: dir, Target: filepath.Dir(RunnerPath), ReadOnly: true}}
	for _, f := range mutate {
		f(hc)
	}
	created, err := cli.ContainerCreate(ctx, cc, hc, nil, nil, "")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { _ = cli.ContainerRemove(ctx, created.ID, container.RemoveOptions{Force: true}) })
	att, err := cli.ContainerAttach(ctx, created.ID, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	t.Cleanup(att.Close)
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatalf("start: %v", err)
	}
	rc := &runnerContainer{in: att.Conn, lines: make(chan string, 1), stderr: &bytes.Buffer{}}
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, rc.stderr, att.Reader)
		pw.CloseWithError(err)
	}()
	go func() {
		defer close(rc.lines)
		r := bufio.NewReaderSize(pr, 1<<20)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			rc.lines <- line
		}
	}()
	if rc.ready = rc.next(t); !strings.Contains(rc.ready, `"ready": true`) {
		t.Fatalf("ready line %q", rc.ready)
	}
	return rc
}

// next returns the runner's next line.
func (rc *runnerContainer) next(t *testing.T) string {
	t.Helper()
	select {
	case line, ok := <-rc.lines:
		if !ok {
			t.Fatalf("the runner ended; its stderr: %s", rc.stderr.String())
		}
		return line
	case <-time.After(60 * time.Second):
		t.Fatalf("no line from the runner in 60 s; its stderr: %s", rc.stderr.String())
	}
	return ""
}

// run sends one request and returns its frame.
func (rc *runnerContainer) run(t *testing.T, args, context map[string]any) runnerFrame {
	t.Helper()
	req, _ := json.Marshal(map[string]any{"args": args, "context": context})
	if _, err := rc.in.Write(append(req, '\n')); err != nil {
		t.Fatalf("write request: %v", err)
	}
	var f runnerFrame
	if line := rc.next(t); json.Unmarshal([]byte(line), &f) != nil {
		t.Fatalf("frame %q", line)
	}
	return f
}

// newCanary returns a canary the probe recognises: "ISO-CANARY-" and 32 hex digits.
func newCanary(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "ISO-CANARY-" + hex.EncodeToString(b)
}

// probeLook is what the probe's "look" run reports.
type probeLook struct {
	Frames, Objects, Memory []string
	Tmp, Shm, Mqueue, Sysv  []string
	Survivors               []string
	SysvKey                 []string `json:"sysv_key"`
	Runner                  map[string]map[string]string
	Own                     map[string]string
}

// lookAfterLeave runs the probe in a fork-mode container of runner: one run leaves residue of
// every kind, the next looks for it.
func lookAfterLeave(t *testing.T, runner string, mutate ...func(*container.HostConfig)) (canary string, look probeLook) {
	t.Helper()
	rc := startRunnerContainer(t, runner, isolationProbe, "fork", mutate...)
	canary = newCanary(t)
	if f := rc.run(t, map[string]any{"do": "leave", "canary": canary}, map[string]any{"secret": canary}); !f.OK {
		t.Fatalf("the leaving run failed: %+v", f.Error)
	}
	f := rc.run(t, map[string]any{"do": "look"}, map[string]any{})
	if !f.OK {
		t.Fatalf("the looking run failed: %+v", f.Error)
	}
	if err := json.Unmarshal([]byte(f.Result), &look); err != nil {
		t.Fatalf("look result %s: %v", f.Result, err)
	}
	t.Logf("the looking run: %s", f.Result)
	return canary, look
}

// TestRunnerForkForgetsRuns: in fork mode a run reaches nothing of the run before it: no frame
// or object of the runner holds its request, no byte of its process memory holds its args,
// context, output or result, freed memory included.
func TestRunnerForkForgetsRuns(t *testing.T) {
	_, look := lookAfterLeave(t, Runner)
	for what, found := range map[string][]string{"frames": look.Frames, "objects": look.Objects, "memory": look.Memory} {
		if len(found) != 0 {
			t.Errorf("the next run found the previous run's canary in its %s: %v", what, found)
		}
	}
}

// TestRunnerForkClearsResidue: in fork mode nothing a run leaves in /tmp (whatever the modes of
// its directories), /dev/shm, /dev/mqueue or SysV IPC reaches the next run.
func TestRunnerForkClearsResidue(t *testing.T) {
	_, look := lookAfterLeave(t, Runner)
	for what, left := range map[string][]string{"/tmp": look.Tmp, "/dev/shm": look.Shm, "/dev/mqueue": look.Mqueue,
		"SysV IPC": look.Sysv, "SysV IPC by key": look.SysvKey, "processes": look.Survivors} {
		if len(left) != 0 {
			t.Errorf("%s after a run that left residue: %v, want nothing", what, left)
		}
	}
}

// TestRunnerForkHidesRunner: a forked run can neither trace, read, signal nor take the
// descriptors of the runner's processes or of the container's init (which holds the protocol
// streams too), while it keeps every power over its own processes.
func TestRunnerForkHidesRunner(t *testing.T) {
	_, look := lookAfterLeave(t, Runner)
	checkRunnerHidden(t, look, []string{"ptrace", "mem", "environ", "fds", "stdout", "signal"})
}

// checkRunnerHidden checks that every one of the ways to reach the processes above the run
// failed, and that the run can still read its own memory and trace and signal its own child.
func checkRunnerHidden(t *testing.T, look probeLook, ways []string) {
	t.Helper()
	if len(look.Runner) < 2 {
		t.Errorf("the probe looked at %d processes above it, want the runner's and init", len(look.Runner))
	}
	for pid, reach := range look.Runner {
		for _, way := range ways {
			if got := reach[way]; got == "ok" || got == "" {
				t.Errorf("a run reaches process %s (%s): %s %q", pid, pidRole(pid), way, got)
			}
		}
	}
	if len(look.Own) != 3 {
		t.Errorf("the probe checked %v of its powers over its own processes, want 3", look.Own)
	}
	for way, got := range look.Own {
		if got != "ok" {
			t.Errorf("a run lost a power over its own processes: %s = %s", way, got)
		}
	}
}

func pidRole(pid string) string {
	if pid == "1" {
		return "the container's init"
	}
	return "the runner"
}

// TestRunnerForkLandlockBefore6: on kernels with Landlock before ABI 6 (no signal scoping), the
// run is still confined from tracing and reading the processes above it, and its own file
// operations (across directories, truncation) still work.
func TestRunnerForkLandlockBefore6(t *testing.T) {
	const line = "LANDLOCK_MAX_ABI = None"
	if !strings.Contains(Runner, line) {
		t.Fatalf("runner.py has no line %s", line)
	}
	runner := strings.Replace(Runner, line, "LANDLOCK_MAX_ABI = 5", 1)
	_, look := lookAfterLeave(t, runner)
	checkRunnerHidden(t, look, []string{"ptrace", "mem", "environ", "fds", "stdout"})
	rc := startRunnerContainer(t, runner, `import os
def main(args, context):
    os.makedirs("/tmp/a/b")
    open("/tmp/a/f", "w").write("x" * 10)
    os.rename("/tmp/a/f", "/tmp/a/b/g")
    os.link("/tmp/a/b/g", "/tmp/h")
    os.truncate("/tmp/h", 3)
    open("/dev/shm/s", "w").write("y")
    return [open("/tmp/a/b/g").read(), open("/dev/shm/s").read()]
`, "fork")
	if f := rc.run(t, map[string]any{}, map[string]any{}); !f.OK || f.Result != `["xxx", "y"]` {
		t.Errorf("file operations of a confined run: %+v", f)
	}
}

// TestRunnerForkAsInit: in a container without an init process the runner is the init: it
// reaps what runs leave as orphans (no zombie is left to fill the pids limit), it cannot be
// reached from a run, even without Landlock (then nothing else holds the protocol streams), and
// a run leaves nothing to the next.
func TestRunnerForkAsInit(t *testing.T) {
	noInit := func(hc *container.HostConfig) { hc.Init = new(bool) }
	_, look := lookAfterLeave(t, Runner, noInit)
	checkRunnerHidden(t, look, []string{"ptrace", "mem", "environ", "fds", "stdout", "signal"})
	for what, left := range map[string][]string{"memory": look.Memory, "/tmp": look.Tmp, "/dev/shm": look.Shm, "SysV IPC": look.Sysv,
		"processes": look.Survivors} {
		if len(left) != 0 {
			t.Errorf("%s after a run that left residue: %v", what, left)
		}
	}
	withoutLandlock := strings.Replace(Runner, "LANDLOCK_MAX_ABI = None", "LANDLOCK_MAX_ABI = 0", 1)
	_, look = lookAfterLeave(t, withoutLandlock, noInit)
	checkRunnerHidden(t, look, []string{"ptrace", "mem", "environ", "fds", "stdout"})
	rc := startRunnerContainer(t, Runner, `import os, subprocess
def main(args, context):
    if args.get("orphans"):
        for _ in range(20):
            subprocess.Popen(["sleep", "0.01"], start_new_session=True)
        return None
    states = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            with open("/proc/%s/stat" % pid) as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])
    return [os.getppid() > 1, states.count("Z")]
`, "fork", noInit)
	for range 3 {
		rc.run(t, map[string]any{"orphans": true}, map[string]any{})
	}
	time.Sleep(100 * time.Millisecond) // the orphans end
	rc.run(t, map[string]any{}, map[string]any{})
	if f := rc.run(t, map[string]any{}, map[string]any{}); !f.OK || f.Result != "[true, 0]" {
		t.Errorf("after runs that left orphans: %+v, want [true, 0] (no zombie)", f)
	}
}

// TestRunnerForkClearsDeepTmp: the runner empties /tmp however deep a run nested it, and never
// follows a link out of it. (Run with the host's python3: the runner's copy clears the test's
// own directory, not the machine's /tmp.)
func TestRunnerForkClearsDeepTmp(t *testing.T) {
	code := `import os
def main(args, context):
    tmp, outside = os.path.join(os.getcwd(), "tmp"), os.path.join(os.getcwd(), "outside")
    if args.get("look"):
        return [sorted(os.listdir(tmp)), sorted(os.listdir(outside))]
    os.makedirs(outside, exist_ok=True)
    open(os.path.join(outside, "kept"), "w").close()
    os.symlink(outside, os.path.join(tmp, "link"))
    fd = os.open(tmp, os.O_RDONLY)
    for i in range(3000):  # deeper than Python's recursion limit, and than PATH_MAX allows
        os.mkdir("d", dir_fd=fd)
        nested = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nested
    os.close(os.open("f", os.O_CREAT | os.O_WRONLY, 0, dir_fd=fd))
    os.close(fd)
    return "left"
`
	frames := serveRunner(t, code, nil, "fork", `{"args":{},"context":{}}`, `{"args":{"look":true},"context":{}}`)
	if !frames[0].OK || frames[1].Result != `[[], ["kept"]]` {
		t.Errorf("after a run that nested /tmp 3000 deep and linked out of it: %+v / %+v, want an empty /tmp and the outside kept", frames[0], frames[1])
	}
}

// TestRunnerProcessModeStrayThreads: in process mode a run that leaves a thread running reports
// it as stray (the sandbox then retires the container); a joined thread is no stray.
func TestRunnerProcessModeStrayThreads(t *testing.T) {
	rc := startRunnerContainer(t, Runner, isolationProbe, "process")
	if f := rc.run(t, map[string]any{"do": "thread", "join": true}, map[string]any{}); !f.OK || f.Stray != 0 {
		t.Errorf("a run whose thread ended: ok %v, stray %d, want 0", f.OK, f.Stray)
	}
	if f := rc.run(t, map[string]any{"do": "thread"}, map[string]any{}); !f.OK || f.Stray < 1 {
		t.Errorf("a run that left a thread running: ok %v, stray %d, want at least 1", f.OK, f.Stray)
	}
}

// TestRunnerCapsErrors: an exception's message and traceback are capped in the frame (64 KiB
// each, the head kept, a marker and a flag), whatever their size, and formatting them stays
// quick: a 10 MB message, a 1 MB type name, huge notes, a traceback 20 000 frames deep.
func TestRunnerCapsErrors(t *testing.T) {
	tests := []struct {
		name                      string
		code                      string
		typ, message              string // the type, and the head of the message
		last                      string // the head of the traceback's last line, when known
		msgTruncated, tbTruncated bool
	}{
		{name: "10 MB message",
			code: "def main(args, context):\n    raise ValueError('m' * (10 << 20))\n",
			typ:  "ValueError", message: strings.Repeat("m", 1000), msgTruncated: true, tbTruncated: true},
		{name: "1 MB type name",
			code: "def main(args, context):\n    raise type('E' * (1 << 20), (Exception,), {})('short')\n",
			typ:  strings.Repeat("E", 200), message: "short", tbTruncated: true},
		{name: "notes",
			code: "def main(args, context):\n    e = KeyError('k')\n    e.__notes__ = ['n' * (1 << 20)] * 50\n    raise e\n",
			typ:  "KeyError", message: "'k'", tbTruncated: true},
		{name: "deep traceback",
			code: "import sys\nsys.setrecursionlimit(30000)\ndef f(n):\n    if n == 0:\n        raise RuntimeError('deep')\n    return f(n - 1)\n" +
				"def main(args, context):\n    return f(20000)\n",
			typ: "RuntimeError", message: "deep", last: "RuntimeError: deep", tbTruncated: true},
		{name: "shallow traceback",
			code: "def main(args, context):\n    raise OSError(2, 'gone')\n",
			typ:  "FileNotFoundError", message: "[Errno 2] gone", last: "FileNotFoundError: [Errno 2] gone"},
		{name: "unprintable message",
			code: "class E(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\ndef main(args, context):\n    raise E()\n",
			typ:  "E", message: "<exception str() failed>", last: "main.E: <exception str() failed>"},
	}
	for _, tt := range tests {
		for _, mode := range []string{"process", "fork"} {
			t.Run(tt.name+" ("+mode+")", func(t *testing.T) {
				t.Parallel()
				start := time.Now()
				line := serveRunnerRaw(t, tt.code, mode, runnerInput)
				if d := time.Since(start); d > 20*time.Second {
					t.Errorf("the run took %v", d)
				}
				if len(line) > 400<<10 {
					t.Errorf("the frame is %d bytes, want the error capped", len(line))
				}
				var f runnerFrame
				if err := json.Unmarshal([]byte(line), &f); err != nil || f.Error == nil {
					t.Fatalf("frame %.300q: %v", line, err)
				}
				e := f.Error
				if len(e.Type) > 300 || !strings.HasPrefix(e.Type, tt.typ) || !strings.HasPrefix(e.Message, tt.message) {
					t.Errorf("error %.300q: %.300q, want %.50q: %.50q...", e.Type, e.Message, tt.typ, tt.message)
				}
				if len(e.Message) > 65<<10 || len(e.Traceback) > 65<<10 {
					t.Errorf("message %d bytes, traceback %d bytes: want at most 64 KiB and a marker each", len(e.Message), len(e.Traceback))
				}
				if e.MessageTruncated != tt.msgTruncated || e.TracebackTruncated != tt.tbTruncated {
					t.Errorf("message_truncated %v traceback_truncated %v, want %v %v",
						e.MessageTruncated, e.TracebackTruncated, tt.msgTruncated, tt.tbTruncated)
				}
				if tt.msgTruncated && !strings.Contains(e.Message[len(e.Message)-200:], "truncated") {
					t.Errorf("a truncated message ends %q: want a marker", e.Message[len(e.Message)-200:])
				}
				if !strings.Contains(e.Traceback, "main.py") {
					t.Errorf("traceback %.2000q: want the function's frames", e.Traceback)
				}
				if last := lastLine(e.Traceback); !strings.HasPrefix(last, tt.last) {
					t.Errorf("traceback ends %.300q, want the exception's line", last)
				}
			})
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// serveRunnerRaw runs a test copy of runner.py in mode on one request and returns its frame
// line as written.
func serveRunnerRaw(t *testing.T, code, mode, request string) string {
	t.Helper()
	runner, dir := testRunner(t, code, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python3(t), "-I", runner, "--serve", mode)
	cmd.Dir, cmd.Stdin = dir, strings.NewReader(request+"\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("runner: %v\nstderr: %.2000s", err, stderr.String())
	}
	_, frame, _ := strings.Cut(stdout.String(), "\n")
	return strings.TrimSuffix(frame, "\n")
}

// TestRunnerForkProvesConfinement: a fork-mode runner says "unconfined" on its ready line exactly
// when a run could reach a process above it or leave IPC it cannot list: without Landlock, the
// container's init (docker-init, dumpable) holds the protocol streams; as the init itself the
// runner needs no Landlock; gVisor (when the engine has runsc) ignores dumpability in /proc.
func TestRunnerForkProvesConfinement(t *testing.T) {
	noLandlock := strings.Replace(Runner, "LANDLOCK_MAX_ABI = None", "LANDLOCK_MAX_ABI = 0", 1)
	before6 := strings.Replace(Runner, "LANDLOCK_MAX_ABI = None", "LANDLOCK_MAX_ABI = 5", 1)
	noInit := func(hc *container.HostConfig) { hc.Init = new(bool) }
	runsc := func(hc *container.HostConfig) { hc.Runtime = "runsc" }
	tests := []struct {
		name, runner, mode string
		mutate             []func(*container.HostConfig)
		unconfined         bool
		runtime            string // needed on the engine, else skipped
	}{
		{name: "Landlock", runner: Runner, mode: "fork"},
		{name: "Landlock without signal scoping", runner: before6, mode: "fork"},
		{name: "no Landlock, docker-init above", runner: noLandlock, mode: "fork", unconfined: true},
		{name: "no Landlock, the runner is the init", runner: noLandlock, mode: "fork", mutate: []func(*container.HostConfig){noInit}},
		{name: "process mode promises nothing", runner: noLandlock, mode: "process"},
		{name: "gVisor", runner: Runner, mode: "fork", mutate: []func(*container.HostConfig){noInit, runsc}, unconfined: true, runtime: "runsc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.runtime != "" {
				cli, _ := dockertest.Engine(t)
				info, err := cli.Info(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := info.Runtimes[tt.runtime]; !ok {
					t.Skipf("the engine has no %s runtime (scripts/runsc.sh registers it)", tt.runtime)
				}
			}
			rc := startRunnerContainer(t, tt.runner, "def main(args, context):\n    return 1\n", tt.mode, tt.mutate...)
			var ready struct{ Unconfined bool }
			if err := json.Unmarshal([]byte(rc.ready), &ready); err != nil {
				t.Fatalf("ready line %q: %v", rc.ready, err)
			}
			if ready.Unconfined != tt.unconfined {
				t.Errorf("ready line %q: unconfined %v, want %v", rc.ready, ready.Unconfined, tt.unconfined)
			}
			if f := rc.run(t, map[string]any{}, map[string]any{}); !f.OK || f.Result != "1" {
				t.Errorf("a run after the proof: %+v", f)
			}
		})
	}
}

package imagebuilder

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// liveCode prints a line on each stream, waits, prints a long line of two-byte characters (so
// that pieces are cut between bytes of one), a forged live line, then more than the limit.
const liveCode = `import sys, time
def main(args, context):
    if args.get("quick"):
        sys.stdout.write("q" * 200000)
        return 0
    print("first")
    print("warn", file=sys.stderr)
    time.sleep(0.5)
    sys.stdout.write("\u00e9" * 40000 + "\n")
    sys.stdout.write('{"out": "stdout", "data": "FORGED"}\n')
    sys.stdout.flush()
    time.sleep(0.3)
    sys.stdout.write("x" * 100000)
    sys.stdout.flush()
    time.sleep(0.3)
    return 1
`

// protoLine is a line of the runner's protocol stream with its arrival time.
type protoLine struct {
	at   time.Time
	text string
	out  string // the stream of a live output line
	data string
}

// liveRunner is a serve-mode runner fed one request at a time.
type liveRunner struct {
	stdin *os.File
	out   *bufio.Reader
}

func startLiveRunner(t *testing.T, mode string) *liveRunner {
	t.Helper()
	runner, dir := testRunner(t, liveCode, nil)
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, python3(t), "-I", runner, "--serve", mode)
	var stderr bytes.Buffer
	cmd.Dir, cmd.Stdin, cmd.Stdout, cmd.Stderr = dir, stdinR, stdoutW, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdinR.Close()
	stdoutW.Close()
	t.Cleanup(func() {
		stdinW.Close()
		if err := cmd.Wait(); err != nil || stderr.Len() != 0 {
			t.Errorf("runner exit: %v, stderr %q", err, stderr.String())
		}
		cancel()
		stdoutR.Close()
	})
	lr := &liveRunner{stdin: stdinW, out: bufio.NewReaderSize(stdoutR, 1<<20)}
	if ready := readLine(t, lr.out); !strings.Contains(ready, `"ready": true`) {
		t.Fatalf("ready line %q", ready)
	}
	return lr
}

// run sends one request and returns the lines up to and with its frame.
func (lr *liveRunner) run(t *testing.T, request string) (lines []protoLine, frame runnerFrame) {
	t.Helper()
	if _, err := lr.stdin.Write([]byte(request + "\n")); err != nil {
		t.Fatal(err)
	}
	for {
		text := readLine(t, lr.out)
		l := protoLine{at: time.Now(), text: text}
		var head struct {
			Out  string `json:"out"`
			Data string `json:"data"`
		}
		if err := json.Unmarshal([]byte(text), &head); err != nil {
			t.Fatalf("line %.200q: %v", text, err)
		}
		l.out, l.data = head.Out, head.Data
		lines = append(lines, l)
		if l.out == "" {
			return lines, readFrames(t, "{\"ready\": true}\n"+text, 1)[0]
		}
	}
}

// TestRunnerLiveOutput: a run that asked for live output gets its prints as they come, ahead of
// its frame: each stream's pieces a head of the frame's text, within the limit, no character
// cut, a forged line only ever data; a run that did not ask, or that ends within LIVE_DELAY,
// gets none.
func TestRunnerLiveOutput(t *testing.T) {
	for _, mode := range []string{"process", "fork"} {
		t.Run(mode, func(t *testing.T) {
			lr := startLiveRunner(t, mode)
			const limit = 150000
			lines, f := lr.run(t, `{"args": {}, "context": {}, "live": true, "output_limit": 150000}`)
			frameAt := lines[len(lines)-1].at
			live := map[string]string{}
			for _, l := range lines[:len(lines)-1] {
				if l.out != "stdout" && l.out != "stderr" {
					t.Fatalf("line %.100q names no stream", l.text)
				}
				if strings.Contains(l.data, "\ufffd") {
					t.Errorf("a piece holds a cut character: %.100q", l.data)
				}
				live[l.out] += l.data
			}
			if len(lines) < 3 || lines[0].data != "first\n" && lines[1].data != "first\n" {
				t.Fatalf("lines %d, first %.100q; want the first print sent live", len(lines), lines[0].text)
			}
			if ahead := frameAt.Sub(lines[0].at); ahead < 400*time.Millisecond {
				t.Errorf("the first piece came %v before the frame, want it sent while the run slept", ahead)
			}
			if !f.OK || !f.StdoutTruncated || len(f.Stdout) != limit || f.Stderr != "warn\n" {
				t.Fatalf("frame ok %v, stdout %d bytes (truncated %v), stderr %q", f.OK, len(f.Stdout), f.StdoutTruncated, f.Stderr)
			}
			if !strings.HasPrefix(f.Stdout, live["stdout"]) || len(live["stdout"]) < 80000 || live["stderr"] != "warn\n" {
				t.Errorf("live stdout %d bytes, stderr %q: want a head of the frame's (%d bytes), the long line included",
					len(live["stdout"]), live["stderr"], len(f.Stdout))
			}
			if !strings.Contains(live["stdout"], `{"out": "stdout", "data": "FORGED"}`) {
				t.Error("the forged line is not in the output as data")
			}
			for _, request := range []string{`{"args": {}, "context": {}}`, `{"args": {"quick": 1}, "context": {}, "live": true}`} {
				if lines, f := lr.run(t, request); len(lines) != 1 || !f.OK {
					t.Errorf("request %s: %d lines (%.100q), ok %v; want only the frame", request, len(lines), lines[0].text, f.OK)
				}
			}
		})
	}
}

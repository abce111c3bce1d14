package sandbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// frame is one JSON line the runner writes to the container's stdout: first a ready line, then
// per request its live output lines (when asked for: see input.Live) and one result frame.
type frame struct {
	Ready bool `json:"ready"`
	// Out, on a live output line, names its stream (StreamStdout or StreamStderr) and Data holds
	// the text: a piece of what the run printed, sent while it goes on.
	Out  string `json:"out"`
	Data string `json:"data"`
	// Unconfined, on the ready line, says that the runner could not prove that a fork-mode run
	// is kept from the runner, the container's init and what other runs leave (no Landlock, a
	// /proc that ignores dumpability, SysV IPC it cannot list: gVisor, old kernels). Each
	// container of such a runner serves one run only.
	Unconfined      bool       `json:"unconfined"`
	OK              bool       `json:"ok"`
	Result          string     `json:"result"`
	Error           *FuncError `json:"error"`
	Stdout          string     `json:"stdout"`
	Stderr          string     `json:"stderr"`
	StdoutTruncated bool       `json:"stdout_truncated"`
	StderrTruncated bool       `json:"stderr_truncated"`
	// Stray counts processes the run left behind in the container.
	Stray int `json:"stray"`
	// ExitCode is the forked run's process exit status when it died without a frame; OOM says
	// the kernel's OOM killer killed it.
	ExitCode int  `json:"exit_code"`
	OOM      bool `json:"oom"`
}

// input is one request line the runner reads from stdin.
type input struct {
	Args        json.RawMessage `json:"args"`
	Context     json.RawMessage `json:"context"`
	OutputLimit int             `json:"output_limit"`
	ResultLimit int             `json:"result_limit"`
	// Live asks the runner for live output lines while the run goes on (Request.Output is set).
	Live bool `json:"live,omitempty"`
}

// The streams of a run's output, as live output lines and Request.Output name them.
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
)

// parseFrame decodes one line of the runner.
func parseFrame(line []byte) (frame, error) {
	var f frame
	if err := json.Unmarshal(line, &f); err != nil {
		return frame{}, fmt.Errorf("decode result frame: %w", err)
	}
	if f.Ready {
		return f, nil
	}
	if f.Out != "" {
		if f.Out != StreamStdout && f.Out != StreamStderr {
			return frame{}, errors.New("live output line names no known stream")
		}
		return f, nil
	}
	if f.OK && !json.Valid([]byte(f.Result)) {
		return frame{}, errors.New("result frame carries invalid JSON")
	}
	if !f.OK && f.Error == nil {
		return frame{}, errors.New("result frame has neither result nor error")
	}
	return f, nil
}

// errLineTooLong means the runner wrote a line over the limit: the protocol is broken.
var errLineTooLong = errors.New("result frame over the size limit")

// readLine reads one line of at most limit bytes (without the newline).
func readLine(r *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > limit+1 {
			return nil, errLineTooLong
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			return bytes.TrimSuffix(line, []byte("\n")), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return nil, err
		}
	}
}

// cappedBuffer keeps at most limit bytes and records whether more was written. It is safe for
// one writer and concurrent readers.
type cappedBuffer struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	limit     int
	truncated bool
}

// String returns what was kept.
func (c *cappedBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// Truncated reports whether more was written than kept.
func (c *cappedBuffer) Truncated() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.truncated
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.limit - c.buf.Len()
	if len(p) > room {
		c.truncated = true
	}
	if room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// liveOutput hands a run's live output lines to its Request.Output: at most limit bytes of each
// stream in all (0: no limit), cut at a character boundary, as the Result's texts are. A nil
// liveOutput (no sink: the runner was not asked) drops what it is given.
type liveOutput struct {
	sink  func(stream, data string)
	limit int
	sent  [2]int // bytes handed on, of stdout and stderr
}

// newLiveOutput returns the liveOutput of req, nil when req has no Output.
func newLiveOutput(req Request) *liveOutput {
	if req.Output == nil {
		return nil
	}
	return &liveOutput{sink: req.Output, limit: req.Limits.OutputBytes}
}

// pass hands one live output line of stream on, within the stream's limit.
func (l *liveOutput) pass(stream, data string) {
	if l == nil {
		return
	}
	i := 0
	if stream == StreamStderr {
		i = 1
	}
	if l.limit > 0 {
		data, _ = cutHead(data, l.limit-l.sent[i])
	}
	if data == "" {
		return
	}
	l.sent[i] += len(data)
	l.sink(stream, data)
}

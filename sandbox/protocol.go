package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// frame is the one JSON line the runner writes to the container's stdout.
type frame struct {
	OK              bool       `json:"ok"`
	Result          string     `json:"result"`
	Error           *FuncError `json:"error"`
	Stdout          string     `json:"stdout"`
	Stderr          string     `json:"stderr"`
	StdoutTruncated bool       `json:"stdout_truncated"`
	StderrTruncated bool       `json:"stderr_truncated"`
}

// input is the JSON document the runner reads from stdin.
type input struct {
	Args        json.RawMessage `json:"args"`
	Context     json.RawMessage `json:"context"`
	OutputLimit int             `json:"output_limit"`
	ResultLimit int             `json:"result_limit"`
}

var errNoFrame = errors.New("no result frame")

// parseFrame finds the runner's frame: the last non-empty line of the container's stdout.
func parseFrame(out []byte) (frame, error) {
	out = bytes.TrimRight(out, "\n")
	if len(out) == 0 {
		return frame{}, errNoFrame
	}
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	var f frame
	if err := json.Unmarshal(out, &f); err != nil {
		return frame{}, fmt.Errorf("decode result frame: %w", err)
	}
	if f.OK && !json.Valid([]byte(f.Result)) {
		return frame{}, errors.New("result frame carries invalid JSON")
	}
	if !f.OK && f.Error == nil {
		return frame{}, errors.New("result frame has neither result nor error")
	}
	return f, nil
}

// cappedBuffer keeps at most limit bytes and records whether more was written.
type cappedBuffer struct {
	bytes.Buffer
	limit     int
	truncated bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	room := c.limit - c.Len()
	if len(p) > room {
		c.truncated = true
	}
	if room > 0 {
		c.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

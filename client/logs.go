package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/faaspot/faaspot"
)

// LogLine is a line of an execution's logs (GET /v1/executions/{id}/logs): a piece of output
// (Stream "stdout" or "stderr" and its Data), or the last line (Status set, with the truncation
// flags of the output).
type LogLine struct {
	Stream          string             `json:"stream,omitempty"`
	Data            string             `json:"data,omitempty"`
	Status          faaspot.ExecStatus `json:"status,omitempty"`
	StdoutTruncated bool               `json:"stdout_truncated,omitempty"`
	StderrTruncated bool               `json:"stderr_truncated,omitempty"`
}

// Last reports whether l is the last line of the logs.
func (l LogLine) Last() bool { return l.Status != "" }

// ErrLogsCut means the server's answer ended before its last line (the connection broke).
var ErrLogsCut = errors.New("the logs answer ended before its last line")

// Logs hands fn each piece of output of execution id, in order within each stream, and returns
// the last line. Without follow it gets the output so far; with follow it gets each piece as
// the run prints it and returns when the run ends, or when the server ends the follow first
// (the last line's status is then not terminal: follow again, or read the record). The follow
// waits as long as ctx allows, not the client's usual timeout. An error of fn ends it and is
// returned; an answer cut short is ErrLogsCut; a non-2xx answer an *APIError.
func (c *Client) Logs(ctx context.Context, id string, follow bool, fn func(LogLine) error) (LogLine, error) {
	path := "/v1/executions/" + url.PathEscape(id) + "/logs"
	if follow {
		path += "?follow=true"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return LogLine{}, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Token "+c.token)
	}
	hc := *c.http
	hc.Timeout = 0 // a follow lasts as long as its run: ctx bounds it
	resp, err := hc.Do(req)
	if err != nil {
		return LogLine{}, fmt.Errorf("cannot reach faaspot at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return LogLine{}, apiError(resp.StatusCode, data)
	}
	return readLogLines(bufio.NewReader(resp.Body), fn)
}

// readLogLines reads NDJSON log lines from r, handing fn the pieces, until the last line.
func readLogLines(r *bufio.Reader, fn func(LogLine) error) (LogLine, error) {
	for {
		b, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return LogLine{}, ErrLogsCut
		}
		if err != nil {
			return LogLine{}, fmt.Errorf("read logs: %w: %w", ErrLogsCut, err)
		}
		var l LogLine
		if err := json.Unmarshal(b, &l); err != nil {
			return LogLine{}, fmt.Errorf("decode a line of logs: %w", err)
		}
		if l.Last() {
			return l, nil
		}
		if err := fn(l); err != nil {
			return LogLine{}, err
		}
	}
}

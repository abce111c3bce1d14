package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/api"
	"github.com/faaspot/faaspot/store"
)

// logLine is a line of a logs answer: a piece of output, or the last line.
type logLine struct {
	Stream          string `json:"stream"`
	Data            string `json:"data"`
	Status          string `json:"status"`
	StdoutTruncated bool   `json:"stdout_truncated"`
	StderrTruncated bool   `json:"stderr_truncated"`
}

func parseLogLines(t *testing.T, body string) []logLine {
	t.Helper()
	var lines []logLine
	for _, l := range strings.SplitAfter(body, "\n") {
		if l == "" {
			continue
		}
		var ll logLine
		if !strings.HasSuffix(l, "\n") || json.Unmarshal([]byte(l), &ll) != nil {
			t.Fatalf("line %q of %q is no JSON line", l, body)
		}
		lines = append(lines, ll)
	}
	return lines
}

// texts joins the data of each stream and returns the last line.
func texts(t *testing.T, lines []logLine) (stdout, stderr string, last logLine) {
	t.Helper()
	if len(lines) == 0 || lines[len(lines)-1].Status == "" {
		t.Fatalf("no last line in %+v", lines)
	}
	for _, l := range lines[:len(lines)-1] {
		switch l.Stream {
		case "stdout":
			stdout += l.Data
		case "stderr":
			stderr += l.Data
		default:
			t.Errorf("line %+v names no stream", l)
		}
	}
	return stdout, stderr, lines[len(lines)-1]
}

// queueRun queues an async run of a ready deployment fn and returns its execution id.
func (e *apiEnv) queueRun() string {
	e.t.Helper()
	var id string
	expect(e.t, e.do(http.MethodPost, "/v1/deployments/fn/rpc/", e.token, `{}`), http.StatusAccepted, &id)
	return id
}

// TestExecutionLogsTerminal: a terminal execution's output comes at once from its record, with or
// without follow, as NDJSON lines of at most 32 KiB of text and a last line with the status
// and the truncation flags; another tenant's id is 404 like an unknown one.
func TestExecutionLogsTerminal(t *testing.T) {
	env := newEnv(t, nil)
	env.readyDeployment("fn")
	big := strings.Repeat("é", 40<<10) + "\n" // 80 KiB: three lines, none cutting a character
	done := env.runWorker(func(e *faaspot.Execution) {
		e.Status, e.Stdout, e.Stderr, e.StderrTruncated = faaspot.ExecFailed, big, "warn\n", true
	})
	id := env.queueRun()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"", "?follow=true"} {
		rec := env.do(http.MethodGet, "/v1/executions/"+id+"/logs"+q, env.token, "")
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/x-ndjson" {
			t.Fatalf("%s: status %d, Content-Type %q: %s", q, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		lines := parseLogLines(t, rec.Body.String())
		stdout, stderr, last := texts(t, lines)
		if stdout != big || stderr != "warn\n" || last != (logLine{Status: "failed", StderrTruncated: true}) {
			t.Errorf("%s: stdout %d bytes, stderr %q, last %+v", q, len(stdout), stderr, last)
		}
		for _, l := range lines {
			if len(l.Data) > 32<<10 {
				t.Errorf("%s: a line of %d bytes", q, len(l.Data))
			}
		}
	}
	_, otherToken := env.newTenant("other")
	expectError(t, env.do(http.MethodGet, "/v1/executions/"+id+"/logs?follow=true", otherToken, ""), http.StatusNotFound, "not_found", "")
	expectError(t, env.do(http.MethodGet, "/v1/executions/nope/logs", env.token, ""), http.StatusNotFound, "not_found", "")
	expectError(t, env.do(http.MethodGet, "/v1/executions/"+id+"/logs", "", ""), http.StatusUnauthorized, "", "")
}

// TestExecutionLogsFollow: over a real connection, a follow answers at once and streams each
// piece the run sends while the run is not over (its status still queued when the piece
// arrives), then the rest of the record and the last line once the worker ends the run.
func TestExecutionLogsFollow(t *testing.T) {
	env := newEnv(t, nil)
	env.readyDeployment("fn")
	id := env.queueRun()
	job, err := env.store.NextJob(context.Background(), store.Runs, "w", time.Second)
	if err != nil || job == nil {
		t.Fatalf("NextJob = %v, %v", job, err)
	}
	srv := httptest.NewServer(env.h)
	defer srv.Close()
	lines := followLines(t, srv.URL, env.token, id)

	if err := env.store.AppendLog(context.Background(), env.tenant.ID, id, []store.LogPiece{{Stream: "stdout", Data: "first\n"}}); err != nil {
		t.Fatal(err)
	}
	if l := recvLine(t, lines); l.Stream != "stdout" || l.Data != "first\n" {
		t.Fatalf("first line %+v, want the piece", l)
	}
	if e, _ := env.store.GetExecution(context.Background(), env.tenant.ID, id); e.Terminal() {
		t.Fatal("the run ended before its first piece was read")
	}
	e, _ := env.store.GetExecution(context.Background(), env.tenant.ID, id)
	e.Status, e.Stdout, e.Stderr = faaspot.ExecCompleted, "first\nsecond\n", "e\n"
	if err := env.store.FinishRun(context.Background(), *job, e); err != nil {
		t.Fatal(err)
	}
	if err := env.store.EndLog(context.Background(), env.tenant.ID, id); err != nil {
		t.Fatal(err)
	}
	var rest []logLine
	for l := range lines {
		rest = append(rest, l)
	}
	want := []logLine{{Stream: "stdout", Data: "second\n"}, {Stream: "stderr", Data: "e\n"}, {Status: "completed"}}
	if len(rest) != len(want) || rest[0] != want[0] || rest[1] != want[1] || rest[2] != want[2] {
		t.Errorf("after the end: %+v, want %+v", rest, want)
	}
}

// recvLine returns the next line, failing the test when none comes within a generous bound (a
// hang guard, not a timing assumption).
func recvLine(t *testing.T, lines <-chan logLine) logLine {
	t.Helper()
	select {
	case l := <-lines:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no line came: the answer is not flushed line by line")
		return logLine{}
	}
}

// followLines follows the logs of id and sends their lines on the returned channel, closed at the
// end of the answer.
func followLines(t *testing.T, base, token, id string) <-chan logLine {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/executions/"+id+"/logs?follow=true", nil)
	req.Header.Set("Authorization", "Token "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("follow: status %d", resp.StatusCode)
	}
	lines := make(chan logLine, 16)
	go func() {
		defer close(lines)
		defer resp.Body.Close()
		r := bufio.NewReader(resp.Body)
		for {
			b, err := r.ReadBytes('\n')
			if err != nil {
				return
			}
			var l logLine
			if err := json.Unmarshal(b, &l); err != nil {
				t.Errorf("line %q: %v", b, err)
				return
			}
			lines <- l
		}
	}()
	return lines
}

// TestExecutionLogsFollowBounded: a follow past the tenant's MaxSyncWaiters does not wait, and a
// waiting one ends when the node drains; both end with a last line whose status is not terminal.
func TestExecutionLogsFollowBounded(t *testing.T) {
	env := newEnv(t, func(c *api.Config) { c.MaxSyncWaiters = 1 })
	env.readyDeployment("fn")
	id := env.queueRun()
	srv := httptest.NewServer(env.h)
	defer srv.Close()
	first := followLines(t, srv.URL, env.token, id)
	// The first follow holds the tenant's one waiting request from before its answer began: a
	// second answers what there is, at once.
	rec := env.do(http.MethodGet, "/v1/executions/"+id+"/logs?follow=true", env.token, "")
	if _, _, last := texts(t, parseLogLines(t, rec.Body.String())); rec.Code != http.StatusOK || last.Status != "queued" {
		t.Errorf("second follow: %d %s", rec.Code, rec.Body)
	}
	env.srv.Drain()
	var got []logLine
	for l := range first {
		got = append(got, l)
	}
	if len(got) != 1 || got[0].Status != "queued" {
		t.Errorf("drained follow: %+v, want one last line, queued", got)
	}
}

// deadlineRecorder is a ResponseRecorder that records the write deadline a handler sets through
// http.ResponseController.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	deadline time.Time
}

func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	d.deadline = t
	return nil
}

// TestExecutionLogsWriteDeadline: a logs answer sets its own write deadline, through the
// router's middleware, to outlast the longest run the server allows (the server's write
// timeout is shorter).
func TestExecutionLogsWriteDeadline(t *testing.T) {
	env := newEnv(t, nil)
	env.readyDeployment("fn")
	done := env.runWorker(func(e *faaspot.Execution) { e.Status = faaspot.ExecCompleted })
	id := env.queueRun()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/v1/executions/"+id+"/logs?follow=true", nil)
	req.Header.Set("Authorization", "Token "+env.token)
	rec := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder()}
	start := time.Now()
	env.h.ServeHTTP(rec, req)
	longest := time.Duration(env.cfg.MaxLimits.TimeoutS) * time.Second
	if rec.Code != http.StatusOK || rec.deadline.Sub(start) < longest+time.Minute {
		t.Errorf("status %d, write deadline %v after the start; want past the longest run (%v) and its grace",
			rec.Code, rec.deadline.Sub(start), longest)
	}
}

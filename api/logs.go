package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/faaspot/faaspot"
)

// followGrace is what a follow of a run's output may last beyond the longest run the server
// allows: the worker ends a run at its timeout plus 35 s at most (a sandbox that overruns is
// stopped), and a run may wait a little in the queue.
const followGrace = time.Minute

// followWriteMargin is what the write deadline of a follow adds to its bound, for its last line.
const followWriteMargin = 10 * time.Second

// logLineBytes bounds the text of one line of a logs answer.
const logLineBytes = 32 << 10

// logPiece is a line of output of a logs answer.
type logPiece struct {
	Stream string `json:"stream"`
	Data   string `json:"data"`
}

// logEnd is the last line of a logs answer.
type logEnd struct {
	Status          faaspot.ExecStatus `json:"status"`
	StdoutTruncated bool               `json:"stdout_truncated"`
	StderrTruncated bool               `json:"stderr_truncated"`
}

// executionLogs handles GET /v1/executions/{id}/logs[?follow=true]: 200 with the execution's
// output as NDJSON (application/x-ndjson, one JSON object a line): lines {"stream": "stdout" or
// "stderr", "data": TEXT}, each stream's texts in order and together its output (at most the
// run's output limit), then one last line {"status", "stdout_truncated", "stderr_truncated"}.
// Without follow the answer holds the output so far: the record's once the run is terminal,
// else what the run sent while it goes on. With follow the answer streams the output while the
// run goes on, each line as it comes, and ends when the run ends. A last line whose status is
// not terminal says that the answer ended first: the server's bound (the longest run allowed
// plus followGrace), the node draining, the store failing, or a tenant that already holds
// MaxSyncWaiters waiting requests on this node (its follow does not wait). 404 when the
// caller's tenant has no such execution.
func (s *Server) executionLogs(w http.ResponseWriter, r *http.Request) {
	follow := isTrue(r.URL.Query().Get("follow"))
	tid, id := tenantOf(r).ID, mux.Vars(r)["id"]
	e, err := s.executions.GetExecution(r.Context(), tid, id)
	if err = ifNotFound(err, notFound("execution", id)); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if follow && !e.Terminal() {
		follow = s.waiters.enter(tid, s.cfg.MaxSyncWaiters)
		defer s.waiters.leave(tid)
	}
	bound := s.followBound()
	ctx, cancel := context.WithTimeout(r.Context(), bound)
	defer cancel()
	unhook := context.AfterFunc(s.draining, cancel)
	defer unhook()
	out := startLogLines(w, time.Now().Add(bound+followWriteMargin))
	final, err := s.executions.FollowLog(ctx, tid, e, follow, out.piece)
	if err != nil && ctx.Err() == nil && out.failed == nil {
		s.log.Warn("follow the output of an execution", "execution", id, "err", err)
	}
	out.end(final)
}

// followBound is the longest a follow lasts: the longest run the server allows, plus followGrace.
func (s *Server) followBound() time.Duration {
	longest := max(s.cfg.MaxLimits.TimeoutS, s.cfg.DefaultLimits.TimeoutS)
	return time.Duration(longest)*time.Second + followGrace
}

// logLines writes the lines of a logs answer, each flushed at once.
type logLines struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	enc    *json.Encoder
	failed error // the first write that failed (the client went away): nothing more is written
}

// startLogLines answers 200 with NDJSON headers and a write deadline of until: the server's
// write timeout is shorter than the longest follow.
func startLogLines(w http.ResponseWriter, until time.Time) *logLines {
	h := w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Accel-Buffering", "no") // a proxy must pass each line on at once
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(until) // not supported by test recorders, which have no deadline
	w.WriteHeader(http.StatusOK)
	l := &logLines{w: w, rc: rc, enc: json.NewEncoder(w)}
	l.enc.SetEscapeHTML(false)
	l.flush()
	return l
}

// piece writes data of stream as lines of at most logLineBytes of text.
func (l *logLines) piece(stream, data string) error {
	for data != "" {
		head := textHead(data, logLineBytes)
		if err := l.write(logPiece{Stream: stream, Data: head}); err != nil {
			return err
		}
		data = data[len(head):]
	}
	return nil
}

// end writes the last line, from e.
func (l *logLines) end(e faaspot.Execution) {
	_ = l.write(logEnd{Status: e.Status, StdoutTruncated: e.StdoutTruncated, StderrTruncated: e.StderrTruncated})
}

func (l *logLines) write(v any) error {
	if l.failed != nil {
		return l.failed
	}
	if err := l.enc.Encode(v); err != nil {
		l.failed = fmt.Errorf("write a line of logs: %w", err)
		return l.failed
	}
	l.flush()
	return l.failed
}

func (l *logLines) flush() {
	if err := l.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) && l.failed == nil {
		l.failed = fmt.Errorf("flush logs: %w", err)
	}
}

// textHead is the longest head of s within limit bytes that ends at a character boundary, at
// least one character.
func textHead(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	i := limit
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	if i == 0 {
		_, n := utf8.DecodeRuneInString(s)
		i = n
	}
	return s[:i]
}

// Unwrap gives http.ResponseController the writer under the recorder: a logs answer flushes
// each line and sets its own write deadline.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// exitKilled is the exit code the engine and the runner report for a process killed by SIGKILL
// (128 + signal 9): the sandbox's own kill at a timeout, the kernel's OOM killer, or a kill from
// outside. Only the engine's OOM flag tells the OOM killer from the others.
const exitKilled = 128 + 9

// execution is what one exec on a box showed: the input of classify.
type execution struct {
	frame   frame   // the runner's answer, when outcome is answered
	outcome outcome // answered, timedOut or broken
	err     error   // why the box broke; nil when the runner exited without a word
	// What the engine said of the container, when Run asked it (see Sandbox.observe): the exit
	// code of a broken box's container, and whether the kernel's OOM killer struck in it.
	exitCode int
	oom      bool
	// The runner's own stderr (its crash report), for a broken box.
	runnerStderr          string
	runnerStderrTruncated bool
}

// verdict is what becomes of a box after its run.
type verdict struct {
	reuse bool // the box may serve the next run of its key, if the pool takes it
	kill  bool // the box's container is killed before removal: something may still run in it
}

// classify turns an execution under the limits l into the run's Result (all but its timings and
// ColdStart) and the box's verdict:
//   - a frame from a forked run whose process died (or was OOM-killed): failed with the frame's
//     error, or OutOfMemory; the exit code is the process's; the container is killed;
//   - any other frame: the function's value or exception (see fill); the box may serve again
//     unless the run left processes behind, which are killed with the container;
//   - a timeout: Timeout, exit code exitKilled; killed;
//   - a broken box: OutOfMemory, ResultTooLarge (a line over the frame limit), ProtocolError, or
//     ProcessExited with the runner's stderr; the exit code is the container's; killed.
//
// Whoever made the error (the function, a forged frame, the engine), its texts are cut to their
// caps (see capError).
func classify(e execution, l Limits) (Result, verdict) {
	res, v := judge(e, l)
	res.Error = capError(res.Error)
	return res, v
}

// judge is classify without the caps.
func judge(e execution, l Limits) (Result, verdict) {
	var res Result
	switch e.outcome {
	case answered:
		fill(&res, e.frame, l)
		if !forkedRunDied(e.frame) {
			return res, verdict{reuse: e.frame.Stray == 0, kill: e.frame.Stray > 0}
		}
		res.ExitCode, res.OOMKilled = e.frame.ExitCode, e.frame.OOM || e.oom
		if res.OOMKilled {
			res.Error = outOfMemoryError(l)
		}
		return res, verdict{kill: true}
	case timedOut:
		res.Outcome, res.ExitCode = Timeout, exitKilled
		res.Error = &FuncError{Type: ErrTypeTimeout, Message: fmt.Sprintf("the function ran longer than %s and was killed", l.Timeout)}
		return res, verdict{kill: true}
	}
	res.Outcome, res.ExitCode, res.OOMKilled = Failed, e.exitCode, e.oom
	switch {
	case e.oom:
		res.Error = outOfMemoryError(l)
	case errors.Is(e.err, errLineTooLong):
		res.Error = &FuncError{Type: ErrTypeResultTooLarge, Message: fmt.Sprintf("the function's answer exceeds the size limits: "+
			"its result, output, error and traceback together made a frame over %d bytes; the run was stopped", frameLimit(l))}
	case e.err != nil:
		res.Error = &FuncError{Type: ErrTypeProtocol, Message: "the runner's result could not be read: " + e.err.Error()}
	default:
		res.Error = &FuncError{Type: ErrTypeProcessExit,
			Message: fmt.Sprintf("the function's process exited with code %d before returning a result", e.exitCode)}
		res.Stderr, res.StderrTruncated = e.runnerStderr, e.runnerStderrTruncated
	}
	return res, verdict{kill: true}
}

// forkedRunDied reports whether a frame says that a forked run's process died without a frame of
// its own: the runner survived it, but the container is done with.
func forkedRunDied(f frame) bool {
	return f.Error != nil && (f.Error.Type == ErrTypeProcessExit || f.OOM)
}

// outOfMemoryError is the error of a run the OOM killer ended.
func outOfMemoryError(l Limits) *FuncError {
	return &FuncError{Type: ErrTypeOutOfMemory,
		Message: fmt.Sprintf("the function exceeded its memory limit of %d MB and was killed", l.MemoryBytes>>20)}
}

// fill copies a frame into the result, enforcing the size limits again: the runner that applied
// them shares its process with the function, which may have forged its frame.
func fill(res *Result, f frame, l Limits) {
	res.Outcome = Completed
	switch {
	case !f.OK:
		res.Outcome, res.Error = Failed, f.Error
	case l.ResultBytes > 0 && len(f.Result) > l.ResultBytes:
		res.Outcome = Failed
		res.Error = &FuncError{Type: ErrTypeResultTooLarge,
			Message: fmt.Sprintf("the return value is %d bytes; the limit is %d", len(f.Result), l.ResultBytes)}
	default:
		res.Value = json.RawMessage(f.Result)
	}
	res.Stdout, res.StdoutTruncated = capText(f.Stdout, f.StdoutTruncated, l.OutputBytes)
	res.Stderr, res.StderrTruncated = capText(f.Stderr, f.StderrTruncated, l.OutputBytes)
}

// capText cuts s to limit bytes (when limit > 0) at a character boundary, flagging the cut.
func capText(s string, truncated bool, limit int) (string, bool) {
	if limit <= 0 {
		return s, truncated
	}
	s, cut := cutHead(s, limit)
	return s, truncated || cut
}

// Caps of a run's error, in bytes, whoever made it: the function (its exception), a forged
// frame or the engine. They are the runner's own caps (it cuts and flags first, so that a huge
// exception never makes a huge frame); the sandbox applies them again, as it trusts no frame.
const (
	MaxErrorTypeBytes    = 256
	MaxErrorMessageBytes = 64 << 10
	MaxTracebackBytes    = 64 << 10
)

// capError returns a copy of err whose texts are within their caps; nil stays nil. The message
// keeps its head, the traceback its head and its tail (the innermost frames and the exception
// line) around a line saying how much was cut; each cut is flagged (MessageTruncated,
// TracebackTruncated), and a flag the runner set stays set. A type name is cut silently.
func capError(err *FuncError) *FuncError {
	if err == nil {
		return nil
	}
	c := *err
	var cut bool
	c.Type, _ = cutHead(c.Type, MaxErrorTypeBytes)
	c.Message, cut = cutHead(c.Message, MaxErrorMessageBytes)
	c.MessageTruncated = c.MessageTruncated || cut
	c.Traceback, cut = cutMiddle(c.Traceback, MaxTracebackBytes)
	c.TracebackTruncated = c.TracebackTruncated || cut
	return &c
}

// cutHead returns the longest head of s within limit bytes that ends at a character boundary,
// and whether it cut anything.
func cutHead(s string, limit int) (string, bool) {
	if len(s) <= limit {
		return s, false
	}
	i := max(limit, 0)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i], true
}

// cutTail returns the longest tail of s within limit bytes that starts at a character boundary.
func cutTail(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	i := len(s) - max(limit, 0)
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return s[i:]
}

// cutMarkerRoom is the room kept for cutMiddle's marker line.
const cutMarkerRoom = 64

// cutMiddle returns s within limit bytes (limit > cutMarkerRoom): when it is longer, its head
// and its tail joined by a marker line naming how many bytes were left out; and whether it cut.
func cutMiddle(s string, limit int) (string, bool) {
	if len(s) <= limit {
		return s, false
	}
	room := limit - cutMarkerRoom
	head, _ := cutHead(s, room/2)
	tail := cutTail(s, room-len(head))
	return head + fmt.Sprintf("\n[... %d bytes cut ...]\n", len(s)-len(head)-len(tail)) + tail, true
}

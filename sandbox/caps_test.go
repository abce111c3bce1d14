package sandbox

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestCapError: every text of a run's error is cut to its cap at a character boundary, the cut
// flagged; a message keeps its head, a traceback its head and its tail; the runner's flags stay.
func TestCapError(t *testing.T) {
	long := func(s string, n int) string { return strings.Repeat(s, n) }
	tb := "Traceback (most recent call last):\n" + long("  File \"main.py\", line 2, in f\n", 10_000) + "ValueError: boom\n"
	tests := []struct {
		name               string
		in                 *FuncError
		typ                string // the type wanted, when not in's
		msgLen, tbLen      int    // the lengths wanted
		msgCut, tbCut      bool
		msgPrefix, tbEnds  string
		tbHasMarker, keeps bool
	}{
		{name: "nil"},
		{name: "short texts untouched", in: &FuncError{Type: "KeyError", Message: "'a'", Traceback: "Traceback\n"},
			msgLen: 3, tbLen: 10, keeps: true},
		{name: "message at its cap untouched", in: &FuncError{Type: "E", Message: long("m", MaxErrorMessageBytes)},
			msgLen: MaxErrorMessageBytes, keeps: true},
		{name: "huge message keeps its head", in: &FuncError{Type: "ValueError", Message: long("E", 10_000_000)},
			msgLen: MaxErrorMessageBytes, msgCut: true, msgPrefix: "EEEE"},
		{name: "multi-byte message cut at a character boundary", in: &FuncError{Type: "E", Message: "x" + long("é", MaxErrorMessageBytes)},
			msgLen: MaxErrorMessageBytes - 1, msgCut: true, msgPrefix: "xé"},
		{name: "deep traceback keeps both ends", in: &FuncError{Type: "ValueError", Message: "boom", Traceback: tb},
			msgLen: 4, tbLen: -1, tbCut: true, tbEnds: "ValueError: boom\n", tbHasMarker: true},
		{name: "runner's flags stay", in: &FuncError{Type: "E", Message: "m\n... [truncated] ...\n", MessageTruncated: true,
			Traceback: "t", TracebackTruncated: true}, msgLen: 22, tbLen: 1, msgCut: true, tbCut: true},
		{name: "huge type name cut silently", in: &FuncError{Type: long("T", 1<<20), Message: "m"},
			typ: long("T", MaxErrorTypeBytes), msgLen: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := capError(tt.in)
			if tt.in == nil {
				if got != nil {
					t.Fatalf("capError(nil) = %+v", got)
				}
				return
			}
			if got == tt.in {
				t.Error("capError changed its argument in place")
			}
			typ := tt.typ
			if typ == "" {
				typ = tt.in.Type
			}
			if got.Type != typ || got.MessageTruncated != tt.msgCut || got.TracebackTruncated != tt.tbCut {
				t.Errorf("type %.20q flags %v/%v, want %.20q %v/%v", got.Type, got.MessageTruncated, got.TracebackTruncated, typ, tt.msgCut, tt.tbCut)
			}
			if len(got.Message) != tt.msgLen || !strings.HasPrefix(got.Message, tt.msgPrefix) || !utf8.ValidString(got.Message) {
				t.Errorf("message of %d bytes (%.20q), want %d starting %q, valid UTF-8", len(got.Message), got.Message, tt.msgLen, tt.msgPrefix)
			}
			if tt.tbLen >= 0 && len(got.Traceback) != tt.tbLen {
				t.Errorf("traceback of %d bytes, want %d", len(got.Traceback), tt.tbLen)
			}
			if len(got.Traceback) > MaxTracebackBytes || !strings.HasSuffix(got.Traceback, tt.tbEnds) ||
				strings.Contains(got.Traceback, "bytes cut ...]") != tt.tbHasMarker {
				t.Errorf("traceback of %d bytes ends %q, want at most %d ending %q (marker %v)",
					len(got.Traceback), got.Traceback[max(0, len(got.Traceback)-40):], MaxTracebackBytes, tt.tbEnds, tt.tbHasMarker)
			}
			if tt.tbHasMarker && !strings.HasPrefix(got.Traceback, "Traceback (most recent call last):\n") {
				t.Errorf("traceback lost its head: %.60q", got.Traceback)
			}
			if tt.keeps && *got != *tt.in {
				t.Errorf("capError = %+v, want %+v unchanged", got, tt.in)
			}
		})
	}
}

func TestCutMiddleMarker(t *testing.T) {
	s := strings.Repeat("a", 500) + strings.Repeat("b", 500)
	got, cut := cutMiddle(s, 200)
	if !cut || len(got) > 200 || !strings.HasPrefix(got, "aaa") || !strings.HasSuffix(got, "bbb") {
		t.Fatalf("cutMiddle = %q, %v", got, cut)
	}
	head, tail := len(got)-len(strings.TrimLeft(got, "a")), len(got)-len(strings.TrimRight(got, "b"))
	if want := "[... " + strconv.Itoa(1000-head-tail) + " bytes cut ...]"; !strings.Contains(got, want) {
		t.Errorf("cutMiddle = %q, want it to hold %q", got, want)
	}
}

// TestClassifyCapsEveryError: whoever made the error — a frame (the function's exception, or a
// forged one), or the engine (a protocol error naming what broke) — classify's result is within
// the caps, flagged.
func TestClassifyCapsEveryError(t *testing.T) {
	l := Limits{MemoryBytes: 128 << 20, Timeout: 5 * time.Second, OutputBytes: 8, ResultBytes: 16}
	huge := strings.Repeat("E", 10_000_000)
	tests := []struct {
		name string
		e    execution
	}{
		{name: "function exception", e: execution{outcome: answered, frame: frame{Error: &FuncError{Type: "ValueError", Message: huge, Traceback: huge}}}},
		{name: "forked process died, forged frame", e: execution{outcome: answered,
			frame: frame{Error: &FuncError{Type: ErrTypeProcessExit, Message: huge}, ExitCode: 1}}},
		{name: "engine-made protocol error", e: execution{outcome: broken, err: errors.New(huge), exitCode: exitKilled}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := classify(tt.e, l)
			if res.Error == nil || len(res.Error.Message) > MaxErrorMessageBytes || len(res.Error.Traceback) > MaxTracebackBytes {
				t.Fatalf("error of %d/%d bytes, want within %d/%d", len(res.Error.Message), len(res.Error.Traceback), MaxErrorMessageBytes, MaxTracebackBytes)
			}
			if !res.Error.MessageTruncated {
				t.Error("the cut message is not flagged")
			}
		})
	}
}

package sandbox

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestParseFrame(t *testing.T) {
	okFrame := `{"ok": true, "result": "{\"x\": 1}", "stdout": "hi\n", "stderr": "", "stdout_truncated": false, "stderr_truncated": true, "stray": 0}`
	errFrame := `{"ok": false, "error": {"type": "ValueError", "message": "boom", "traceback": "Traceback…"}, "stdout": "", "stderr": "warn\n", "stray": 2}`
	tests := []struct {
		name    string
		line    string
		want    frame
		errText string // part of the error, when one is expected
	}{
		{name: "ok frame", line: okFrame,
			want: frame{OK: true, Result: `{"x": 1}`, Stdout: "hi\n", StderrTruncated: true}},
		{name: "ok frame with its newline", line: okFrame + "\n",
			want: frame{OK: true, Result: `{"x": 1}`, Stdout: "hi\n", StderrTruncated: true}},
		{name: "error frame with strays", line: errFrame,
			want: frame{Error: &FuncError{Type: "ValueError", Message: "boom", Traceback: "Traceback…"}, Stderr: "warn\n", Stray: 2}},
		{name: "ready line", line: `{"ready": true, "pid": 7}`, want: frame{Ready: true}},
		{name: "scalar result", line: `{"ok": true, "result": "null"}`, want: frame{OK: true, Result: "null"}},
		{name: "forked process died", line: `{"ok": false, "error": {"type": "ProcessExited", "message": "killed by signal 9"}}`,
			want: frame{Error: &FuncError{Type: "ProcessExited", Message: "killed by signal 9"}}},
		{name: "empty line", line: "", errText: "decode result frame"},
		{name: "garbage", line: "Segmentation fault", errText: "decode result frame"},
		{name: "two documents on one line", line: okFrame + " " + okFrame, errText: "decode result frame"},
		{name: "not an object", line: `[1, 2]`, errText: "decode result frame"},
		{name: "invalid result JSON", line: `{"ok": true, "result": "{not json"}`, errText: "invalid JSON"},
		{name: "empty result", line: `{"ok": true, "result": ""}`, errText: "invalid JSON"},
		{name: "neither result nor error", line: `{"ok": false}`, errText: "neither result nor error"},
		{name: "some other object", line: `{"not": "the frame"}`, errText: "neither result nor error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFrame([]byte(tt.line))
			if tt.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("parseFrame = %+v, %v; want an error containing %q", got, err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFrame: %v", err)
			}
			if got.Ready != tt.want.Ready || got.OK != tt.want.OK || got.Result != tt.want.Result ||
				got.Stdout != tt.want.Stdout || got.Stderr != tt.want.Stderr ||
				got.StdoutTruncated != tt.want.StdoutTruncated || got.StderrTruncated != tt.want.StderrTruncated ||
				got.Stray != tt.want.Stray {
				t.Errorf("frame = %+v, want %+v", got, tt.want)
			}
			if (got.Error == nil) != (tt.want.Error == nil) || (got.Error != nil && *got.Error != *tt.want.Error) {
				t.Errorf("error = %+v, want %+v", got.Error, tt.want.Error)
			}
		})
	}
}

func TestReadLine(t *testing.T) {
	const limit = 40 // over the reader's 16-byte buffer: long lines come in several chunks
	tests := []struct {
		name    string
		in      string
		want    []string // the lines read, in order
		wantErr error    // what ends the reading
	}{
		{name: "lines", in: "a\nbc\n", want: []string{"a", "bc"}, wantErr: io.EOF},
		{name: "empty lines are lines", in: "\n\nx\n", want: []string{"", "", "x"}, wantErr: io.EOF},
		{name: "nothing", in: "", wantErr: io.EOF},
		{name: "line longer than the buffer", in: strings.Repeat("y", 35) + "\nz\n",
			want: []string{strings.Repeat("y", 35), "z"}, wantErr: io.EOF},
		{name: "exactly the limit", in: strings.Repeat("y", limit) + "\n", want: []string{strings.Repeat("y", limit)}, wantErr: io.EOF},
		{name: "one byte over the limit", in: strings.Repeat("y", limit+1) + "\nz\n", wantErr: errLineTooLong},
		{name: "far over the limit", in: strings.Repeat("y", 10*limit) + "\n", wantErr: errLineTooLong},
		{name: "over the limit after good lines", in: "a\n" + strings.Repeat("y", 2*limit) + "\n",
			want: []string{"a"}, wantErr: errLineTooLong},
		// A frame cut short means the runner died while writing it: no partial line is returned.
		{name: "unterminated last line", in: "a\n{\"ok\": tr", want: []string{"a"}, wantErr: io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bufio.NewReaderSize(strings.NewReader(tt.in), 16)
			var got []string
			var err error
			for {
				var line []byte
				if line, err = readLine(r, limit); err != nil {
					break
				}
				got = append(got, string(line))
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("reading ended with %v, want %v", err, tt.wantErr)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Errorf("lines = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFrameLimit(t *testing.T) {
	l := Limits{OutputBytes: 1 << 10, ResultBytes: 4 << 10}
	// JSON escapes a byte to at most six characters (\u0001, or \ufffd for invalid UTF-8): the
	// limit must hold every capped field escaped in full.
	if got, floor := frameLimit(l), 6*(2*l.OutputBytes+l.ResultBytes); got < floor {
		t.Errorf("frameLimit = %d, want at least %d", got, floor)
	}
	if frameLimit(Limits{}) <= 0 {
		t.Error("zero limits give no room for a ready line")
	}
}

func TestCappedBuffer(t *testing.T) {
	tests := []struct {
		name          string
		limit         int
		writes        []string
		want          string
		wantTruncated bool
	}{
		{name: "under the limit", limit: 5, writes: []string{"abc"}, want: "abc"},
		{name: "exactly the limit in one write", limit: 5, writes: []string{"abcde"}, want: "abcde"},
		{name: "exactly the limit in two writes", limit: 5, writes: []string{"abc", "de"}, want: "abcde"},
		{name: "one byte over", limit: 5, writes: []string{"abcdef"}, want: "abcde", wantTruncated: true},
		{name: "write after the limit", limit: 5, writes: []string{"abcde", "f"}, want: "abcde", wantTruncated: true},
		{name: "write across the limit", limit: 5, writes: []string{"abc", "defg", "h"}, want: "abcde", wantTruncated: true},
		{name: "empty write at the limit", limit: 3, writes: []string{"abc", ""}, want: "abc"},
		{name: "zero limit", limit: 0, writes: []string{"a"}, want: "", wantTruncated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &cappedBuffer{limit: tt.limit}
			for _, w := range tt.writes {
				n, err := c.Write([]byte(w))
				if n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil (the copier must not stop)", w, n, err, len(w))
				}
			}
			if c.String() != tt.want || c.truncated != tt.wantTruncated {
				t.Errorf("buffer %q truncated=%v, want %q truncated=%v", c.String(), c.truncated, tt.want, tt.wantTruncated)
			}
		})
	}
}

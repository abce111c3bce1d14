package sandbox

import (
	"errors"
	"strings"
	"testing"
)

func TestParseFrame(t *testing.T) {
	okFrame := `{"ok": true, "result": "{\"x\": 1}", "stdout": "hi\n", "stderr": "", "stdout_truncated": false, "stderr_truncated": true}`
	errFrame := `{"ok": false, "error": {"type": "ValueError", "message": "boom", "traceback": "Traceback…"}, "stdout": "", "stderr": "warn\n"}`
	tests := []struct {
		name    string
		out     string
		want    frame
		wantErr error  // errors.Is target
		errText string // part of the error otherwise
	}{
		{name: "ok frame", out: okFrame + "\n",
			want: frame{OK: true, Result: `{"x": 1}`, Stdout: "hi\n", StderrTruncated: true}},
		{name: "ok frame without newline", out: okFrame,
			want: frame{OK: true, Result: `{"x": 1}`, Stdout: "hi\n", StderrTruncated: true}},
		{name: "error frame", out: errFrame + "\n",
			want: frame{Error: &FuncError{Type: "ValueError", Message: "boom", Traceback: "Traceback…"}, Stderr: "warn\n"}},
		{name: "garbage before the frame line", out: "Python 3 warning\n{\"not\": \"the frame\"}\n" + okFrame + "\n\n",
			want: frame{OK: true, Result: `{"x": 1}`, Stdout: "hi\n", StderrTruncated: true}},
		{name: "scalar result", out: `{"ok": true, "result": "null"}`, want: frame{OK: true, Result: "null"}},
		{name: "empty", out: "", wantErr: errNoFrame},
		{name: "only newlines", out: "\n\n\n", wantErr: errNoFrame},
		{name: "garbage only", out: "Segmentation fault\n", errText: "decode result frame"},
		{name: "garbage after the frame", out: okFrame + "\ntrailing text\n", errText: "decode result frame"},
		{name: "invalid result JSON", out: `{"ok": true, "result": "{not json"}`, errText: "invalid JSON"},
		{name: "empty result", out: `{"ok": true, "result": ""}`, errText: "invalid JSON"},
		{name: "neither result nor error", out: `{"ok": false}`, errText: "neither result nor error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFrame([]byte(tt.out))
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("parseFrame = %v, want %v", err, tt.wantErr)
				}
				return
			case tt.errText != "":
				if err == nil || !strings.Contains(err.Error(), tt.errText) || errors.Is(err, errNoFrame) {
					t.Fatalf("parseFrame = %+v, %v; want an error containing %q", got, err, tt.errText)
				}
				return
			case err != nil:
				t.Fatalf("parseFrame: %v", err)
			}
			if got.OK != tt.want.OK || got.Result != tt.want.Result || got.Stdout != tt.want.Stdout ||
				got.Stderr != tt.want.Stderr || got.StdoutTruncated != tt.want.StdoutTruncated ||
				got.StderrTruncated != tt.want.StderrTruncated {
				t.Errorf("frame = %+v, want %+v", got, tt.want)
			}
			if (got.Error == nil) != (tt.want.Error == nil) || (got.Error != nil && *got.Error != *tt.want.Error) {
				t.Errorf("error = %+v, want %+v", got.Error, tt.want.Error)
			}
		})
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

package sandbox

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// outLine is a live output line of the runner.
func outLine(stream, data string) string {
	b, _ := json.Marshal(map[string]string{"out": stream, "data": data})
	return string(b) + "\n"
}

// pieces records what Request.Output was given.
type pieces struct {
	mu  sync.Mutex
	got []string // "stream:data"
}

func (p *pieces) output(stream, data string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, stream+":"+data)
}

func (p *pieces) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.got...)
}

// TestRunLiveOutput: the live output lines that come before a run's frame go to Request.Output in
// order, each stream within the output limit in all (cut at a character boundary), and the run
// answers as usual; the request asks the runner for them only when Output is set.
func TestRunLiveOutput(t *testing.T) {
	long := strings.Repeat("a", testLimits.OutputBytes-2) // leaves 2 bytes: "é" (2) fits, "€" (3) does not
	tests := []struct {
		name   string
		lines  string
		output bool
		want   []string
	}{
		{name: "pieces in order", output: true,
			lines: outLine("stdout", "one\n") + outLine("stderr", "warn\n") + outLine("stdout", "two\n"),
			want:  []string{"stdout:one\n", "stderr:warn\n", "stdout:two\n"}},
		{name: "cut at the limit of each stream", output: true,
			lines: outLine("stdout", long) + outLine("stdout", "é€") + outLine("stdout", "more") + outLine("stderr", "e"),
			want:  []string{"stdout:" + long, "stdout:é", "stderr:e"}},
		{name: "no sink: lines dropped, not asked for", lines: outLine("stdout", "unasked\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fd := newFake(t, process{replies: []reply{{stdout: tt.lines + okLine}}})
			s := mustNew(t, fd)
			req := testRequest(keyA)
			var got pieces
			if tt.output {
				req.Output = got.output
			}
			res, err := s.Run(context.Background(), req)
			if err != nil || res.Outcome != Completed || string(res.Value) != `{"x": 1}` || res.Stdout != "hi\n" {
				t.Fatalf("Run = %+v, %v; want the frame's answer", res, err)
			}
			if g := got.list(); strings.Join(g, "|") != strings.Join(tt.want, "|") {
				t.Errorf("Output got %q, want %q", g, tt.want)
			}
			var in input
			if err := json.Unmarshal(fd.requests("ctr1")[0], &in); err != nil || in.Live != tt.output {
				t.Errorf("request live = %v (%v), want %v", in.Live, err, tt.output)
			}
			if idle, _ := s.Idle(keyA); idle != 1 {
				t.Errorf("idle = %d, want the container kept", idle)
			}
		})
	}
}

// TestRunLiveOutputUnknownStream: a live output line naming another stream breaks the protocol.
func TestRunLiveOutputUnknownStream(t *testing.T) {
	fd := newFake(t, process{replies: []reply{{stdout: outLine("stdin", "x") + okLine}}})
	s := mustNew(t, fd)
	req := testRequest(keyA)
	var got pieces
	req.Output = got.output
	res, err := s.Run(context.Background(), req)
	if err != nil || res.Outcome != Failed || res.Error == nil || res.Error.Type != ErrTypeProtocol {
		t.Fatalf("Run = %+v, %v; want a protocol error", res, err)
	}
	if g := got.list(); len(g) != 0 {
		t.Errorf("Output got %q, want nothing", g)
	}
}

// TestLiveOutputPerRun: each run's limit counts afresh: a second run on the same warm container
// passes its own pieces.
func TestLiveOutputPerRun(t *testing.T) {
	full := strings.Repeat("b", testLimits.OutputBytes)
	fd := newFake(t, process{replies: []reply{{stdout: outLine("stdout", full) + okLine}}})
	s := mustNew(t, fd)
	for i := range 2 {
		req := testRequest(keyA)
		var got pieces
		req.Output = got.output
		if res, err := s.Run(context.Background(), req); err != nil || res.Outcome != Completed {
			t.Fatalf("run %d = %+v, %v", i, res, err)
		}
		if g := got.list(); len(g) != 1 || g[0] != "stdout:"+full {
			t.Errorf("run %d: Output got %d pieces, want the whole line", i, len(g))
		}
	}
	if n := fd.count("create"); n != 1 {
		t.Errorf("%d containers for two runs, want one", n)
	}
}

package daemon

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot/sandbox"
)

// TestRunLiveLog: what the sandbox hands Request.Output during a run reaches the execution's live
// log before its terminal record, and the log is marked ended after the record; an execution
// that ends younger than endLogAfter, and that printed nothing live, costs no log call at all.
func TestRunLiveLog(t *testing.T) {
	tests := []struct {
		name   string
		age    time.Duration // of the execution when it ends
		pieces []string      // "stream:data" handed to Output during the run
		ended  bool
	}{
		{name: "long run with output", age: 2 * time.Second, pieces: []string{"stdout:a\n", "stderr:w\n", "stdout:b\n"}, ended: true},
		{name: "long run without output", age: 2 * time.Second, ended: true},
		{name: "short run", age: endLogAfter / 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			withRun(tw)
			e := tw.store.execs["e1"]
			e.CreatedAt = tw.clock.Now().Add(-tt.age)
			tw.store.execs["e1"] = e
			tw.runner.results = append(tw.runner.results, func(_ context.Context, req sandbox.Request) (sandbox.Result, error) {
				if req.Output == nil {
					t.Error("the run's request has no Output")
					return sandbox.Result{}, nil
				}
				for _, p := range tt.pieces {
					stream, data, _ := cutPiece(p)
					req.Output(stream, data)
				}
				return sandbox.Result{Outcome: sandbox.Completed, Value: json.RawMessage(`1`)}, nil
			})
			if err := tw.run(t.Context(), runJob("e1")); err != nil {
				t.Fatalf("run = %v", err)
			}
			onlyRecord(t, tw)
			tw.store.mu.Lock()
			logged, ended := tw.store.logged, tw.store.ended
			tw.store.mu.Unlock()
			var got []string
			offsets := map[string]int{}
			for _, p := range logged {
				if p.Offset != offsets[p.Stream] {
					t.Errorf("piece %+v at offset %d, want %d", p, p.Offset, offsets[p.Stream])
				}
				offsets[p.Stream] += len(p.Data)
				got = append(got, p.Stream+":"+p.Data)
			}
			if !sameStreams(got, tt.pieces) {
				t.Errorf("logged %q, want %q", got, tt.pieces)
			}
			if len(tt.pieces) > 0 && tw.calls.index("store.AppendLog") > tw.calls.index("store.FinishRun") {
				t.Errorf("a piece was appended after the terminal record: %s", tw.calls)
			}
			if (len(ended) == 1) != tt.ended || (tt.ended && tw.calls.index("store.EndLog") < tw.calls.index("store.FinishRun")) {
				t.Errorf("ended %q, want %v after the record (calls %s)", ended, tt.ended, tw.calls)
			}
		})
	}
}

// cutPiece splits "stream:data".
func cutPiece(p string) (stream, data string, ok bool) { return strings.Cut(p, ":") }

// sameStreams reports whether got and want hold the same text per stream (the writer may merge
// pieces of a stream, never reorder them).
func sameStreams(got, want []string) bool {
	join := func(ps []string) map[string]string {
		m := map[string]string{}
		for _, p := range ps {
			s, d, _ := cutPiece(p)
			m[s] += d
		}
		return m
	}
	g, w := join(got), join(want)
	if len(g) != len(w) {
		return false
	}
	for k, v := range w {
		if g[k] != v {
			return false
		}
	}
	return true
}

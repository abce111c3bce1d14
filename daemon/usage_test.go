package daemon

import (
	"math"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/sandbox"
)

// TestUsageOverAttempts: a retried run's record carries, when it ends, the time, CPU time and
// GB-seconds (its memory limit × its time) of every attempt, summed: what the store counts once.
func TestUsageOverAttempts(t *testing.T) {
	tw := newTestWorkers(t)
	withRun(tw)
	d := tw.store.deps["fn"]
	d.Retry = &faaspot.RetryPolicy{MaxAttempts: 2, BackoffS: 1}
	tw.store.deps["fn"] = d
	for _, took := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond} {
		tw.runner.results = append(tw.runner.results, result(sandbox.Result{Outcome: sandbox.Failed, Duration: took,
			CPU: took / 4, Error: &sandbox.FuncError{Type: "ValueError", Message: "bad"}}))
	}
	for range 2 {
		if err := tw.run(t.Context(), runJob("e1")); err != nil {
			t.Fatal(err)
		}
	}
	_, _, finished := tw.store.snapshot()
	if len(finished) != 1 || len(tw.store.retries) != 1 || finished[0].Usage == nil {
		t.Fatalf("records %+v, retries %d; want one retry, then one terminal record with its usage", finished, len(tw.store.retries))
	}
	mem := tw.runner.runs[1].Limits.MemoryBytes
	e := finished[0]
	gbs := float64(mem) / (1 << 30) * 0.3
	if e.Attempts != 2 || e.CPUMS != 50 || e.Usage.WallMS != 300 || e.Usage.CPUMS != 75 || math.Abs(e.Usage.GBSeconds-gbs) > 1e-12 || mem <= 0 {
		t.Errorf("attempts %d, cpu_ms %v, usage %+v; want 2 attempts, the last's 50 ms CPU, 300 ms, 75 ms and %v GB-s (%d bytes)",
			e.Attempts, e.CPUMS, *e.Usage, gbs, mem)
	}
}

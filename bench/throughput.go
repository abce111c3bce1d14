package bench

import (
	"context"
	"fmt"
	"time"
)

// throughputResult is warm sync runs with a number of concurrent closed-loop clients.
type throughputResult struct {
	Mode       string  `json:"mode"`
	Clients    int     `json:"clients"`
	DurationS  float64 `json:"duration_s"`
	Runs       int     `json:"runs"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	RunsPerS   float64 `json:"runs_per_s"`
	LatencyMS  summary `json:"latency_ms"`
}

// benchThroughput measures each client count for duration (at most limit runs), after an
// unmeasured warm-up at the same concurrency that fills the pool: warm runs are what is measured,
// so the warm-up goes on (a second at a time, 10 s at most) until the node holds as many
// containers as runs can go at once.
func (e *benchEnv) benchThroughput(ctx context.Context, n *node, deployment string, clients []int, duration time.Duration, limit int64) ([]throughputResult, error) {
	run := func(ctx context.Context) (reply, error) { return n.syncRun(ctx, deployment) }
	var out []throughputResult
	for _, c := range clients {
		want := min(c, n.cfg.Workers, max(1, n.cfg.MaxConcurrentRuns))
		for range 10 {
			if w := closedLoop(ctx, c, time.Second, limit, run); w.ok == 0 && w.first != nil {
				return out, w.first
			}
			if cs, err := e.sandboxes(ctx, n.cfg.NodeID, false); err != nil || len(cs) >= want {
				break
			}
		}
		stop := e.profile(fmt.Sprintf("throughput-%s-%d", n.cfg.WarmMode, c))
		o := closedLoop(ctx, c, duration, limit, run)
		stop()
		out = append(out, throughputResult{Mode: string(n.cfg.WarmMode), Clients: c, DurationS: o.elapsed.Seconds(), Runs: o.ok, Errors: o.errors,
			FirstError: errString(o.first), RunsPerS: float64(o.ok) / o.elapsed.Seconds(), LatencyMS: summarize(o.lat)})
	}
	return out, nil
}

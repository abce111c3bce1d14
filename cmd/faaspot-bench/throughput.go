package main

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
// unmeasured warm-up second at the same concurrency that fills the pool.
func (e *benchEnv) benchThroughput(ctx context.Context, n *node, deployment string, clients []int, duration time.Duration, limit int64) ([]throughputResult, error) {
	run := func(ctx context.Context) (reply, error) { return n.syncRun(ctx, deployment) }
	var out []throughputResult
	for _, c := range clients {
		if w := closedLoop(ctx, c, time.Second, limit, run); w.ok == 0 && w.first != nil {
			return out, w.first
		}
		stop := profile(fmt.Sprintf("throughput-%s-%d", n.cfg.WarmMode, c))
		o := closedLoop(ctx, c, duration, limit, run)
		stop()
		out = append(out, throughputResult{Mode: n.cfg.WarmMode, Clients: c, DurationS: o.elapsed.Seconds(), Runs: o.ok, Errors: o.errors,
			FirstError: errString(o.first), RunsPerS: float64(o.ok) / o.elapsed.Seconds(), LatencyMS: summarize(o.lat)})
	}
	return out, nil
}

package bench

import (
	"context"
	"time"
)

// asyncResult is how fast the API accepts async runs (202 answers). On a node of role "all" its
// workers run the accepted runs at the same time, as they would in production; on a node of role
// "api" nothing runs them (the API and Redis alone).
type asyncResult struct {
	Role       string  `json:"role"`
	Clients    int     `json:"clients"`
	DurationS  float64 `json:"duration_s"`
	Accepted   int     `json:"accepted"`
	Refused    int     `json:"refused"`
	FirstError string  `json:"first_error,omitempty"`
	PerS       float64 `json:"accepts_per_s"`
	LatencyMS  summary `json:"latency_ms"`
}

func (e *benchEnv) benchAsync(ctx context.Context, n *node, deployment string, clients int, duration time.Duration, limit int64) asyncResult {
	defer e.profile("async-" + n.name)()
	o := closedLoop(ctx, clients, duration, limit, func(ctx context.Context) (reply, error) { return n.asyncRun(ctx, deployment) })
	return asyncResult{Role: string(n.cfg.Role), Clients: clients, DurationS: o.elapsed.Seconds(), Accepted: o.ok, Refused: o.errors,
		FirstError: errString(o.first), PerS: float64(o.ok) / o.elapsed.Seconds(), LatencyMS: summarize(o.lat)}
}

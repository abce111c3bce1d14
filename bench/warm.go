package bench

import (
	"context"
	"time"
)

// warmResult is the latency of sequential warm sync runs over one keep-alive connection.
type warmResult struct {
	Mode      string  `json:"mode"`
	Warmup    int     `json:"warmup_runs"`
	LatencyMS summary `json:"latency_ms"`
	// The daemon's own records of the measured runs (read afterwards, untimed): queue wait,
	// acquiring the container, and the function's time (request line to frame).
	QueueMS    summary `json:"record_queue_ms"`
	AcquireMS  summary `json:"record_acquire_ms"`
	DurationMS summary `json:"record_duration_ms"`
	ColdStarts int     `json:"runs_recorded_cold"`
}

// warmRuns collects the runs of one mode over several blocks.
type warmRuns struct {
	n      *node
	warmup int
	lat    []time.Duration
	ids    []string
}

// block runs the hello deployment warmup times unmeasured, then runs times, one at a time.
func (w *warmRuns) block(ctx context.Context, deployment string, warmup, runs int) error {
	for range warmup {
		if _, err := w.n.syncRun(ctx, deployment); err != nil {
			return err
		}
	}
	w.warmup += warmup
	for range runs {
		r, err := w.n.syncRun(ctx, deployment)
		if err != nil {
			return err
		}
		w.ids, w.lat = append(w.ids, r.execID), append(w.lat, r.took)
	}
	return nil
}

func (w *warmRuns) result(ctx context.Context) warmResult {
	res := warmResult{Mode: string(w.n.cfg.WarmMode), Warmup: w.warmup, LatencyMS: summarize(w.lat)}
	var queue, acquire, dur []time.Duration
	for _, id := range w.ids {
		if rec, err := w.n.c.GetExecution(ctx, id); err == nil {
			if rec.ColdStart {
				res.ColdStarts++
			}
			queue, acquire, dur = append(queue, msDur(rec.QueueMS)), append(acquire, msDur(rec.AcquireMS)), append(dur, msDur(rec.DurationMS))
		}
	}
	res.QueueMS, res.AcquireMS, res.DurationMS = summarize(queue), summarize(acquire), summarize(dur)
	return res
}

// benchWarmModes measures the fork and the process daemon in alternating blocks, so that both
// modes see the same machine state.
func (e *benchEnv) benchWarmModes(ctx context.Context, fork, proc *node, deployment string, warmup, runs int) (warmModes, error) {
	const blocks = 10
	modes := []*warmRuns{{n: fork}, {n: proc}}
	for i := range blocks {
		per := runs / blocks
		if i < runs%blocks {
			per++
		}
		for _, m := range modes {
			wu := 0
			if i == 0 {
				wu = warmup
			}
			if err := m.block(ctx, deployment, wu, per); err != nil {
				return warmModes{}, err
			}
		}
	}
	return warmModes{Fork: modes[0].result(ctx), Process: modes[1].result(ctx)}, nil
}

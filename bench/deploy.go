package bench

import (
	"context"
	"time"
)

// deployResult holds the two deploy figures, measured in one loop: each sample is a code-only
// redeploy (requirements unchanged: none) with ?wait=true, then at once the first sync run.
type deployResult struct {
	Samples int `json:"samples"`
	// RedeployMS runs from sending the create request to its answer (built, recorded ready and
	// pre-warmed).
	RedeployMS summary `json:"code_only_redeploy_to_ready_ms"`
	// FirstRunMS runs from the create's answer to the first sync run's answer.
	FirstRunMS summary `json:"first_run_after_deploy_ms"`
	// FirstRunsCold counts first runs the daemon recorded as cold starts (not pre-warmed in time).
	FirstRunsCold int     `json:"first_runs_recorded_cold"`
	AcquireMS     summary `json:"first_run_record_acquire_ms"`
}

func (e *benchEnv) benchDeploys(ctx context.Context, n *node, samples int) (deployResult, error) {
	res := deployResult{Samples: samples}
	if _, _, err := n.deploy(ctx, "fresh", helloCode(0)); err != nil {
		return res, err
	}
	var redeploy, first, acquire []time.Duration
	for i := 1; i <= samples; i++ {
		_, took, err := n.deploy(ctx, "fresh", helloCode(i))
		if err != nil {
			return res, err
		}
		r, err := n.syncRun(ctx, "fresh")
		if err != nil {
			return res, err
		}
		redeploy, first = append(redeploy, took), append(first, r.took)
		if rec, err := n.c.GetExecution(ctx, r.execID); err == nil {
			if rec.ColdStart {
				res.FirstRunsCold++
			}
			acquire = append(acquire, msDur(rec.AcquireMS))
		}
	}
	res.RedeployMS, res.FirstRunMS, res.AcquireMS = summarize(redeploy), summarize(first), summarize(acquire)
	return res, nil
}

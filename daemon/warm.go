package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/sandbox"
)

// deploymentKey prefixes the pool keys of every version of a deployment.
func deploymentKey(tenantID, deploymentID string) string {
	return tenantID + "/" + deploymentID + "/"
}

// versionKey is the pool key of one deployment version: its containers serve it alone.
func versionKey(tenantID, deploymentID string, version int) string {
	return fmt.Sprintf("%s%d/", deploymentKey(tenantID, deploymentID), version)
}

// poolPolicy is how the containers of a deployment are kept: the operator's settings, lowered
// by the deployment's own (which can never exceed them).
func poolPolicy(cfg Config, w *faaspot.WarmPolicy) sandbox.PoolPolicy {
	if !cfg.Warm {
		return sandbox.PoolPolicy{}
	}
	p := sandbox.PoolPolicy{MaxIdle: cfg.WarmMaxIdle, MaxRuns: cfg.WarmMaxRuns, IdleTTL: cfg.WarmIdleTTL}
	if w == nil {
		return p
	}
	if w.MaxIdle != nil {
		p.MaxIdle = min(p.MaxIdle, *w.MaxIdle)
	}
	if w.MaxRuns > 0 && (p.MaxRuns == 0 || w.MaxRuns < p.MaxRuns) {
		p.MaxRuns = w.MaxRuns
	}
	if w.IdleTTLS > 0 && (p.IdleTTL == 0 || time.Duration(w.IdleTTLS)*time.Second < p.IdleTTL) {
		p.IdleTTL = time.Duration(w.IdleTTLS) * time.Second
	}
	return p
}

// prewarmCount is how many containers to start when a version becomes ready.
func prewarmCount(cfg Config, w *faaspot.WarmPolicy, pol sandbox.PoolPolicy) int {
	n := cfg.WarmPrewarm
	if w != nil && w.Prewarm != nil {
		n = *w.Prewarm
	}
	return min(n, pol.MaxIdle)
}

// runRequest is the sandbox request of a run of dep's ready version.
func (d *Daemon) runRequest(tid string, dep faaspot.Deployment, e faaspot.Execution, secrets []byte) sandbox.Request {
	return sandbox.Request{Image: dep.Image, TenantID: tid, ExecutionID: e.ID,
		Key:  versionKey(tid, dep.ID, dep.ReadyVersion),
		Args: e.Args, Context: secrets, Limits: runLimits(dep.Limits, d.cfg),
		Policy: poolPolicy(d.cfg, dep.Warm)}
}

// prewarm starts the pre-warmed containers of a version about to become ready, before its
// waiters are woken, so that the first run after a deploy is already warm. Containers join the
// pool once started; the function's import overlaps the deploy's answer.
func (d *Daemon) prewarm(ctx context.Context, tid string, dep faaspot.Deployment, version int, image string) {
	pol := poolPolicy(d.cfg, dep.Warm)
	n := prewarmCount(d.cfg, dep.Warm, pol)
	if n <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req := sandbox.Request{Image: image, TenantID: tid, Key: versionKey(tid, dep.ID, version),
		Limits: runLimits(dep.Limits, d.cfg), Policy: pol}
	if err := d.sandbox.Prewarm(ctx, req, n); err != nil {
		d.log.Warn("pre-warm", "deployment", dep.Name, "version", version, "err", err)
	}
}

// versionRecorded retires the containers of the version a build replaced, and those pre-warmed
// for a version that did not become the ready one.
func (d *Daemon) versionRecorded(tid string, before, after faaspot.Deployment, built int) {
	if before.ReadyVersion > 0 && before.ReadyVersion != after.ReadyVersion {
		d.sandbox.Retire(versionKey(tid, before.ID, before.ReadyVersion))
	}
	if built != after.ReadyVersion {
		d.sandbox.Retire(versionKey(tid, before.ID, built))
	}
}

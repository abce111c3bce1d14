package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/sandbox"
)

// prewarmTimeout bounds the start of a version's pre-warmed containers.
const prewarmTimeout = 30 * time.Second

// warmSettings are the operator's warm-container settings (see Config).
type warmSettings struct {
	enabled                   bool
	maxIdle, maxRuns, prewarm int
	idleTTL                   time.Duration
}

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
func poolPolicy(s warmSettings, w *faaspot.WarmPolicy) sandbox.PoolPolicy {
	if !s.enabled {
		return sandbox.PoolPolicy{}
	}
	p := sandbox.PoolPolicy{MaxIdle: s.maxIdle, MaxRuns: s.maxRuns, IdleTTL: s.idleTTL}
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
	p.Mode = sandbox.Mode(w.Isolation) // the deployment's choice, either way ("": the operator's)
	return p
}

// prewarmCount is how many containers to start when a version becomes ready.
func prewarmCount(s warmSettings, w *faaspot.WarmPolicy, pol sandbox.PoolPolicy) int {
	n := s.prewarm
	if w != nil && w.Prewarm != nil {
		n = *w.Prewarm
	}
	return min(n, pol.MaxIdle)
}

// runRequest is the sandbox request of a run of dep's ready version.
func (w *workers) runRequest(tid string, dep faaspot.Deployment, e faaspot.Execution, secrets []byte) sandbox.Request {
	return sandbox.Request{Image: dep.Image, TenantID: tid, ExecutionID: e.ID,
		Key:  versionKey(tid, dep.ID, dep.ReadyVersion),
		Args: e.Args, Context: secrets, Limits: w.set.limits.sandbox(dep.Limits),
		Policy: poolPolicy(w.set.warm, dep.Warm)}
}

// prewarm starts the pre-warmed containers of a version about to become ready, before its
// waiters are woken, so that the first run after a deploy is already warm. Containers join the
// pool once started; the function's import overlaps the deploy's answer. A failure is logged,
// not returned: the version's first run is cold instead.
func (w *workers) prewarm(ctx context.Context, tid string, dep faaspot.Deployment, version int, image string) {
	pol := poolPolicy(w.set.warm, dep.Warm)
	n := prewarmCount(w.set.warm, dep.Warm, pol)
	if n <= 0 || w.set.runWorkers == 0 {
		return // nothing to warm, or a build-only node: its engine runs nothing
	}
	ctx, cancel := context.WithTimeout(ctx, prewarmTimeout)
	defer cancel()
	req := sandbox.Request{Image: image, TenantID: tid, Key: versionKey(tid, dep.ID, version),
		Limits: w.set.limits.sandbox(dep.Limits), Policy: pol}
	if err := w.sandbox.Prewarm(ctx, req, n); err != nil {
		w.log.Warn("pre-warm", "deployment", dep.Name, "version", version, "err", err)
	}
}

// versionRecorded retires the containers of the version a build replaced, and those pre-warmed
// for a version that did not become the ready one.
func (w *workers) versionRecorded(tid string, before, after faaspot.Deployment, built int) {
	if before.ReadyVersion > 0 && before.ReadyVersion != after.ReadyVersion {
		w.sandbox.Retire(versionKey(tid, before.ID, before.ReadyVersion))
	}
	if built != after.ReadyVersion {
		w.sandbox.Retire(versionKey(tid, before.ID, built))
	}
}

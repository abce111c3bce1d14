package daemon

import (
	"context"
	"time"

	"github.com/faaspot/faaspot/imagebuilder"
)

// janitorLoop removes, at start and then every JanitorInterval, the images this node built for
// deployments that no longer exist: an image still used by a run when its deployment was deleted
// (the removal then fails), or built by a build that ended after the delete. It is a safety net
// on a slow clock, not on any run's path.
func (d *Daemon) janitorLoop(ctx context.Context) {
	t := time.NewTicker(d.cfg.JanitorInterval)
	defer t.Stop()
	for {
		if n, err := d.sweepImages(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("image janitor: pass failed", "err", err)
		} else if n > 0 {
			d.log.Info("image janitor: removed the images of deleted deployments", "deployments", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepImages removes the images of every deployment this node built images for that the store
// no longer holds, and returns how many deployments it cleaned. Images in use stay for the next
// pass. A deployment that exists (including one being built for the first time: its record is
// written before its build is queued) is never touched.
func (d *Daemon) sweepImages(ctx context.Context) (int, error) {
	refs, err := d.builder.Owned(ctx)
	if err != nil {
		return 0, err
	}
	live := map[string]map[string]bool{} // tenant id -> ids of its deployments
	cleaned := 0
	for _, r := range refs {
		ids, ok := live[r.TenantID]
		if !ok {
			deps, err := d.store.ListDeployments(ctx, r.TenantID)
			if err != nil {
				return cleaned, err
			}
			ids = map[string]bool{}
			for _, dep := range deps {
				ids[dep.ID] = true
			}
			live[r.TenantID] = ids
		}
		if ids[r.DeploymentID] {
			continue
		}
		if err := d.removeGone(ctx, r); err != nil {
			d.log.Debug("image janitor: images kept", "tenant", r.TenantID, "deployment", r.DeploymentID, "err", err)
			continue
		}
		cleaned++
	}
	return cleaned, nil
}

// removeGone retires what is left of a deleted deployment on this node and removes its images.
func (d *Daemon) removeGone(ctx context.Context, r imagebuilder.Ref) error {
	d.sandbox.Retire(deploymentKey(r.TenantID, r.DeploymentID))
	return d.builder.Remove(ctx, r.TenantID, r.DeploymentID)
}

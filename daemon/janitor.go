package daemon

import (
	"context"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/imagebuilder"
)

// janitorLoop removes, at start and then every JanitorInterval, the images this node built that
// nothing will run again (see sweepImages). It is a safety net on a slow clock, not on any run's
// path.
func (d *Daemon) janitorLoop(ctx context.Context) {
	t := time.NewTicker(d.cfg.JanitorInterval)
	defer t.Stop()
	for {
		if n, err := d.sweepImages(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("image janitor: pass failed", "err", err)
		} else if n > 0 {
			d.log.Info("image janitor: removed images nothing will run again", "deployments", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepImages removes the images of every deployment this node built images for that the store
// no longer holds, and, of the deployments it holds, the images of versions no longer ready
// (kept when a run used them at redeploy, or built here for a run of a version since replaced).
// Images in use stay for the next pass; a deployment that is building is left alone, and so is
// any image younger than JanitorGrace (a build in progress may not have recorded it yet). It
// returns how many deployments it cleaned.
func (d *Daemon) sweepImages(ctx context.Context) (int, error) {
	refs, err := d.builder.Owned(ctx)
	if err != nil {
		return 0, err
	}
	live := map[string]map[string]faaspot.Deployment{} // tenant id -> its deployments by id
	cleaned := 0
	for _, r := range refs {
		deps, ok := live[r.TenantID]
		if !ok {
			list, err := d.store.ListDeployments(ctx, r.TenantID)
			if err != nil {
				return cleaned, err
			}
			deps = map[string]faaspot.Deployment{}
			for _, dep := range list {
				deps[dep.ID] = dep
			}
			live[r.TenantID] = deps
		}
		dep, exists := deps[r.DeploymentID]
		switch {
		case !exists:
			if err := d.removeGone(ctx, r); err != nil {
				d.log.Debug("image janitor: images kept", "tenant", r.TenantID, "deployment", r.DeploymentID, "err", err)
				continue
			}
			cleaned++
		case dep.Status != faaspot.StatusBuilding:
			n, err := d.builder.Prune(ctx, r, dep.Image, d.cfg.JanitorGrace)
			if err != nil {
				d.log.Debug("image janitor: old images kept", "tenant", r.TenantID, "deployment", r.DeploymentID, "err", err)
			}
			if n > 0 {
				cleaned++
			}
		}
	}
	return cleaned, nil
}

// removeGone retires what is left of a deleted deployment on this node and removes its images.
func (d *Daemon) removeGone(ctx context.Context, r imagebuilder.Ref) error {
	d.sandbox.Retire(deploymentKey(r.TenantID, r.DeploymentID))
	return d.builder.Remove(ctx, r.TenantID, r.DeploymentID)
}

package daemon

import (
	"context"
	"errors"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/imagebuilder"
	"github.com/faaspot/faaspot/store"
)

// janitorLoop removes, at start and then every janitorInterval, the images this node built that
// nothing will run again (see sweepImages), the ones it built for stores it no longer sees
// (see sweepStrays) and the shared dependencies images nothing uses (see sweepDeps), until ctx
// ends. It is a safety net on a slow clock, not on any run's path.
func (w *workers) janitorLoop(ctx context.Context) {
	ticks, stop := w.clock.NewTicker(w.set.janitorInterval)
	defer stop()
	for {
		if n, err := w.sweepImages(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("image janitor: pass failed", "err", err)
		} else if n > 0 {
			w.log.Info("image janitor: removed images nothing will run again", "deployments", n)
		}
		if n, err := w.sweepStrays(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("image janitor: pass over other stores' images failed", "err", err)
		} else if n > 0 {
			w.log.Info("image janitor: removed images this node built for stores it no longer sees", "images", n)
		}
		if n, err := w.sweepDeps(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("image janitor: pass over dependencies images failed", "err", err)
		} else if n > 0 {
			w.log.Info("image janitor: removed dependencies images nothing uses", "images", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
	}
}

// sweepImages removes the images of every deployment this node built images for that the store
// no longer holds, and, of the deployments it holds, the images of versions no longer kept (see
// keptImages; kept when a run used them when their version went).
// Images in use stay for the next pass; a deployment that is building is left alone, and so is
// any image younger than janitorGrace (a build in progress may not have recorded it yet). It
// returns how many deployments it cleaned, and the builder's or the store's error when it could
// not list what to clean.
func (w *workers) sweepImages(ctx context.Context) (int, error) {
	refs, err := w.builder.Owned(ctx)
	if err != nil {
		return 0, err
	}
	live := map[string]map[string]faaspot.Deployment{} // tenant id -> its deployments by id
	cleaned := 0
	for _, r := range refs {
		deps, ok := live[r.TenantID]
		if !ok {
			if deps, err = w.deploymentsOf(ctx, r.TenantID); err != nil {
				return cleaned, err
			}
			live[r.TenantID] = deps
		}
		dep, exists := deps[r.DeploymentID]
		switch {
		case !exists:
			if err := w.removeGone(ctx, r); err != nil {
				w.log.Debug("image janitor: images kept", "tenant", r.TenantID, "deployment_id", r.DeploymentID, "err", err)
				continue
			}
			cleaned++
		case dep.Status != faaspot.StatusBuilding:
			keep, err := w.keptImages(ctx, r.TenantID, dep)
			if err != nil {
				return cleaned, err
			}
			n, err := w.builder.Prune(ctx, r, keep, w.set.janitorGrace)
			if err != nil {
				w.log.Debug("image janitor: old images kept", "tenant", r.TenantID, "deployment_id", r.DeploymentID, "err", err)
			}
			if n > 0 {
				cleaned++
			}
		}
	}
	return cleaned, nil
}

// keptImages returns the images of dep that stay: the ready version's and those of its other
// kept versions, which a pinned run or a rollback may use.
func (w *workers) keptImages(ctx context.Context, tid string, dep faaspot.Deployment) ([]string, error) {
	vs, err := w.lister.ListVersions(ctx, tid, dep.Name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	keep := []string{dep.Image}
	for _, v := range vs {
		if v.Image != "" {
			keep = append(keep, v.Image)
		}
	}
	return keep, nil
}

// deploymentsOf returns the deployments of a tenant by id.
func (w *workers) deploymentsOf(ctx context.Context, tid string) (map[string]faaspot.Deployment, error) {
	list, err := w.lister.ListDeployments(ctx, tid)
	if err != nil {
		return nil, err
	}
	deps := make(map[string]faaspot.Deployment, len(list))
	for _, dep := range list {
		deps[dep.ID] = dep
	}
	return deps, nil
}

// removeGone retires what is left of a deleted deployment on this node (its idle containers)
// and removes its images; the builder's error comes back when an image stays (e.g. in use).
func (w *workers) removeGone(ctx context.Context, r imagebuilder.Ref) error {
	return removeDeployment(ctx, w.sandbox, w.builder, r)
}

// removeDeployment retires a deployment's idle containers on this node, then removes its images
// (a container still running keeps its image; the janitor removes it later).
func removeDeployment(ctx context.Context, containers runner, images imageBuilder, r imagebuilder.Ref) error {
	containers.Retire(deploymentKey(r.TenantID, r.DeploymentID))
	return images.Remove(ctx, r.TenantID, r.DeploymentID)
}

// strayLister lists this node's images built for other stores. *imagebuilder.Builder has it;
// imageBuilder does not declare it, so a builder without it (a test's fake) has no strays.
type strayLister interface {
	Strays(ctx context.Context, before time.Time) ([]imagebuilder.Stray, error)
}

var _ strayLister = (*imagebuilder.Builder)(nil)

// sweepStrays removes the images this node built for a store it no longer sees (the builder's
// Strays: this node's node label and LabelManaged, another store label or none) and older than
// janitorGrace: an embedded store of an earlier start gets a new store id at each start, and
// nothing else would ever remove its images. An image whose deployment the store this node
// works for holds is kept, whatever its label says, and so is one in use (for the next pass).
// It removes nothing while this node builds (see workers.building). It returns how many images
// it removed, and the builder's or the store's error when it could not list what to remove.
func (w *workers) sweepStrays(ctx context.Context) (int, error) {
	sl, ok := w.builder.(strayLister)
	if !ok || ctx.Err() != nil {
		return 0, nil
	}
	strays, err := sl.Strays(ctx, w.clock.Now().Add(-w.set.janitorGrace))
	if err != nil {
		return 0, err
	}
	live := map[string]map[string]faaspot.Deployment{} // tenant id -> its deployments by id
	removed := 0
	w.building.Lock() // no build takes cached layers from what goes now
	defer w.building.Unlock()
	for _, s := range strays {
		deps, ok := live[s.TenantID]
		if !ok {
			if deps, err = w.deploymentsOf(ctx, s.TenantID); err != nil {
				return removed, err
			}
			live[s.TenantID] = deps
		}
		if _, held := deps[s.DeploymentID]; held {
			w.log.Debug("image janitor: image of another store kept: this store holds its deployment", "image", s.Tag)
			continue
		}
		// Removing a deployment image may take its dependencies image with it: listed later, it
		// is then gone already.
		if err := w.builder.RemoveImage(ctx, s.Tag); err != nil {
			if !cerrdefs.IsNotFound(err) {
				w.log.Debug("image janitor: image of another store kept", "image", s.Tag, "err", err)
			}
			continue
		}
		removed++
	}
	return removed, nil
}

// sweepDeps removes the dependencies images this node built (for any store) that no image names
// and that are older than janitorGrace: a tenant's deployments share them, so they go with the
// last image built on them, and this pass removes the ones that outlived it or never had one (a
// build whose code failed its check, a deployment image removed by hand). Like sweepStrays, it
// removes nothing while this node builds. It returns how many it removed.
func (w *workers) sweepDeps(ctx context.Context) (int, error) {
	if ctx.Err() != nil {
		return 0, nil
	}
	before := w.clock.Now().Add(-w.set.janitorGrace)
	w.building.Lock() // no build takes cached layers from what goes now
	defer w.building.Unlock()
	return w.builder.PruneDeps(ctx, before)
}

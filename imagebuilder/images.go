package imagebuilder

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/faaspot/faaspot/hardening"
)

// RemoveImage removes one deployment image, unless a container still uses it, and then the
// dependencies image it names (LabelDeps) when no tagged image on the engine, of any deployment
// of the tenant, names it any more and no build of this builder uses it (see removeDepsIfUnused).
//
// With a registry, an image this node pushed there has its manifest deleted from it first
// (see deleteManifest): nothing will run it again.
func (b *Builder) RemoveImage(ctx context.Context, tag string) error {
	var deps string
	if info, err := b.docker.ImageInspect(ctx, tag); err == nil && info.Config != nil {
		deps = info.Config.Labels[LabelDeps]
		b.deleteManifest(ctx, tag, info.Config.Labels)
	}
	if _, err := b.docker.ImageRemove(ctx, tag, image.RemoveOptions{PruneChildren: true}); err != nil {
		return fmt.Errorf("remove image %s: %w", tag, err)
	}
	if deps == "" || !sameTenant(tag, deps) {
		return nil
	}
	_, err := b.removeDepsIfUnused(ctx, deps)
	return err
}

// Remove deletes every image of the deployment (by repository), then the dependencies images
// they were built on that nothing else uses (see Prune). Images still used by a container are
// skipped and reported; the janitor removes them once unused.
func (b *Builder) Remove(ctx context.Context, tenantID, deploymentID string) error {
	_, err := b.Prune(ctx, Ref{TenantID: tenantID, DeploymentID: deploymentID}, nil, 0)
	return err
}

// Ref names one deployment by its server-side ids.
type Ref struct{ TenantID, DeploymentID string }

// Owned lists the deployments that have images carrying every one of the builder's labels
// (LabelManaged, Sandbox.Node's LabelNode and Config.Labels) and, with a registry, images named
// in it that carry them but for the node's: the images this node pulled (see ownedPulled).
func (b *Builder) Owned(ctx context.Context) ([]Ref, error) {
	f := filters.NewArgs()
	for k, v := range b.labels {
		f.Add("label", k+"="+v)
	}
	imgs, err := b.docker.ImageList(ctx, image.ListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	pulled, err := b.ownedPulled(ctx)
	if err != nil {
		return nil, err
	}
	imgs = append(imgs, pulled...)
	seen := map[Ref]bool{}
	var refs []Ref
	for _, img := range imgs {
		for _, tag := range img.RepoTags {
			if r, ok := parseRepository(tag); ok && !seen[r] {
				seen[r] = true
				refs = append(refs, r)
			}
		}
	}
	return refs, nil
}

// RemoveOwned removes the images of every deployment that Owned lists (all a node built, when
// the node is retired or a test ends), then the dependencies images carrying the builder's
// labels that nothing uses any more; images in use stay. A builder with no label but
// LabelManaged refuses: it would own every deployment image on the engine.
func (b *Builder) RemoveOwned(ctx context.Context) error {
	if len(b.labels) == 0 || (len(b.labels) == 1 && b.labels[LabelManaged] != "") {
		return errors.New("remove owned images: the builder has no labels of its own (Config.Labels, Sandbox.Node)")
	}
	refs, err := b.Owned(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range refs {
		errs = append(errs, b.Remove(ctx, r.TenantID, r.DeploymentID))
	}
	_, err = b.pruneDeps(ctx, b.labels, time.Now())
	return errors.Join(append(errs, err)...)
}

// parseRepository reads the ids back from a tag made by repository (never from one made by
// depsRepository: a tenant's dependencies images are no deployment's).
// A tag named in a registry is read without it.
func parseRepository(tag string) (Ref, bool) {
	repo, _, _ := strings.Cut(localName(tag), ":")
	rest, ok := strings.CutPrefix(repo, "faaspot/t-")
	if !ok {
		return Ref{}, false
	}
	tid, did, ok := strings.Cut(rest, "/d-")
	if !ok || tid == "" || did == "" || strings.Contains(did, "/") {
		return Ref{}, false
	}
	return Ref{TenantID: tid, DeploymentID: did}, true
}

// Prune removes the images of deployment r other than those of keep, when they are older than
// minAge (younger ones may belong to a build in progress), and never the dependencies image of
// one it keeps; images a container still uses stay. The dependencies images the removed ones
// were built on go after them, unless a tagged image names them still (one of another
// deployment of the tenant: they are shared) or a build of this builder uses them (see
// removeDepsIfUnused). It returns how many tags it removed. With a registry, the images of both
// names of the deployment's repository are pruned (the local one: built before the registry
// was set), and the manifests of those this node pushed are deleted from the registry.
func (b *Builder) Prune(ctx context.Context, r Ref, keep []string, minAge time.Duration) (int, error) {
	repo := repository(r.TenantID, r.DeploymentID)
	imgs, err := b.imagesOf(ctx, r)
	if err != nil {
		return 0, err
	}
	kept := map[string]bool{}
	for _, k := range keep {
		kept[k] = k != ""
	}
	for _, img := range imgs {
		young := time.Since(time.Unix(img.Created, 0)) < minAge
		if deps := img.Labels[LabelDeps]; deps != "" && (young || slices.ContainsFunc(img.RepoTags, func(t string) bool { return kept[t] })) {
			kept[deps] = true
		}
	}
	// Deployment images first, so that the dependencies images of this repository (made by
	// earlier releases) are free to go after them.
	slices.SortStableFunc(imgs, func(a, b image.Summary) int {
		return cmp.Compare(len(b.Labels[LabelDeps]), len(a.Labels[LabelDeps]))
	})
	removed := 0
	released := map[string]bool{} // shared dependencies images of the removed ones
	var errs []error
	for _, img := range imgs {
		if time.Since(time.Unix(img.Created, 0)) < minAge {
			continue
		}
		for _, tag := range img.RepoTags {
			if kept[tag] {
				continue
			}
			if deps := img.Labels[LabelDeps]; deps != "" && !kept[deps] && !strings.HasPrefix(deps, repo+":") && sameTenant(tag, deps) {
				released[deps] = true
			}
			b.deleteManifest(ctx, tag, img.Labels)
			if _, err := b.docker.ImageRemove(ctx, tag, image.RemoveOptions{PruneChildren: true}); err != nil {
				if !cerrdefs.IsNotFound(err) {
					errs = append(errs, fmt.Errorf("remove image %s: %w", tag, err))
				}
				continue
			}
			removed++
		}
	}
	for _, deps := range slices.Sorted(maps.Keys(released)) {
		ok, err := b.removeDepsIfUnused(ctx, deps)
		if ok {
			removed++
		}
		errs = append(errs, err)
	}
	return removed, errors.Join(errs...)
}

// imagesOf lists the images of deployment r: of its repository, and of its name in the
// registry (one list each: engines differ on several reference filters).
func (b *Builder) imagesOf(ctx context.Context, r Ref) ([]image.Summary, error) {
	repo := repository(r.TenantID, r.DeploymentID)
	var out []image.Summary
	seen := map[string]bool{}
	for _, name := range slices.Compact([]string{repo, b.cfg.Registry.Qualify(repo)}) {
		imgs, err := b.docker.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", name))})
		if err != nil {
			return nil, fmt.Errorf("list images of %s: %w", r.DeploymentID, err)
		}
		for _, img := range imgs {
			if key := img.ID + "|" + strings.Join(img.RepoTags, ","); !seen[key] {
				seen[key] = true
				out = append(out, img)
			}
		}
	}
	return out, nil
}

// Stray is an image this node built for a store it no longer works for: Tag is of the
// repository of deployment Ref.
type Stray struct {
	Ref
	Tag string
}

// Strays lists the images of this node — carrying LabelManaged and Sandbox.Node's LabelNode —
// that do not carry every one of the builder's Config.Labels (the daemon's store label: built
// when this node worked for another store, say the embedded store of an earlier start), and
// were created before before (younger ones may be a build in progress). Deployment images come
// before the dependencies images of their repository (earlier releases') they are built on;
// images of other nodes, images without LabelManaged and the tenants' shared dependencies
// images (no deployment's: RemoveImage takes them with their last user, PruneDeps the others)
// are never listed. A builder without a node refuses: every image the builders
// of the engine made would be its strays. Strays removes nothing: the caller checks that no
// store it sees still holds the deployment (see RemoveImage).
func (b *Builder) Strays(ctx context.Context, before time.Time) ([]Stray, error) {
	node := b.labels[hardening.LabelNode]
	if node == "" {
		return nil, errors.New("list stray images: the builder has no node (Sandbox.Node)")
	}
	imgs, err := b.docker.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", LabelManaged+"=true"), filters.Arg("label", hardening.LabelNode+"="+node))})
	if err != nil {
		return nil, fmt.Errorf("list images of node %s: %w", node, err)
	}
	slices.SortStableFunc(imgs, func(a, b image.Summary) int {
		return cmp.Compare(len(b.Labels[LabelDeps]), len(a.Labels[LabelDeps]))
	})
	var out []Stray
	for _, img := range imgs {
		if b.ownsLabels(img.Labels) || !time.Unix(img.Created, 0).Before(before) {
			continue
		}
		for _, tag := range img.RepoTags {
			if r, ok := parseRepository(tag); ok {
				out = append(out, Stray{Ref: r, Tag: tag})
			}
		}
	}
	return out, nil
}

// ownsLabels reports whether labels hold every label of the builder, with its value.
func (b *Builder) ownsLabels(labels map[string]string) bool {
	for k, v := range b.labels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

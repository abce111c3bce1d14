package imagebuilder

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/faaspot/faaspot/hardening"
)

// A dependencies image (base, runner, requirements) is shared by the deployments of a tenant
// that one node builds from the same inputs: a tag of the tenant's dependencies repository
// (depsTag), named by the LabelDeps of every deployment image built on it. It goes when nothing uses it any more:
// with the last deployment image naming it (RemoveImage, Prune), or, when it never had one or
// outlived it (a build whose code failed the check, an image of a store this node no longer
// works for), by the janitor's PruneDeps. Removing its tag never breaks a deployment image built
// on it (they share its layers, which the engine keeps while an image holds them); it only makes
// the next build of those inputs build it again. Earlier releases made one dependencies image
// per deployment, a "deps-" tag of the deployment's own repository: those go with their
// deployment's images, as before.

// sameTenant reports whether the tags a and b are of repositories of the same tenant.
func sameTenant(a, b string) bool {
	ta, oka := tenantOf(a)
	tb, okb := tenantOf(b)
	return oka && okb && ta == tb
}

// tenantOf reads the tenant id back from a tag made by repository or depsRepository (named in
// a registry or not).
func tenantOf(tag string) (string, bool) {
	repo, _, _ := strings.Cut(localName(tag), ":")
	rest, ok := strings.CutPrefix(repo, "faaspot/t-")
	tid, _, found := strings.Cut(rest, "/")
	return tid, ok && found && tid != ""
}

// localName is tag without the registry it is named in (HOST:PORT[/PREFIX]/), if any: from its
// last "faaspot/t-" component on. The ids of a repository never hold a "/".
func localName(tag string) string {
	if i := strings.LastIndex(tag, "/faaspot/t-"); i >= 0 {
		return tag[i+1:]
	}
	return tag
}

// isSharedDeps reports whether tag is of a tenant's dependencies repository (depsRepository).
func isSharedDeps(tag string) bool {
	repo, hash, ok := strings.Cut(tag, ":")
	tid, tok := tenantOf(tag)
	return ok && tok && hash != "" && repo == depsRepository(tid)
}

// removeDepsIfUnused removes the dependencies image deps when no tagged image on the engine
// names it in LabelDeps (the deployment images of any node built on it) and no build of this
// builder uses it; it reports whether it removed it. An image already gone is no error; one a
// container still uses (a check in progress on another node) stays, with the engine's error.
func (b *Builder) removeDepsIfUnused(ctx context.Context, deps string) (bool, error) {
	done, ok := b.depsLocks.tryRemove(deps)
	if !ok {
		return false, nil // a build uses it: the janitor's PruneDeps removes it if it stays unused
	}
	defer done()
	users, err := b.docker.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelDeps+"="+deps))})
	if err != nil {
		return false, fmt.Errorf("list users of %s: %w", deps, err)
	}
	for _, u := range users {
		if tagged(u) {
			return false, nil
		}
	}
	if _, err := b.docker.ImageRemove(ctx, deps, image.RemoveOptions{PruneChildren: true}); err != nil {
		if cerrdefs.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("remove dependencies image %s: %w", deps, err)
	}
	return true, nil
}

// tagged reports whether img has a tag: an untagged (dangling) image is nobody's to keep.
func tagged(img image.Summary) bool {
	for _, t := range img.RepoTags {
		if t != "" && t != "<none>:<none>" {
			return true
		}
	}
	return false
}

// PruneDeps removes this node's shared dependencies images (LabelManaged and Sandbox.Node's
// LabelNode, whatever store they were built for) created before before (younger ones may be a
// build in progress on another builder) that no tagged image names in LabelDeps and no build of
// this builder uses. It returns how many it removed. A builder without a node refuses: the
// images of every builder on the engine would be its own.
func (b *Builder) PruneDeps(ctx context.Context, before time.Time) (int, error) {
	node := b.labels[hardening.LabelNode]
	if node == "" {
		return 0, errors.New("prune dependencies images: the builder has no node (Sandbox.Node)")
	}
	return b.pruneDeps(ctx, map[string]string{LabelManaged: "true", hardening.LabelNode: node}, before)
}

// pruneDeps is PruneDeps over the dependencies images carrying every label of labels.
func (b *Builder) pruneDeps(ctx context.Context, labels map[string]string, before time.Time) (int, error) {
	f := filters.NewArgs()
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	imgs, err := b.docker.ImageList(ctx, image.ListOptions{Filters: f})
	if err != nil {
		return 0, fmt.Errorf("list dependencies images: %w", err)
	}
	named, err := b.namedDeps(ctx)
	if err != nil {
		return 0, err
	}
	removed := 0
	var errs []error
	for _, img := range imgs {
		if !time.Unix(img.Created, 0).Before(before) {
			continue
		}
		for _, tag := range img.RepoTags {
			if !isSharedDeps(tag) || named[tag] {
				continue
			}
			ok, err := b.removeDepsIfUnused(ctx, tag)
			if ok {
				removed++
			}
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

// namedDeps returns the dependencies images the tagged images on the engine name in LabelDeps.
func (b *Builder) namedDeps(ctx context.Context) (map[string]bool, error) {
	users, err := b.docker.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelDeps))})
	if err != nil {
		return nil, fmt.Errorf("list deployment images: %w", err)
	}
	named := map[string]bool{}
	for _, u := range users {
		if tagged(u) {
			named[u.Labels[LabelDeps]] = true
		}
	}
	return named, nil
}

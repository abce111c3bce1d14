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
	"github.com/faaspot/faaspot/registry"
)

// Images through a registry (Config.Registry). A deployment image is named in the registry
// (HOST:PORT[/PREFIX]/faaspot/t-<tenant>/d-<deployment>:<hash>) and pushed once built, so that
// a node whose engine lacks it pulls it (Pull) instead of building it again. Its dependencies
// image keeps a local name and is never pushed by name: its layers go with the deployment image
// (the registry keeps each blob once). A pulled image carries the labels of the node that built
// it: Owned lists it all the same (ownedPulled), so that the janitor of the node that pulled it
// removes it when nothing will run it again. The node that built and pushed an image deletes its
// manifest from the registry when it removes the image (deleteManifest).

// ErrNotInRegistry is Pull's error when the registry answered that it does not have the image
// (manifest or repository unknown).
var ErrNotInRegistry = errors.New("the registry does not have the image")

// PushError is Build's error when the image was built (or found built) but its push to the
// registry failed: Image is on the engine, not in the registry.
type PushError struct {
	Image string
	Err   error
}

func (e *PushError) Error() string { return e.Err.Error() }
func (e *PushError) Unwrap() error { return e.Err }

// InRegistry reports whether ref is named in the builder's registry: an image Pull may pull.
func (b *Builder) InRegistry(ref string) bool {
	_, ok := b.cfg.Registry.Local(ref)
	return ok
}

// push pushes the image tag to the registry and logs the time it took. A failure (the
// registry's answer in the stream included) comes back as an error naming tag.
func (b *Builder) push(ctx context.Context, tag string) error {
	start := time.Now()
	rc, err := b.docker.ImagePush(ctx, tag, image.PushOptions{RegistryAuth: b.regAuth})
	if err != nil {
		return fmt.Errorf("push %s: %w", tag, err)
	}
	defer rc.Close()
	out, pushErr, err := readBuildStream(rc, 4<<10)
	switch {
	case err != nil:
		return fmt.Errorf("read push output of %s: %w", tag, err)
	case pushErr != "":
		return fmt.Errorf("push %s: %s (%s)", tag, pushErr, lastOutputLine(out))
	}
	b.log.Info("image pushed", "image", tag, "registry", b.cfg.Registry.String(), "seconds", time.Since(start).Seconds())
	return nil
}

// Pull pulls ref, an image named in the builder's registry, onto the engine. It returns
// ErrNotInRegistry (wrapped) when the registry does not have it, or ref is not named in the
// registry (nothing else is ever pulled: an unqualified name would go to Docker Hub); another
// error when the pull failed otherwise (the registry unreachable, refused credentials).
func (b *Builder) Pull(ctx context.Context, ref string) error {
	if b.cfg.Registry.IsZero() || !b.InRegistry(ref) {
		return fmt.Errorf("pull %s: %w (not named in the registry %q)", ref, ErrNotInRegistry, b.cfg.Registry.String())
	}
	rc, err := b.docker.ImagePull(ctx, ref, image.PullOptions{RegistryAuth: b.regAuth})
	if err != nil {
		if cerrdefs.IsNotFound(err) || notInRegistry(err.Error()) {
			return fmt.Errorf("pull %s: %w: %w", ref, ErrNotInRegistry, err)
		}
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	defer rc.Close()
	out, pullErr, err := readBuildStream(rc, 4<<10)
	switch {
	case err != nil:
		return fmt.Errorf("read pull output of %s: %w", ref, err)
	case pullErr != "" && notInRegistry(pullErr):
		return fmt.Errorf("pull %s: %w: %s", ref, ErrNotInRegistry, pullErr)
	case pullErr != "":
		return fmt.Errorf("pull %s: %s (%s)", ref, pullErr, lastOutputLine(out))
	}
	return nil
}

// notInRegistry reports whether an engine's pull error says the registry lacks the image: the
// registry's MANIFEST_UNKNOWN or NAME_UNKNOWN, which engines word "manifest unknown", "name
// unknown" or "... not found".
func notInRegistry(msg string) bool {
	msg = strings.ToLower(msg)
	return strings.Contains(msg, "manifest unknown") || strings.Contains(msg, "name unknown") ||
		strings.Contains(msg, "not found")
}

func lastOutputLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}

// ownedPulled lists the deployment images named in the registry that carry LabelManaged and the
// builder's labels but the node's (Config.Labels: the store): the images this node pulled,
// labelled by the node that built them, as well as those it built.
func (b *Builder) ownedPulled(ctx context.Context) ([]image.Summary, error) {
	if b.cfg.Registry.IsZero() {
		return nil, nil
	}
	f := filters.NewArgs()
	for k, v := range b.labels {
		if k != hardening.LabelNode {
			f.Add("label", k+"="+v)
		}
	}
	imgs, err := b.docker.ImageList(ctx, image.ListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list pulled images: %w", err)
	}
	var out []image.Summary
	for _, img := range imgs {
		for _, tag := range img.RepoTags {
			if b.InRegistry(tag) {
				out = append(out, img)
				break
			}
		}
	}
	return out, nil
}

// deleteManifest deletes from the registry the manifest of tag, an image of labels being
// removed from the engine, when this node pushed it: tag is named in the registry and labels
// carry this builder's node. A registry that refuses deletes is said once, at INFO; another
// failure is logged with the tag, for the operator (the image is removed from the engine all
// the same, and the janitor will not see it again).
func (b *Builder) deleteManifest(ctx context.Context, tag string, labels map[string]string) {
	local, ok := b.cfg.Registry.Local(tag)
	node := b.labels[hardening.LabelNode]
	if !ok || b.manifests == nil || node == "" || labels[hardening.LabelNode] != node {
		return
	}
	repo, ref, _ := strings.Cut(local, ":")
	err := b.manifests.DeleteManifest(context.WithoutCancel(ctx), repo, ref)
	switch {
	case errors.Is(err, registry.ErrDeleteDisabled):
		b.noDeletes.Do(func() {
			b.log.Info("the registry does not allow deletes: images removed here stay in it "+
				"(set storage.delete.enabled: true in its configuration, then run its garbage collection)",
				"registry", b.cfg.Registry.String())
		})
	case err != nil:
		b.log.Warn("manifest not deleted from the registry; delete it by hand", "image", tag, "err", err)
	default:
		b.log.Debug("manifest deleted from the registry", "image", tag)
	}
}

// manifestDeleter deletes a manifest from the registry; *registry.Client has it.
type manifestDeleter interface {
	DeleteManifest(ctx context.Context, repo, tag string) error
}

var _ manifestDeleter = (*registry.Client)(nil)

package imagebuilder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/faaspot/faaspot/hardening"
)

// fakeImages is an engine that holds images only: it lists them (honouring label and reference
// filters, as the engine does), inspects and removes them (a tag in inUse fails, as one a
// container uses). The calls the image janitor never makes fail.
type fakeImages struct {
	dockerAPI // nil: any other call panics

	mu      sync.Mutex
	imgs    []image.Summary
	listErr error
	inUse   map[string]bool
	removed []string
}

func (f *fakeImages) ImageList(ctx context.Context, opts image.ListOptions) ([]image.Summary, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listErr != nil {
		return nil, f.listErr
	}
	var out []image.Summary
	for _, img := range f.imgs {
		match := !slices.ContainsFunc(opts.Filters.Get("label"), func(kv string) bool {
			k, v, hasValue := strings.Cut(kv, "=")
			got, has := img.Labels[k]
			return !has || hasValue && got != v
		})
		for _, ref := range opts.Filters.Get("reference") {
			match = match && slices.ContainsFunc(img.RepoTags, func(tag string) bool { return strings.HasPrefix(tag, ref+":") })
		}
		if match {
			out = append(out, img)
		}
	}
	return out, nil
}

func (f *fakeImages) ImageInspect(ctx context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	if err := ctx.Err(); err != nil {
		return image.InspectResponse{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, img := range f.imgs {
		if slices.Contains(img.RepoTags, ref) {
			return image.InspectResponse{ID: img.ID, RepoTags: img.RepoTags, Os: "linux", Architecture: "amd64",
				Config:  &dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{Labels: img.Labels}},
				RootFS:  image.RootFS{Type: "layers", Layers: []string{"sha256:layer-of-" + img.ID}},
				Created: time.Unix(img.Created, 0).Format(time.RFC3339)}, nil
		}
	}
	return image.InspectResponse{}, fmt.Errorf("no such image %s: %w", ref, cerrdefs.ErrNotFound)
}

// ImageRemove untags ref, and drops the image with its last tag.
func (f *fakeImages) ImageRemove(ctx context.Context, ref string, _ image.RemoveOptions) ([]image.DeleteResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, ref)
	if f.inUse[ref] {
		return nil, errors.New("conflict: image is being used by a running container")
	}
	for i, img := range f.imgs {
		if j := slices.Index(img.RepoTags, ref); j >= 0 {
			img.RepoTags = slices.Delete(slices.Clone(img.RepoTags), j, j+1)
			f.imgs[i] = img
			if len(img.RepoTags) == 0 {
				f.imgs = slices.Delete(f.imgs, i, i+1)
			}
			return nil, nil
		}
	}
	return nil, fmt.Errorf("no such image %s: %w", ref, cerrdefs.ErrNotFound)
}

// has reports whether the engine holds the tag.
func (f *fakeImages) has(tag string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.ContainsFunc(f.imgs, func(img image.Summary) bool { return slices.Contains(img.RepoTags, tag) })
}

// TestStrays: of the images on the engine, Strays lists the tags of this node's images built
// under another store label (or none: an earlier release), created before the cut-off,
// deployment images before their dependencies images; never this store's images, another
// node's, unmanaged ones or ones of no deployment repository. It removes nothing.
func TestStrays(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	old, young := now.Add(-time.Hour).Unix(), now.Add(-time.Minute).Unix()
	labels := func(node, st string, extra ...string) map[string]string {
		m := map[string]string{LabelManaged: "true", hardening.LabelNode: node, "io.faaspot.store": st}
		if st == "" {
			delete(m, "io.faaspot.store")
		}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	img := func(tag string, created int64, l map[string]string) image.Summary {
		return image.Summary{RepoTags: []string{tag}, Created: created, Labels: l}
	}
	engine := &fakeImages{imgs: []image.Summary{
		img("faaspot/t-t1/d-old:deps-1", old, labels("n1", "s1")),
		img("faaspot/t-t1/d-old:c1", old, labels("n1", "s1", LabelDeps, "faaspot/t-t1/d-old:deps-1")),
		img("faaspot/t-t1/d-cur:c1", old, labels("n1", "s2")),
		img("faaspot/t-t1/d-young:c1", young, labels("n1", "s1")),
		img("faaspot/t-t1/d-other-node:c1", old, labels("n2", "s1")),
		img("faaspot/t-t1/d-unmanaged:c1", old, map[string]string{hardening.LabelNode: "n1"}),
		img("faaspot/t-t0/d-unlabelled:c1", old, labels("n1", "")),
		img("faaspot/python:bookworm", old, labels("n1", "s1")),
	}}
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	b := New(engine, Config{Labels: map[string]string{"io.faaspot.store": "s2"},
		Sandbox: hardening.Config{Node: "n1"}}, discard)
	got, err := b.Strays(t.Context(), now.Add(-15*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := []Stray{
		{Ref{"t1", "old"}, "faaspot/t-t1/d-old:c1"},
		{Ref{"t1", "old"}, "faaspot/t-t1/d-old:deps-1"},
		{Ref{"t0", "unlabelled"}, "faaspot/t-t0/d-unlabelled:c1"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Strays = %+v\nwant %+v", got, want)
	}
	if len(engine.removed) != 0 {
		t.Errorf("Strays removed %q", engine.removed)
	}

	if _, err := New(engine, Config{Labels: map[string]string{"io.faaspot.store": "s2"}}, discard).Strays(t.Context(), now); err == nil {
		t.Error("a builder without a node listed strays; want a refusal")
	}
	engine.listErr = errors.New("engine down")
	if _, err := b.Strays(t.Context(), now); !errors.Is(err, engine.listErr) {
		t.Errorf("Strays on a failing engine = %v, want its error wrapped", err)
	}
}

// TestPrune: of a deployment's images, Prune keeps those named, the ones younger than minAge and
// the dependencies images of both; it removes the rest, deployment images before dependencies
// images, and never an image of another deployment.
func TestPrune(t *testing.T) {
	old, young := time.Now().Add(-time.Hour).Unix(), time.Now().Unix()
	img := func(tag string, created int64, deps string) image.Summary {
		l := map[string]string{LabelManaged: "true"}
		if deps != "" {
			l[LabelDeps] = deps
		}
		return image.Summary{RepoTags: []string{tag}, Created: created, Labels: l}
	}
	engine := &fakeImages{imgs: []image.Summary{
		img("faaspot/t-t1/d-fn:deps-a", old, ""),
		img("faaspot/t-t1/d-fn:deps-b", old, ""),
		img("faaspot/t-t1/d-fn:deps-c", old, ""),
		img("faaspot/t-t1/d-fn:c1", old, "faaspot/t-t1/d-fn:deps-a"),
		img("faaspot/t-t1/d-fn:c2", old, "faaspot/t-t1/d-fn:deps-b"),
		img("faaspot/t-t1/d-fn:c3", old, "faaspot/t-t1/d-fn:deps-b"),
		img("faaspot/t-t1/d-fn:c4", old, "faaspot/t-t1/d-fn:deps-c"),
		img("faaspot/t-t1/d-fn:c5", young, "faaspot/t-t1/d-fn:deps-c"),
		img("faaspot/t-t1/d-other:c1", old, ""),
	}}
	b := New(engine, Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	n, err := b.Prune(t.Context(), Ref{"t1", "fn"}, []string{"faaspot/t-t1/d-fn:c1", "faaspot/t-t1/d-fn:c3", ""}, 15*time.Minute)
	want := []string{"faaspot/t-t1/d-fn:c2", "faaspot/t-t1/d-fn:c4"}
	if err != nil || n != len(want) || !slices.Equal(engine.removed, want) {
		t.Errorf("Prune = %d, %v; removed %q, want %q", n, err, engine.removed, want)
	}
}

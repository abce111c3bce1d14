package imagebuilder

import (
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"

	"github.com/faaspot/faaspot/hardening"
)

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// sharedImg is an image of the fake engine: tag, creation time, the dependencies image it names
// ("" for none) and its labels as key, value pairs (LabelManaged always).
func sharedImg(tag string, created int64, deps string, kv ...string) image.Summary {
	l := map[string]string{LabelManaged: "true"}
	if deps != "" {
		l[LabelDeps] = deps
	}
	for i := 0; i+1 < len(kv); i += 2 {
		l[kv[i]] = kv[i+1]
	}
	return image.Summary{ID: "sha256:" + tag, RepoTags: []string{tag}, Created: created, Labels: l}
}

// TestPruneSharedDeps: Prune removes a deployment's old images, then the shared dependencies
// images they were built on unless a kept image, a young one, an image of another deployment of
// the tenant or a build in progress still uses them; never another tenant's, even named.
func TestPruneSharedDeps(t *testing.T) {
	old, young := time.Now().Add(-time.Hour).Unix(), time.Now().Unix()
	const (
		kept, alone, shared, fresh, building = "faaspot/t-t1/deps:kept", "faaspot/t-t1/deps:alone",
			"faaspot/t-t1/deps:shared", "faaspot/t-t1/deps:fresh", "faaspot/t-t1/deps:building"
		foreign = "faaspot/t-t2/deps:x"
	)
	engine := &fakeImages{imgs: []image.Summary{
		sharedImg(kept, old, ""), sharedImg(alone, old, ""), sharedImg(shared, old, ""),
		sharedImg(fresh, old, ""), sharedImg(building, old, ""), sharedImg(foreign, old, ""),
		sharedImg("faaspot/t-t1/d-fn:c1", old, kept),
		sharedImg("faaspot/t-t1/d-fn:c2", old, kept),
		sharedImg("faaspot/t-t1/d-fn:c3", old, alone),
		sharedImg("faaspot/t-t1/d-fn:c4", old, shared),
		sharedImg("faaspot/t-t1/d-other:c1", old, shared),
		sharedImg("faaspot/t-t1/d-fn:c5", old, fresh),
		sharedImg("faaspot/t-t1/d-fn:c6", young, fresh),
		sharedImg("faaspot/t-t1/d-fn:c7", old, building),
		sharedImg("faaspot/t-t1/d-fn:c8", old, foreign), // a label rewritten to name another tenant's
	}}
	b := New(engine, Config{}, discardLog)
	defer b.depsLocks.use(building)()
	n, err := b.Prune(t.Context(), Ref{"t1", "fn"}, []string{"faaspot/t-t1/d-fn:c1"}, 15*time.Minute)
	want := []string{"faaspot/t-t1/d-fn:c2", "faaspot/t-t1/d-fn:c3", "faaspot/t-t1/d-fn:c4", "faaspot/t-t1/d-fn:c5",
		"faaspot/t-t1/d-fn:c7", "faaspot/t-t1/d-fn:c8", alone}
	if err != nil || !slices.Equal(slices.Sorted(slices.Values(engine.removed)), want) || engine.removed[len(want)-1] != alone {
		t.Fatalf("Prune = %d, %v; asked to remove %q\nwant %q, the dependencies image last", n, err, engine.removed, want)
	}
	if n != 7 || !engine.has(shared) || engine.has(alone) || !engine.has(kept) || !engine.has(fresh) ||
		!engine.has(building) || !engine.has(foreign) {
		t.Errorf("Prune = %d; want 7 tags removed: the deployment images and the dependencies image only they used", n)
	}

	// The other deployment goes: the dependencies image it shared goes with it.
	if err := b.Remove(t.Context(), "t1", "other"); err != nil || engine.has(shared) {
		t.Errorf("Remove of the last user = %v; shared dependencies image kept: %v", err, engine.has(shared))
	}
}

// TestRemoveImageSharedDeps: RemoveImage takes a dependencies image with it only once no tagged
// image names it; an untagged one does not keep it, nor does an image in use fail the rest.
func TestRemoveImageSharedDeps(t *testing.T) {
	old := time.Now().Add(-time.Hour).Unix()
	const deps = "faaspot/t-t1/deps:h"
	dangling := sharedImg("x", old, deps)
	dangling.RepoTags = []string{"<none>:<none>"}
	engine := &fakeImages{imgs: []image.Summary{sharedImg(deps, old, ""),
		sharedImg("faaspot/t-t1/d-a:1", old, deps), sharedImg("faaspot/t-t1/d-b:1", old, deps), dangling}}
	b := New(engine, Config{}, discardLog)
	if err := b.RemoveImage(t.Context(), "faaspot/t-t1/d-a:1"); err != nil || !engine.has(deps) {
		t.Fatalf("RemoveImage of one user = %v; dependencies image kept: %v, want kept", err, engine.has(deps))
	}
	engine.inUse = map[string]bool{"faaspot/t-t1/d-b:1": true}
	if err := b.RemoveImage(t.Context(), "faaspot/t-t1/d-b:1"); err == nil || !engine.has(deps) {
		t.Fatalf("RemoveImage of an image in use = %v; want its error, the dependencies image kept", err)
	}
	engine.inUse = nil
	done := b.depsLocks.use(deps) // a build on it
	if err := b.RemoveImage(t.Context(), "faaspot/t-t1/d-b:1"); err != nil || !engine.has(deps) {
		t.Fatalf("RemoveImage during a build on its dependencies = %v; want the dependencies image kept", err)
	}
	done()
	engine.imgs = append(engine.imgs, sharedImg("faaspot/t-t1/d-b:2", old, deps))
	if err := b.RemoveImage(t.Context(), "faaspot/t-t1/d-b:2"); err != nil || engine.has(deps) {
		t.Errorf("RemoveImage of the last user = %v; dependencies image kept: %v", err, engine.has(deps))
	}
}

// TestPruneDeps: the janitor's pass removes this node's shared dependencies images (whatever
// their store) that are older than the cut-off and that no tagged image, of any node, names, nor
// a build of this builder uses; never another node's, an unmanaged one or a deployment's.
func TestPruneDeps(t *testing.T) {
	now := time.Now()
	old, young := now.Add(-time.Hour).Unix(), now.Unix()
	mine := func(tag string, created int64, kv ...string) image.Summary {
		return sharedImg(tag, created, "", append([]string{hardening.LabelNode, "n1", "io.faaspot.store", "s2"}, kv...)...)
	}
	engine := &fakeImages{imgs: []image.Summary{
		mine("faaspot/t-t1/deps:orphan", old),
		mine("faaspot/t-t1/deps:old-store", old, "io.faaspot.store", "s1"),
		mine("faaspot/t-t1/deps:young", young),
		mine("faaspot/t-t1/deps:used", old),
		mine("faaspot/t-t1/deps:used-by-n2", old),
		mine("faaspot/t-t1/deps:building", old),
		mine("faaspot/t-t1/d-legacy:deps-1", old), // an earlier release's: goes with its deployment
		sharedImg("faaspot/t-t1/deps:n2", old, "", hardening.LabelNode, "n2"),
		{RepoTags: []string{"faaspot/t-t1/deps:unmanaged"}, Created: old, Labels: map[string]string{hardening.LabelNode: "n1"}},
		mine("faaspot/t-t1/d-a:1", old, LabelDeps, "faaspot/t-t1/deps:used"),
		sharedImg("faaspot/t-t1/d-b:1", old, "faaspot/t-t1/deps:used-by-n2", hardening.LabelNode, "n2"),
	}}
	b := New(engine, Config{Labels: map[string]string{"io.faaspot.store": "s2"}, Sandbox: hardening.Config{Node: "n1"}}, discardLog)
	defer b.depsLocks.use("faaspot/t-t1/deps:building")()
	n, err := b.PruneDeps(t.Context(), now.Add(-15*time.Minute))
	want := []string{"faaspot/t-t1/deps:orphan", "faaspot/t-t1/deps:old-store"}
	if err != nil || n != 2 || !slices.Equal(engine.removed, want) {
		t.Errorf("PruneDeps = %d, %v; removed %q, want %q", n, err, engine.removed, want)
	}
	if _, err := New(engine, Config{}, discardLog).PruneDeps(t.Context(), now); err == nil {
		t.Error("a builder without a node pruned dependencies images; want a refusal")
	}
}

// TestRemoveOwnedDeps: retiring a node removes its dependencies images too, the unused ones.
func TestRemoveOwnedDeps(t *testing.T) {
	old := time.Now().Add(-time.Hour).Unix()
	engine := &fakeImages{imgs: []image.Summary{
		sharedImg("faaspot/t-t1/deps:a", old, "", hardening.LabelNode, "n1"),
		sharedImg("faaspot/t-t1/deps:orphan", old, "", hardening.LabelNode, "n1"),
		sharedImg("faaspot/t-t1/deps:b", old, "", hardening.LabelNode, "n1"),
		sharedImg("faaspot/t-t1/d-x:1", old, "faaspot/t-t1/deps:a", hardening.LabelNode, "n1"),
		sharedImg("faaspot/t-t1/d-y:1", old, "faaspot/t-t1/deps:b", hardening.LabelNode, "n2"),
	}}
	b := New(engine, Config{Labels: map[string]string{hardening.LabelNode: "n1"}}, discardLog)
	if err := b.RemoveOwned(t.Context()); err != nil {
		t.Fatal(err)
	}
	for tag, want := range map[string]bool{"faaspot/t-t1/deps:a": false, "faaspot/t-t1/deps:orphan": false,
		"faaspot/t-t1/d-x:1": false, "faaspot/t-t1/deps:b": true, "faaspot/t-t1/d-y:1": true} {
		if engine.has(tag) != want {
			t.Errorf("after RemoveOwned %s on the engine: %v, want %v", tag, !want, want)
		}
	}
}

package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/imagebuilder"
)

func TestSweepImages(t *testing.T) {
	ref := func(tid, did string) imagebuilder.Ref { return imagebuilder.Ref{TenantID: tid, DeploymentID: did} }
	owned := []imagebuilder.Ref{ref("t1", "gone"), ref("t1", "building"), ref("t1", "ready"), ref("t1", "failed")}
	tests := []struct {
		name    string
		setup   func(tw *testWorkers)
		cleaned int
		wantErr bool
		gone    []imagebuilder.Ref
		retired []string
		pruned  []pruneCall
	}{
		{name: "deleted removed, building left alone, others pruned keeping the ready image",
			setup:   func(tw *testWorkers) { tw.builder.pruneN = 1 },
			cleaned: 3, gone: []imagebuilder.Ref{ref("t1", "gone")}, retired: []string{"t1/gone/"},
			pruned: []pruneCall{{ref("t1", "ready"), "img/ready:v1", 15 * time.Minute}, {ref("t1", "failed"), "", 15 * time.Minute}}},
		{name: "nothing old to prune counts only the deleted one", setup: func(*testWorkers) {},
			cleaned: 1, gone: []imagebuilder.Ref{ref("t1", "gone")}, retired: []string{"t1/gone/"},
			pruned: []pruneCall{{ref("t1", "ready"), "img/ready:v1", 15 * time.Minute}, {ref("t1", "failed"), "", 15 * time.Minute}}},
		{name: "images in use are kept for the next pass", setup: func(tw *testWorkers) {
			tw.builder.rmErr = errors.New("image is being used by a running container")
			tw.builder.pruneErr = errors.New("image is being used by a running container")
		}, gone: []imagebuilder.Ref{ref("t1", "gone")}, retired: []string{"t1/gone/"},
			pruned: []pruneCall{{ref("t1", "ready"), "img/ready:v1", 15 * time.Minute}, {ref("t1", "failed"), "", 15 * time.Minute}}},
		{name: "the images of the kept versions are kept", setup: func(tw *testWorkers) {
			tw.store.kept = map[int]faaspot.VersionInfo{1: {Version: 1, Image: "img/v:1"}, 2: {Version: 2}}
		}, cleaned: 1, gone: []imagebuilder.Ref{ref("t1", "gone")}, retired: []string{"t1/gone/"},
			pruned: []pruneCall{{ref("t1", "ready"), "img/ready:v1,img/v:1", 15 * time.Minute}, {ref("t1", "failed"), ",img/v:1", 15 * time.Minute}}},
		{name: "engine cannot list images", wantErr: true,
			setup: func(tw *testWorkers) { tw.builder.ownedErr = errors.New("engine down") }},
		{name: "store cannot list deployments: nothing removed", wantErr: true,
			setup: func(tw *testWorkers) { tw.store.listErr = fmt.Errorf("%w: timeout", faaspot.ErrUnavailable) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			tw.builder.owned = owned
			tw.store.deps = map[string]faaspot.Deployment{
				"building": {ID: "building", Name: "building", Status: faaspot.StatusBuilding, ReadyVersion: 1, Image: "img/building:v1"},
				"ready":    {ID: "ready", Name: "ready", Status: faaspot.StatusReady, ReadyVersion: 1, Image: "img/ready:v1"},
				"failed":   {ID: "failed", Name: "failed", Status: faaspot.StatusFailed},
			}
			tt.setup(tw)
			n, err := tw.sweepImages(t.Context())
			if (err != nil) != tt.wantErr || n != tt.cleaned {
				t.Fatalf("sweepImages = %d, %v; want %d, error %v", n, err, tt.cleaned, tt.wantErr)
			}
			_, _, retired := tw.runner.snapshot()
			if !slices.Equal(tw.builder.gone, tt.gone) || !slices.Equal(retired, tt.retired) || !slices.Equal(tw.builder.pruned, tt.pruned) {
				t.Errorf("removed %v, retired %q, pruned %+v; want %v, %q, %+v", tw.builder.gone, retired, tw.builder.pruned, tt.gone, tt.retired, tt.pruned)
			}
			if n := tw.calls.count("store.ListDeployments"); n > 1 {
				t.Errorf("listed one tenant's deployments %d times", n)
			}
		})
	}
}

func TestJanitorLoop(t *testing.T) {
	tests := []struct {
		name      string
		ownedErr  error
		cancelled bool // the janitor's context ended before its first pass
		passes    int
		removed   bool   // the deleted deployment's images went
		logged    string // a line every pass logs, "" for none
	}{
		{name: "cleans at start and on each tick", passes: 2, removed: true,
			logged: `msg="image janitor: removed images nothing will run again" deployments=1`},
		{name: "a failing pass is logged and the loop goes on", passes: 2, ownedErr: errors.New("engine down"),
			logged: `level=WARN msg="image janitor: pass failed" err="engine down"`},
		{name: "a pass cut short by shutdown is not logged", passes: 1, cancelled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			tw.builder.owned = []imagebuilder.Ref{{TenantID: "t1", DeploymentID: "gone"}}
			tw.builder.ownedErr = tt.ownedErr
			tw.builder.sweeps = make(chan struct{})
			ctx, cancel := context.WithCancel(t.Context())
			if tt.cancelled {
				cancel() // Owned fails with the context, before it signals a pass
			}
			done := make(chan struct{})
			go func() { defer close(done); tw.janitorLoop(ctx) }()
			if !tt.cancelled {
				await(t, tw.builder.sweeps, "the pass at start")
				tw.clock.waitFor(t, tw.set.janitorInterval)
				tw.clock.Advance(tw.set.janitorInterval)
				// The first pass logged before the loop waited for the tick.
				await(t, tw.builder.sweeps, "the pass on the tick")
			}
			cancel()
			await(t, done, "the janitor to stop")
			if n := tw.calls.count("builder.Owned"); n != tt.passes {
				t.Errorf("%d passes, want %d", n, tt.passes)
			}
			if n := tw.calls.count("builder.Remove"); (n > 0) != tt.removed {
				t.Errorf("removed the deleted deployment's images %d times, want some %v: %s", n, tt.removed, tw.calls)
			}
			if tt.logged != "" && len(tw.logs.lines(tt.logged)) == 0 {
				t.Errorf("no line %s in the log:\n%s", tt.logged, tw.logs)
			}
			if lines := tw.logs.lines("image janitor"); tt.logged == "" && len(lines) != 0 {
				t.Errorf("logged %q, want nothing", lines)
			}
		})
	}
}

// strayBuilder is the fake builder with the Strays of *imagebuilder.Builder: it lists strays
// (recording the cut-off asked for) and signals each call on passes when that is set.
type strayBuilder struct {
	*fakeBuilder
	strays   []imagebuilder.Stray
	strayErr error
	before   []time.Time
	passes   chan struct{}
}

func (b *strayBuilder) Strays(ctx context.Context, before time.Time) ([]imagebuilder.Stray, error) {
	b.log.add("builder.Strays")
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if b.passes != nil {
		b.passes <- struct{}{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.before = append(b.before, before)
	return slices.Clone(b.strays), b.strayErr
}

// withStrays gives tw's workers a builder that lists strays.
func withStrays(tw *testWorkers, strays ...imagebuilder.Stray) *strayBuilder {
	sb := &strayBuilder{fakeBuilder: tw.builder, strays: strays}
	tw.workers.builder = sb
	return sb
}

func TestSweepStrays(t *testing.T) {
	stray := func(did, tag string) imagebuilder.Stray {
		return imagebuilder.Stray{Ref: imagebuilder.Ref{TenantID: "t-old", DeploymentID: did}, Tag: tag}
	}
	strays := []imagebuilder.Stray{stray("gone", "faaspot/t-t-old/d-gone:c1"), stray("held", "faaspot/t-t-old/d-held:c1"),
		stray("gone", "faaspot/t-t-old/d-gone:deps-1")}
	tests := []struct {
		name     string
		setup    func(tw *testWorkers, sb *strayBuilder)
		removed  int
		wantErr  bool
		asked    []string // tags given to RemoveImage
		keptLogs int      // "image of another store kept" lines naming an error
	}{
		{name: "removed unless the store holds the deployment", setup: func(*testWorkers, *strayBuilder) {},
			removed: 2, asked: []string{"faaspot/t-t-old/d-gone:c1", "faaspot/t-t-old/d-gone:deps-1"}},
		{name: "images in use are kept for the next pass", setup: func(tw *testWorkers, _ *strayBuilder) {
			tw.builder.rmImageErr = errors.New("image is being used by a running container")
		}, asked: []string{"faaspot/t-t-old/d-gone:c1", "faaspot/t-t-old/d-gone:deps-1"}, keptLogs: 2},
		{name: "an image gone already (with its deployment image) is not counted nor logged",
			setup: func(tw *testWorkers, _ *strayBuilder) {
				tw.builder.rmImageErr = fmt.Errorf("remove image x: %w", cerrdefs.ErrNotFound)
			}, asked: []string{"faaspot/t-t-old/d-gone:c1", "faaspot/t-t-old/d-gone:deps-1"}},
		{name: "engine cannot list images", wantErr: true,
			setup: func(_ *testWorkers, sb *strayBuilder) { sb.strayErr = errors.New("engine down") }},
		{name: "store cannot list deployments: nothing removed", wantErr: true,
			setup: func(tw *testWorkers, _ *strayBuilder) {
				tw.store.listErr = fmt.Errorf("%w: timeout", faaspot.ErrUnavailable)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			tw.store.deps = map[string]faaspot.Deployment{"held": {ID: "held", Name: "held", Status: faaspot.StatusReady}}
			sb := withStrays(tw, strays...)
			tt.setup(tw, sb)
			n, err := tw.sweepStrays(t.Context())
			if (err != nil) != tt.wantErr || n != tt.removed {
				t.Fatalf("sweepStrays = %d, %v; want %d, error %v", n, err, tt.removed, tt.wantErr)
			}
			if !slices.Equal(tw.builder.removed, tt.asked) {
				t.Errorf("removed %q, want %q", tw.builder.removed, tt.asked)
			}
			if want := tw.clock.Now().Add(-15 * time.Minute); !slices.Equal(sb.before, []time.Time{want}) {
				t.Errorf("strays asked for images created before %v, want %v (the grace)", sb.before, want)
			}
			if got := len(tw.logs.lines(`msg="image janitor: image of another store kept"`, "err=")); got != tt.keptLogs {
				t.Errorf("%d lines about kept images, want %d:\n%s", got, tt.keptLogs, tw.logs)
			}
			if n := tw.calls.count("store.ListDeployments"); n > 1 {
				t.Errorf("listed one tenant's deployments %d times", n)
			}
		})
	}
	t.Run("a builder without strays", func(t *testing.T) {
		tw := newTestWorkers(t)
		if n, err := tw.sweepStrays(t.Context()); n != 0 || err != nil || tw.calls.String() != "" {
			t.Errorf("sweepStrays = %d, %v with calls %q; want nothing done", n, err, tw.calls)
		}
	})
}

// TestJanitorLoopStrays: each janitor pass removes the strays too, and says how many it removed;
// a failing listing is logged and the loop goes on.
func TestJanitorLoopStrays(t *testing.T) {
	for _, tt := range []struct {
		name, logged string
		strayErr     error
	}{
		{name: "removed and logged",
			logged: `msg="image janitor: removed images this node built for stores it no longer sees" images=1`},
		{name: "failure logged", strayErr: errors.New("engine down"),
			logged: `level=WARN msg="image janitor: pass over other stores' images failed" err="engine down"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			sb := withStrays(tw, imagebuilder.Stray{Ref: imagebuilder.Ref{TenantID: "t-old", DeploymentID: "gone"}, Tag: "faaspot/t-t-old/d-gone:c1"})
			sb.strayErr, sb.passes = tt.strayErr, make(chan struct{})
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { defer close(done); tw.janitorLoop(ctx) }()
			await(t, sb.passes, "the pass at start")
			tw.clock.waitFor(t, tw.set.janitorInterval)
			tw.clock.Advance(tw.set.janitorInterval)
			await(t, sb.passes, "the pass on the tick") // the first pass logged before the loop waited
			cancel()
			await(t, done, "the janitor to stop")
			if len(tw.logs.lines(tt.logged)) == 0 {
				t.Errorf("no line %s in the log:\n%s", tt.logged, tw.logs)
			}
		})
	}
}

// TestSweepStraysWaitsForBuilds: the janitor removes no image of another store while this node
// builds (a build may take cached layers from it), and removes them once the build is over.
func TestSweepStraysWaitsForBuilds(t *testing.T) {
	tw := newTestWorkers(t)
	withStrays(tw, imagebuilder.Stray{Ref: imagebuilder.Ref{TenantID: "t-old", DeploymentID: "gone"}, Tag: "faaspot/t-t-old/d-gone:c1"})
	building, release := make(chan struct{}), make(chan struct{})
	tw.builder.build = func(ctx context.Context, spec imagebuilder.Spec) (string, string, error) {
		close(building)
		<-release
		return "img/x", "built\n", nil
	}
	built := make(chan error, 1)
	go func() {
		_, _, err := tw.buildSpec(t.Context(), imagebuilder.Spec{TenantID: "t", DeploymentID: "d"})
		built <- err
	}()
	<-building
	swept := make(chan int, 1)
	go func() {
		n, _ := tw.sweepStrays(t.Context())
		swept <- n
	}()
	select {
	case n := <-swept:
		t.Fatalf("the janitor removed %d images during a build", n)
	case <-time.After(100 * time.Millisecond): // a bound on how long it is watched, not a timing assumption
	}
	if len(tw.builder.removed) != 0 {
		t.Fatalf("removed %q during a build", tw.builder.removed)
	}
	close(release)
	if err := <-built; err != nil {
		t.Fatal(err)
	}
	if n := <-swept; n != 1 {
		t.Errorf("after the build the janitor removed %d images, want 1", n)
	}
}

// depsBuilder is the fake builder with the PruneDeps of *imagebuilder.Builder: it records the
// cut-off asked for, answers n, err, and signals each call on passes when that is set.
type depsBuilder struct {
	*fakeBuilder
	n      int
	err    error
	before []time.Time
	passes chan struct{}
}

func (b *depsBuilder) PruneDeps(ctx context.Context, before time.Time) (int, error) {
	b.log.add("builder.PruneDeps")
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if b.passes != nil {
		b.passes <- struct{}{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.before = append(b.before, before)
	return b.n, b.err
}

// TestSweepDeps: each janitor pass asks the builder to remove the dependencies images nothing
// uses, older than the grace, and logs what it did; a failure is logged and the loop goes on.
func TestSweepDeps(t *testing.T) {
	for _, tt := range []struct {
		name   string
		n      int
		err    error
		logged string
	}{
		{name: "removed and logged", n: 2,
			logged: `msg="image janitor: removed dependencies images nothing uses" images=2`},
		{name: "failure logged", err: errors.New("engine down"),
			logged: `level=WARN msg="image janitor: pass over dependencies images failed" err="engine down"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			db := &depsBuilder{fakeBuilder: tw.builder, n: tt.n, err: tt.err, passes: make(chan struct{})}
			tw.workers.builder = db
			start := tw.clock.Now()
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { defer close(done); tw.janitorLoop(ctx) }()
			await(t, db.passes, "the pass at start")
			tw.clock.waitFor(t, tw.set.janitorInterval)
			tw.clock.Advance(tw.set.janitorInterval)
			await(t, db.passes, "the pass on the tick") // the first pass logged before the loop waited
			cancel()
			await(t, done, "the janitor to stop")
			want := []time.Time{start.Add(-15 * time.Minute), start.Add(tw.set.janitorInterval - 15*time.Minute)}
			if !slices.Equal(db.before, want) {
				t.Errorf("asked for dependencies images created before %v, want %v (the grace)", db.before, want)
			}
			if len(tw.logs.lines(tt.logged)) == 0 {
				t.Errorf("no line %s in the log:\n%s", tt.logged, tw.logs)
			}
		})
	}
	t.Run("a builder without PruneDeps", func(t *testing.T) {
		tw := newTestWorkers(t)
		if n, err := tw.sweepDeps(t.Context()); n != 0 || err != nil || tw.calls.String() != "" {
			t.Errorf("sweepDeps = %d, %v with calls %q; want nothing done", n, err, tw.calls)
		}
	})
}

// TestSweepDepsWaitsForBuilds: the janitor removes no dependencies image while this node builds.
func TestSweepDepsWaitsForBuilds(t *testing.T) {
	tw := newTestWorkers(t)
	db := &depsBuilder{fakeBuilder: tw.builder, n: 1}
	tw.workers.builder = db
	building, release := make(chan struct{}), make(chan struct{})
	tw.builder.build = func(ctx context.Context, spec imagebuilder.Spec) (string, string, error) {
		close(building)
		<-release
		return "img/x", "built\n", nil
	}
	built := make(chan error, 1)
	go func() {
		_, _, err := tw.buildSpec(t.Context(), imagebuilder.Spec{TenantID: "t", DeploymentID: "d"})
		built <- err
	}()
	<-building
	swept := make(chan int, 1)
	go func() {
		n, _ := tw.sweepDeps(t.Context())
		swept <- n
	}()
	select {
	case n := <-swept:
		t.Fatalf("the janitor removed %d dependencies images during a build", n)
	case <-time.After(100 * time.Millisecond): // a bound on how long it is watched, not a timing assumption
	}
	if tw.calls.count("builder.PruneDeps") != 0 {
		t.Fatal("PruneDeps called during a build")
	}
	close(release)
	if err := <-built; err != nil {
		t.Fatal(err)
	}
	if n := <-swept; n != 1 {
		t.Errorf("after the build the janitor removed %d dependencies images, want 1", n)
	}
}

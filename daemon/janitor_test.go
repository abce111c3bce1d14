package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

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

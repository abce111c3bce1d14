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
	tw := newTestWorkers(t)
	tw.builder.owned = []imagebuilder.Ref{{TenantID: "t1", DeploymentID: "gone"}}
	tw.builder.sweeps = make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); tw.janitorLoop(ctx) }()
	<-tw.builder.sweeps // at start
	tw.clock.waitFor(t, tw.set.janitorInterval)
	tw.clock.Advance(tw.set.janitorInterval)
	<-tw.builder.sweeps // on the tick
	cancel()
	await(t, done, "the janitor to stop")
	if n := tw.calls.count("builder.Owned"); n != 2 {
		t.Errorf("%d passes, want 2", n)
	}
	if n := tw.calls.count("builder.Remove"); n < 1 {
		t.Errorf("the deleted deployment's images were not removed: %s", tw.calls)
	}
}

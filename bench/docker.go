package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/faaspot/faaspot/imagebuilder"
	"github.com/faaspot/faaspot/sandbox"
)

// sandboxes lists the sandbox containers of one bench daemon (running ones only, unless all).
func (e *benchEnv) sandboxes(ctx context.Context, nodeID string, all bool) ([]container.Summary, error) {
	return e.docker.ContainerList(ctx, container.ListOptions{All: all, Filters: filters.NewArgs(
		filters.Arg("label", sandbox.LabelManaged+"=true"),
		filters.Arg("label", sandbox.LabelRole+"=sandbox"),
		filters.Arg("label", sandbox.LabelNode+"="+nodeID))})
}

// waitNoSandboxes waits (bounded) until a daemon has no container left: its background removals
// are done and do not compete with what is measured next.
func (e *benchEnv) waitNoSandboxes(ctx context.Context, nodeID string, limit time.Duration) {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		cs, err := e.sandboxes(ctx, nodeID, true)
		if err != nil || len(cs) == 0 {
			return
		}
	}
}

// sweepNode force-removes what is left of one bench daemon's containers: managed by faaspot and
// labelled with that daemon's node id, nothing else.
func (e *benchEnv) sweepNode(nodeID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := e.docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("label", sandbox.LabelManaged+"=true"),
		filters.Arg("label", sandbox.LabelNode+"="+nodeID))})
	if err != nil {
		return
	}
	for _, c := range cs {
		_ = e.docker.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
	}
}

// sweepBare force-removes the bare containers this bench run started and did not remove yet.
func (e *benchEnv) sweepBare() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := e.docker.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", labelBenchRun+"="+e.runID))})
	if err != nil {
		return
	}
	for _, c := range cs {
		_ = e.docker.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
	}
}

// removeImages removes the images a bench daemon built (they are the bench tenant's own): those
// its deployments were built into, and every image labelled with its node id (dependencies
// images included).
func (e *benchEnv) removeImages(nodeID string, images map[string]bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for ref := range images {
		_, _ = e.docker.ImageRemove(ctx, ref, image.RemoveOptions{Force: true, PruneChildren: true})
	}
	b := imagebuilder.New(e.docker, imagebuilder.Config{Labels: map[string]string{sandbox.LabelNode: nodeID}},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	_ = b.RemoveOwned(ctx)
}

// newestImage returns the newest code image (labelled with its dependencies image) of deployment
// id's repository (imagebuilder.Repository, whatever the tenant).
func (e *benchEnv) newestImage(ctx context.Context, id string) (string, error) {
	list, err := e.docker.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(
		filters.Arg("reference", "faaspot/*/d-"+id))})
	if err != nil {
		return "", err
	}
	var ref string
	var created int64
	for _, img := range list {
		if len(img.RepoTags) > 0 && img.Labels[imagebuilder.LabelDeps] != "" && img.Created >= created {
			ref, created = img.RepoTags[0], img.Created
		}
	}
	if ref == "" {
		return "", fmt.Errorf("no image of deployment %s on the engine", id)
	}
	return ref, nil
}

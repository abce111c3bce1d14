package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/faaspot/faaspot/hardening"
	"github.com/faaspot/faaspot/internal/dockertest"
)

// TestRemoveOrphansDocker: on a real engine, RemoveOrphans removes the run and check containers
// of its node, and leaves another node's alone.
func TestRemoveOrphansDocker(t *testing.T) {
	cli, img := dockertest.Engine(t)
	ctx := context.Background()
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	nodeA, nodeB := "orphans-a-"+hex.EncodeToString(suffix), "orphans-b-"+hex.EncodeToString(suffix)
	create := func(node, role string) string {
		cfg := hardening.Config{Node: node}
		cc := hardening.ContainerConfig(cfg, role)
		cc.Image, cc.Entrypoint, cc.Cmd = img, []string{"true"}, nil
		created, err := cli.ContainerCreate(ctx, cc, hardening.HostConfig(cfg, hardening.Resources{MemoryBytes: 32 << 20, NanoCPUs: 1e8}), nil, nil, "")
		if err != nil {
			t.Fatalf("create %s container of %s: %v", role, node, err)
		}
		t.Cleanup(func() {
			_ = cli.ContainerRemove(context.Background(), created.ID, container.RemoveOptions{Force: true})
		})
		return created.ID
	}
	create(nodeA, hardening.RoleSandbox)
	create(nodeA, hardening.RoleCheck)
	other := create(nodeB, hardening.RoleSandbox)

	cfg := DefaultConfig()
	cfg.Node = nodeA
	s := mustNewConfig(t, cli, cfg)
	if n, err := s.RemoveOrphans(ctx); err != nil || n != 2 {
		t.Errorf("RemoveOrphans = %d, %v; want node A's 2 containers removed", n, err)
	}
	left := func(node string) []container.Summary {
		list, err := cli.ContainerList(ctx, container.ListOptions{All: true,
			Filters: filters.NewArgs(filters.Arg("label", LabelNode+"="+node))})
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	if l := left(nodeA); len(l) != 0 {
		t.Errorf("%d containers of node A left", len(l))
	}
	if l := left(nodeB); len(l) != 1 || l[0].ID != other {
		t.Errorf("node B's containers = %v, want its one container untouched", l)
	}
}

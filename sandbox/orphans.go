package sandbox

import (
	"context"
	"fmt"

	"github.com/docker/docker/api/types/container"

	"github.com/faaspot/faaspot/hardening"
)

// RemoveOrphans removes every container of this node (Config.Node) — runs and the image
// builder's checks alike: all that carry LabelManaged and this node's LabelNode — left over by an
// earlier life of the node that died mid-run or mid-build. Other nodes' containers on the same
// engine are never touched. Call it at start-up, before any run or build: it would remove their
// containers too. It returns how many it removed; an error wrapping ErrEngine means the
// containers could not be listed (a container that could not be removed is skipped).
func (s *Sandbox) RemoveOrphans(ctx context.Context) (int, error) {
	list, err := s.docker.ContainerList(ctx, container.ListOptions{All: true, Filters: hardening.NodeFilter(s.cfg.Node)})
	if err != nil {
		return 0, fmt.Errorf("list orphans of node %q: %w: %w", s.cfg.Node, ErrEngine, err)
	}
	n := 0
	for _, c := range list {
		if err := s.docker.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil {
			s.log.Debug("remove orphan", "container", short(c.ID), "err", err)
			continue
		}
		n++
	}
	return n, nil
}

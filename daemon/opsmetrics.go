package daemon

import (
	"context"
	"fmt"

	"github.com/faaspot/faaspot/metrics"
	"github.com/faaspot/faaspot/sandbox"
)

// registerEngineMetrics registers the collectors read from the engine and the sandbox at scrape
// time: faaspot_engine_up and faaspot_warm_containers.
func (d *Daemon) registerEngineMetrics() {
	metrics.RegisterUp(d.Registry, "faaspot_engine_up",
		"1 when the container engine answered a ping at this scrape (within a second), 0 otherwise.",
		func(ctx context.Context) error {
			if _, err := d.docker.Ping(ctx); err != nil {
				return fmt.Errorf("ping the engine: %w", err)
			}
			return nil
		})
	metrics.RegisterWarmPool(d.Registry, func() []metrics.PoolCount { return poolCounts(d.sandbox.Containers()) })
}

// poolCounts converts the sandbox's container counts into the metric's.
func poolCounts(in []sandbox.ModeCount) []metrics.PoolCount {
	out := make([]metrics.PoolCount, len(in))
	for i, c := range in {
		out[i] = metrics.PoolCount{Mode: string(c.Mode), Idle: c.Idle, Busy: c.Busy}
	}
	return out
}

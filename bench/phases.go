package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/faaspot/faaspot/daemon"
	"github.com/faaspot/faaspot/sandbox"
)

// session is one bench run: the environment, the options and the figures measured so far.
type session struct {
	e       *benchEnv
	o       Options
	started time.Time
	res     results
}

// step announces a phase on the progress writer, with the time spent so far.
func (s *session) step(what string) {
	fmt.Fprintf(s.e.progress, "bench: %-40s (%.0f s)\n", what, time.Since(s.started).Seconds())
}

// measure runs the phases in an order that lets later ones reuse the daemons of earlier ones:
// cold, warm latency and throughput, idle memory, redeploys, async accepts.
func (s *session) measure(ctx context.Context) error {
	var err error
	s.step("1. cold sync runs vs bare docker run")
	if s.res.Cold, err = s.e.benchCold(ctx, s.o.ColdSamples, s.o.ColdWarmup); err != nil {
		return fmt.Errorf("cold: %w", err)
	}
	fork, image, err := s.warm(ctx)
	if err != nil {
		return err
	}
	if err := s.memoryAndDeploys(ctx, fork, image); err != nil {
		return err
	}
	return s.async(ctx, fork)
}

// loadConfig sizes a daemon for concurrency, unthrottled for the bench tenant, in a warm mode.
func loadConfig(mode sandbox.Mode) func(*daemon.Config) {
	return func(c *daemon.Config) {
		c.WarmMode = mode
		c.Workers, c.MaxConcurrentRuns, c.WarmMaxIdle = 16, 16, 16
		c.RequestsPerSecond, c.MaxQueuedRuns = 100000, 1000000
	}
}

// warm measures warm latency and throughput on one daemon per isolation mode. It closes the
// process-mode daemon and returns the fork-mode one, with the image of its hello deployment.
func (s *session) warm(ctx context.Context) (fork *node, image string, err error) {
	s.step("3. warm sync latency, fork and process")
	if fork, err = s.e.startNode(ctx, "fork", loadConfig(sandbox.ModeFork)); err != nil {
		return nil, "", err
	}
	proc, err := s.e.startNode(ctx, "process", loadConfig(sandbox.ModeProcess))
	if err != nil {
		return nil, "", err
	}
	dep, _, err := fork.deploy(ctx, "hello", helloCode(0))
	if err != nil {
		return nil, "", err
	}
	if _, _, err := proc.deploy(ctx, "hello", helloCode(0)); err != nil {
		return nil, "", err
	}
	if s.res.Warm, err = s.e.benchWarmModes(ctx, fork, proc, "hello", s.o.WarmWarmup, s.o.WarmRuns); err != nil {
		return nil, "", fmt.Errorf("warm: %w", err)
	}

	s.step("4. warm sync throughput, process then fork")
	clients := []int{1, 16, 64}
	for _, n := range []*node{proc, fork} {
		t, err := s.e.benchThroughput(ctx, n, "hello", clients, s.o.LoadDuration, s.o.LoadLimit)
		if err != nil {
			return nil, "", fmt.Errorf("throughput: %w", err)
		}
		s.res.Throughput = append(s.res.Throughput, t...)
	}
	proc.close()
	return fork, dep.Image, nil
}

// memoryAndDeploys reads the idle memory of fork's pool next to bare containers of image, then
// measures redeploys and their first runs on fork.
func (s *session) memoryAndDeploys(ctx context.Context, fork *node, image string) error {
	var err error
	s.step("7. idle memory, warm vs bare")
	time.Sleep(time.Second) // the pool's containers have gone idle
	if s.res.Memory, err = s.e.benchMemory(ctx, fork, image, 8, 3); err != nil {
		return fmt.Errorf("memory: %w", err)
	}

	s.step("2+6. redeploys and first runs")
	if s.res.Deploy, err = s.e.benchDeploys(ctx, fork, s.o.DeploySamples); err != nil {
		return fmt.Errorf("deploys: %w", err)
	}
	return nil
}

// async measures the accept rate on fork (whose workers run what it accepts), closes fork, then
// measures an API-only node joining fork's key prefix and tenant.
func (s *session) async(ctx context.Context, fork *node) error {
	s.step("5. async accept rate")
	s.res.Async = s.e.benchAsync(ctx, fork, "hello", s.o.AsyncClients, s.o.AsyncDuration, s.o.AsyncLimit)
	if s.res.Async.Accepted == 0 {
		return fmt.Errorf("async: nothing accepted: %s", s.res.Async.FirstError)
	}
	fork.close() // its workers stop; the runs still queued stay queued

	s.step("5. async accept rate, API-only node")
	api, err := s.e.startNodeAs(ctx, "api", func(c *daemon.Config) {
		c.Role, c.KeyPrefix, c.DataDir = "api", fork.cfg.KeyPrefix, fork.cfg.DataDir
		c.RequestsPerSecond, c.MaxQueuedRuns = 100000, 1000000
	}, fork.token)
	if err != nil {
		return err
	}
	s.res.AsyncAPIOnly = s.e.benchAsync(ctx, api, "hello", s.o.AsyncClients, s.o.AsyncDuration, s.o.AsyncLimit)
	api.close()
	return nil
}

// Package bench measures faaspot against the physical floor of this machine, in one run against
// real Docker and a real Redis (redis-server from PATH on a free loopback port, or
// FAASPOT_REDIS_URL), with faaspotd built from this module and started as subprocesses (default
// configuration, tenant quotas raised out of the way), in phases (see AllPhases): cold runs
// against a bare `docker run` of the same image, interleaved; warm latency from a Go client;
// wrk loads of warm sync runs at 1 to 64 connections, with the CPU time per run of every process
// on the path and a CPU profile of the daemon; async accepts on an all-in-one and an API-only
// node; idle memory; code-only redeploys; Redis memory per execution; many deployments; listing
// executions with many records stored.
//
// Run prints a table with each figure next to its target and writes the figures as JSON.
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// Options are the settings of one bench run. DefaultOptions holds the defaults of every one.
type Options struct {
	Phases        []string // the phases to run (see AllPhases, ParsePhases)
	ColdSamples   int      // measured cold pairs (bare docker run, faaspot cold run)
	ColdWarmup    int      // unmeasured cold pairs first
	DeploySamples int      // code-only redeploys, each followed by its first run
	WarmRuns      int      // measured warm sync runs per isolation mode (Go client)
	WarmWarmup    int      // unmeasured warm sync runs per mode first
	// Connections are the wrk sync loads' connection counts; the most connections also get the
	// CPU breakdown and the profiled load. AsyncConnections are the async loads'.
	Connections      []int
	AsyncConnections []int
	LoadDuration     time.Duration // measured time of each wrk load (whole seconds)
	ProfileSeconds   int           // length of the daemon's CPU profile
	CostExecutions   int           // completed async runs of the Redis memory figure
	ScaleDeployments int           // deployments made at once in the scale phase
	ScaleBound       time.Duration // how long the scale phase waits for them to be ready
	ListRecords      int           // execution records stored for the listing
	ListRequests     int           // measured GET /v1/executions requests
	Out              string        // where to write the JSON results
	// LogDir receives the daemons' logs, wrk's outputs and the daemon's profile (empty: logs
	// discarded, profile in a temp dir removed at the end).
	LogDir  string
	Timeout time.Duration // give up after this long (0: only the caller's context limits the run)
	// Getenv reads FAASPOT_BASE_IMAGE (required), FAASPOT_REDIS_URL and the daemons' own
	// FAASPOT_* settings (the daemons inherit the bench's environment). Nil is an empty one.
	Getenv func(string) string
}

// DefaultOptions returns the settings of `make bench`, reading the process environment (and
// FAASPOT_BENCH_PHASES for the phases, every one when it is not set or not valid).
func DefaultOptions() Options {
	phases, err := ParsePhases(os.Getenv("FAASPOT_BENCH_PHASES"))
	if err != nil {
		phases = AllPhases
	}
	return Options{
		Phases:           phases,
		ColdSamples:      30,
		ColdWarmup:       3,
		DeploySamples:    8,
		WarmRuns:         2000,
		WarmWarmup:       100,
		Connections:      []int{1, 16, 64},
		AsyncConnections: []int{16, 64},
		LoadDuration:     5 * time.Second,
		ProfileSeconds:   8,
		CostExecutions:   5000,
		ScaleDeployments: 200,
		ScaleBound:       300 * time.Second,
		ListRecords:      100000,
		ListRequests:     200,
		Out:              "bench-results/bench.json",
		LogDir:           "bench-results",
		Timeout:          15 * time.Minute,
		Getenv:           os.Getenv,
	}
}

// Run measures every phase, prints the table to stdout and writes the JSON results to opts.Out;
// progress lines go to stderr. It needs FAASPOT_BASE_IMAGE, a Docker engine, and redis-server on
// PATH or FAASPOT_REDIS_URL. Whatever happens, it stops every daemon and removes every container,
// image and Redis key it made before it returns. When ctx ends (or opts.Timeout passes) first, it
// returns the context's error, possibly wrapped with the phase it ended.
func Run(ctx context.Context, opts Options, stdout, stderr io.Writer) error {
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	started := time.Now()
	if len(opts.Phases) == 0 || len(opts.Connections) == 0 {
		return fmt.Errorf("no phase or no connection count to measure")
	}
	e, err := newEnv(ctx, opts, stderr)
	if e != nil {
		defer e.close() // every daemon, container, image and key the bench made
	}
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	s := &session{e: e, o: opts, started: started, res: results{
		When: time.Now().UTC(), Store: e.redis.kind(), BaseImage: e.baseImage, Machine: e.machine(ctx)}}
	if err := s.measure(ctx); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return s.report(stdout)
}

// report judges the figures, prints the table to w and writes the JSON results.
func (s *session) report(w io.Writer) error {
	s.res.TotalS = time.Since(s.started).Seconds()
	s.res.judge()
	s.res.print(w)
	if err := s.res.write(s.o.Out); err != nil {
		return err
	}
	fmt.Fprintf(s.e.progress, "bench: wrote %s\n", s.o.Out)
	return nil
}

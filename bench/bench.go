// Package bench measures faaspot against the physical floor of this machine, in one run against
// real Docker and a real Redis (redis-server from PATH on a free loopback port, or
// FAASPOT_REDIS_URL), with daemons started in-process:
//
//  1. cold sync runs (warm pool off) next to a bare `docker run` of the same image, interleaved;
//  2. the first run after a deploy and 6. code-only redeploys to ready;
//  3. warm sync latency in fork and process mode, interleaved in blocks;
//  4. warm sync throughput with 1, 16 and 64 clients, in both modes;
//  5. the async accept rate (and, not judged, that of an API-only node);
//  7. the memory of an idle warm container next to a bare idle one.
//
// Run prints a table with each figure next to its target and writes the figures as JSON.
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Options are the settings of one bench run. DefaultOptions holds the defaults of every one.
type Options struct {
	ColdSamples   int           // measured cold pairs (bare docker run, faaspot cold run)
	ColdWarmup    int           // unmeasured cold pairs first
	DeploySamples int           // code-only redeploys, each followed by its first run
	WarmRuns      int           // measured warm sync runs per isolation mode
	WarmWarmup    int           // unmeasured warm sync runs per mode first
	LoadDuration  time.Duration // measured time per client count of the throughput phase
	LoadLimit     int64         // at most this many runs per client count
	AsyncDuration time.Duration // time of the async accept phase
	AsyncLimit    int64         // at most this many async runs queued
	AsyncClients  int           // concurrent clients of the async accept phase
	Out           string        // where to write the JSON results
	Log           string        // where the daemons log warnings (empty: nowhere)
	// ProfileDir, when set, receives a CPU profile of the bench process (the daemons and the
	// clients) for every measured load phase.
	ProfileDir string
	Timeout    time.Duration // give up after this long (0: only the caller's context limits the run)
	// Getenv reads FAASPOT_BASE_IMAGE (required), FAASPOT_REDIS_URL and the daemons' own
	// FAASPOT_* settings. Nil is an empty environment.
	Getenv func(string) string
}

// DefaultOptions returns the settings of `make bench`, reading the process environment.
func DefaultOptions() Options {
	return Options{
		ColdSamples:   30,
		ColdWarmup:    3,
		DeploySamples: 8,
		WarmRuns:      2000,
		WarmWarmup:    100,
		LoadDuration:  5 * time.Second,
		LoadLimit:     100000,
		AsyncDuration: 3 * time.Second,
		AsyncLimit:    20000,
		AsyncClients:  16,
		Out:           "bench-results/bench.json",
		Log:           "bench-results/bench-daemon.log",
		Timeout:       8 * time.Minute,
		Getenv:        os.Getenv,
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
	if opts.Log != "" {
		if err := os.MkdirAll(filepath.Dir(opts.Log), 0o755); err != nil {
			return err
		}
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

// Command faaspot-bench measures faaspot against the physical floor of this machine, in one run
// against real Docker and a real Redis (redis-server from PATH on a free loopback port, or
// FAASPOT_REDIS_URL), with daemons started in-process:
//
//  1. cold sync runs (warm pool off) next to a bare `docker run` of the same image, interleaved;
//  2. the first run after a deploy and 6. code-only redeploys to ready;
//  3. warm sync latency in fork and process mode, interleaved in blocks;
//  4. warm sync throughput with 1, 16 and 64 clients, in both modes;
//  5. the async accept rate (and, not judged, that of an API-only node);
//  7. the memory of an idle warm container next to a bare idle one.
//
// It prints a table with each figure next to its target and writes bench-results/bench.json.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/faaspot/faaspot/daemon"
)

type options struct {
	coldSamples, coldWarmup     int
	deploySamples               int
	warmRuns, warmWarmup        int
	loadDuration, asyncDuration time.Duration
	loadLimit, asyncLimit       int64
	asyncClients                int
	out, log                    string
	timeout                     time.Duration
}

func main() {
	var o options
	flag.IntVar(&o.coldSamples, "cold-samples", 30, "measured cold pairs (bare docker run, faaspot cold run)")
	flag.IntVar(&o.coldWarmup, "cold-warmup", 3, "unmeasured cold pairs first")
	flag.IntVar(&o.deploySamples, "deploy-samples", 8, "code-only redeploys, each followed by its first run")
	flag.IntVar(&o.warmRuns, "warm-runs", 2000, "measured warm sync runs per isolation mode")
	flag.IntVar(&o.warmWarmup, "warm-warmup", 100, "unmeasured warm sync runs per mode first")
	flag.DurationVar(&o.loadDuration, "load-duration", 5*time.Second, "measured time per client count of the throughput phase")
	flag.Int64Var(&o.loadLimit, "load-limit", 100000, "at most this many runs per client count")
	flag.DurationVar(&o.asyncDuration, "async-duration", 3*time.Second, "time of the async accept phase")
	flag.Int64Var(&o.asyncLimit, "async-limit", 20000, "at most this many async runs queued")
	flag.IntVar(&o.asyncClients, "async-clients", 16, "concurrent clients of the async accept phase")
	flag.StringVar(&o.out, "out", "bench-results/bench.json", "where to write the JSON results")
	flag.StringVar(&o.log, "log", "bench-results/bench-daemon.log", "where the daemons log warnings (empty: nowhere)")
	flag.StringVar(&profileDir, "profile", "", "write a CPU profile of each load phase into this directory")
	flag.DurationVar(&o.timeout, "timeout", 8*time.Minute, "give up after this long")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "faaspot-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) (err error) {
	started := time.Now()
	if o.log != "" {
		if err := os.MkdirAll(filepath.Dir(o.log), 0o755); err != nil {
			return err
		}
	}
	e, err := newEnv(ctx, o.log)
	if e != nil {
		defer e.close() // every daemon, container, image and key the bench made
	}
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	res := results{When: time.Now().UTC(), Store: e.redis.kind(), BaseImage: e.baseImage, Machine: e.machine(ctx)}

	step := func(what string) {
		fmt.Fprintf(os.Stderr, "bench: %-40s (%.0f s)\n", what, time.Since(started).Seconds())
	}

	step("1. cold sync runs vs bare docker run")
	if res.Cold, err = e.benchCold(ctx, o.coldSamples, o.coldWarmup); err != nil {
		return fmt.Errorf("cold: %w", err)
	}

	// One daemon per isolation mode, both sized for concurrency and unthrottled for the bench tenant.
	loadConfig := func(mode string) func(*daemon.Config) {
		return func(c *daemon.Config) {
			c.WarmMode = mode
			c.Workers, c.MaxConcurrentRuns, c.WarmMaxIdle = 16, 16, 16
			c.RequestsPerSecond, c.MaxQueuedRuns = 100000, 1000000
		}
	}
	step("3. warm sync latency, fork and process")
	fork, err := e.startNode(ctx, "fork", loadConfig("fork"))
	if err != nil {
		return err
	}
	proc, err := e.startNode(ctx, "process", loadConfig("process"))
	if err != nil {
		return err
	}
	dep, _, err := fork.deploy(ctx, "hello", helloCode(0))
	if err != nil {
		return err
	}
	if _, _, err := proc.deploy(ctx, "hello", helloCode(0)); err != nil {
		return err
	}
	if res.Warm, err = e.benchWarmModes(ctx, fork, proc, "hello", o.warmWarmup, o.warmRuns); err != nil {
		return fmt.Errorf("warm: %w", err)
	}

	step("4. warm sync throughput, process then fork")
	clients := []int{1, 16, 64}
	for _, n := range []*node{proc, fork} {
		t, err := e.benchThroughput(ctx, n, "hello", clients, o.loadDuration, o.loadLimit)
		if err != nil {
			return fmt.Errorf("throughput: %w", err)
		}
		res.Throughput = append(res.Throughput, t...)
	}
	proc.close()

	step("7. idle memory, warm vs bare")
	time.Sleep(time.Second) // the pool's containers have gone idle
	if res.Memory, err = e.benchMemory(ctx, fork, dep.Image, 8, 3); err != nil {
		return fmt.Errorf("memory: %w", err)
	}

	step("2+6. redeploys and first runs")
	if res.Deploy, err = e.benchDeploys(ctx, fork, o.deploySamples); err != nil {
		return fmt.Errorf("deploys: %w", err)
	}

	step("5. async accept rate")
	res.Async = e.benchAsync(ctx, fork, "hello", o.asyncClients, o.asyncDuration, o.asyncLimit)
	if res.Async.Accepted == 0 {
		return fmt.Errorf("async: nothing accepted: %s", res.Async.FirstError)
	}
	fork.close() // its workers stop; the runs still queued stay queued

	step("5. async accept rate, API-only node")
	api, err := e.startNodeAs(ctx, "api", func(c *daemon.Config) {
		c.Role, c.KeyPrefix, c.DataDir = "api", fork.cfg.KeyPrefix, fork.cfg.DataDir
		c.RequestsPerSecond, c.MaxQueuedRuns = 100000, 1000000
	}, fork.token)
	if err != nil {
		return err
	}
	res.AsyncAPIOnly = e.benchAsync(ctx, api, "hello", o.asyncClients, o.asyncDuration, o.asyncLimit)
	api.close()

	if ctx.Err() != nil {
		return ctx.Err()
	}
	res.TotalS = time.Since(started).Seconds()
	res.judge()
	res.print(os.Stdout)
	if err := res.write(o.out); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: wrote %s\n", o.out)
	return nil
}

func (e *benchEnv) machine(ctx context.Context) machine {
	m := machine{CPUs: runtime.NumCPU(), InProcess: true}
	if info, err := e.docker.Info(ctx); err == nil {
		m.DockerVersion, m.CgroupVersion, m.StorageDriver = info.ServerVersion, info.CgroupVersion, info.Driver
		if info.NCPU > 0 {
			m.CPUs = info.NCPU
		}
	}
	return m
}

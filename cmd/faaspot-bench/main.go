// Command faaspot-bench measures faaspot against the physical floor of this machine (see package
// bench): it prints a table with each figure next to its target and writes bench-results/bench.json.
// `make bench` runs it with FAASPOT_BASE_IMAGE set.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/faaspot/faaspot/bench"
)

func main() {
	o := bench.DefaultOptions()
	flag.IntVar(&o.ColdSamples, "cold-samples", o.ColdSamples, "measured cold pairs (bare docker run, faaspot cold run)")
	flag.IntVar(&o.ColdWarmup, "cold-warmup", o.ColdWarmup, "unmeasured cold pairs first")
	flag.IntVar(&o.DeploySamples, "deploy-samples", o.DeploySamples, "code-only redeploys, each followed by its first run")
	flag.IntVar(&o.WarmRuns, "warm-runs", o.WarmRuns, "measured warm sync runs per isolation mode")
	flag.IntVar(&o.WarmWarmup, "warm-warmup", o.WarmWarmup, "unmeasured warm sync runs per mode first")
	flag.DurationVar(&o.LoadDuration, "load-duration", o.LoadDuration, "measured time per client count of the throughput phase")
	flag.Int64Var(&o.LoadLimit, "load-limit", o.LoadLimit, "at most this many runs per client count")
	flag.DurationVar(&o.AsyncDuration, "async-duration", o.AsyncDuration, "time of the async accept phase")
	flag.Int64Var(&o.AsyncLimit, "async-limit", o.AsyncLimit, "at most this many async runs queued")
	flag.IntVar(&o.AsyncClients, "async-clients", o.AsyncClients, "concurrent clients of the async accept phase")
	flag.StringVar(&o.Out, "out", o.Out, "where to write the JSON results")
	flag.StringVar(&o.Log, "log", o.Log, "where the daemons log warnings (empty: nowhere)")
	flag.StringVar(&o.ProfileDir, "profile", o.ProfileDir, "write a CPU profile of each load phase into this directory")
	flag.DurationVar(&o.Timeout, "timeout", o.Timeout, "give up after this long")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench.Run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "faaspot-bench:", err)
		os.Exit(1)
	}
}

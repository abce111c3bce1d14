// Command faaspot-bench measures faaspot against the physical floor of this machine (see package
// bench): it prints a table with each figure next to its target and writes bench-results/bench.json.
// `make bench` runs it with FAASPOT_BASE_IMAGE set; FAASPOT_BENCH_PHASES (or -phases) selects
// phases.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/faaspot/faaspot/bench"
)

func main() {
	o := bench.DefaultOptions()
	phases := flag.String("phases", os.Getenv("FAASPOT_BENCH_PHASES"), "comma-separated phases to run, empty: all ("+strings.Join(bench.AllPhases, ",")+"); env FAASPOT_BENCH_PHASES")
	flag.IntVar(&o.ColdSamples, "cold-samples", o.ColdSamples, "measured cold pairs (bare docker run, faaspot cold run)")
	flag.IntVar(&o.ColdWarmup, "cold-warmup", o.ColdWarmup, "unmeasured cold pairs first")
	flag.IntVar(&o.DeploySamples, "deploy-samples", o.DeploySamples, "code-only redeploys, each followed by its first run")
	flag.IntVar(&o.WarmRuns, "warm-runs", o.WarmRuns, "measured warm sync runs per isolation mode (Go client)")
	flag.IntVar(&o.WarmWarmup, "warm-warmup", o.WarmWarmup, "unmeasured warm sync runs per mode first")
	flag.Func("connections", "connection counts of the wrk sync loads (default 1,16,64)", intList(&o.Connections))
	flag.Func("async-connections", "connection counts of the wrk async loads (default 16,64)", intList(&o.AsyncConnections))
	flag.DurationVar(&o.LoadDuration, "load-duration", o.LoadDuration, "measured time of each wrk load (whole seconds)")
	flag.IntVar(&o.ProfileSeconds, "profile-seconds", o.ProfileSeconds, "length of the daemon's CPU profile under the sync load")
	flag.IntVar(&o.CostExecutions, "cost-executions", o.CostExecutions, "completed async runs of the Redis-memory figure")
	flag.IntVar(&o.ScaleDeployments, "scale-deployments", o.ScaleDeployments, "deployments made at once in the scale phase")
	flag.DurationVar(&o.ScaleBound, "scale-bound", o.ScaleBound, "how long the scale phase waits for them to be ready")
	flag.IntVar(&o.ListRecords, "list-records", o.ListRecords, "execution records stored for the listing")
	flag.IntVar(&o.ListRequests, "list-requests", o.ListRequests, "measured GET /v1/executions requests")
	flag.StringVar(&o.Out, "out", o.Out, "where to write the JSON results")
	flag.StringVar(&o.LogDir, "log-dir", o.LogDir, "where the daemons' logs, wrk's outputs and the profile go (empty: discarded)")
	flag.DurationVar(&o.Timeout, "timeout", o.Timeout, "give up after this long")
	flag.Parse()
	var err error
	if o.Phases, err = bench.ParsePhases(*phases); err != nil {
		fmt.Fprintln(os.Stderr, "faaspot-bench:", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench.Run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "faaspot-bench:", err)
		os.Exit(1)
	}
}

// intList parses a comma-separated list of positive integers into dst.
func intList(dst *[]int) func(string) error {
	return func(s string) error {
		var out []int
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				return fmt.Errorf("%q is not a positive integer", f)
			}
			out = append(out, n)
		}
		*dst = out
		return nil
	}
}

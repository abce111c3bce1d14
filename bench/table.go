package bench

import (
	"fmt"
	"io"
	"strings"
)

// print writes the human table: the measurements of the phases that ran, then every target.
func (r results) print(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "\nfaaspot bench: %d CPUs, docker %s (cgroup v%s, %s), %s, base image %s, %.0f s in all\n",
		m.CPUs, m.DockerVersion, m.CgroupVersion, m.StorageDriver, r.Store, r.BaseImage, r.TotalS)
	fmt.Fprintf(w, "phases: %s; every daemon is a faaspotd subprocess, default configuration with the tenant quotas raised\n\n",
		strings.Join(r.Phases, ","))
	if r.ran("cold") || r.ran("deploy") || r.ran("warm") {
		r.printLatencies(w)
	}
	if len(r.Loads) > 0 {
		r.printLoads(w)
	}
	for _, b := range r.CPU {
		b.print(w)
	}
	if r.Profile != nil {
		r.Profile.print(w)
	}
	if r.ran("memory") {
		r.printMemory(w)
	}
	r.printCosts(w)
	r.printTargets(w)
}

// printLatencies writes the latency distributions of the bench's Go client, each with the
// daemon's records of its runs.
func (r results) printLatencies(w io.Writer) {
	fmt.Fprintf(w, "%-46s %8s %8s %8s %8s %6s\n", "latency (ms), Go client, one at a time", "p50", "p95", "p99", "max", "n")
	row := func(name string, s summary) {
		fmt.Fprintf(w, "%-46s %8.2f %8.2f %8.2f %8.2f %6d\n", name, s.P50, s.P95, s.P99, s.Max, s.N)
	}
	if r.ran("cold") {
		row("bare docker run --rm -i --network none", r.Cold.BareMS)
		row("faaspot cold sync run (warm pool off)", r.Cold.FaaspotMS)
		row("  its record: acquire (create+start+import)", r.Cold.AcquireMS)
		fmt.Fprintf(w, "%-46s %8.2f %8.2f\n", "  ratio faaspot / bare", r.Cold.RatioP50, r.Cold.RatioP95)
	}
	if r.ran("deploy") {
		row("first run after deploy", r.Deploy.FirstRunMS)
		row("code-only redeploy to ready (?wait=true)", r.Deploy.RedeployMS)
	}
	if r.ran("warm") {
		row("warm sync run, fork mode", r.Warm.Fork.LatencyMS)
		row("  its record: queue wait", r.Warm.Fork.QueueMS)
		row("  its record: function (request to frame)", r.Warm.Fork.DurationMS)
		row("warm sync run, process mode", r.Warm.Process.LatencyMS)
		row("  its record: function (request to frame)", r.Warm.Process.DurationMS)
	}
	if r.ran("deploy") || r.ran("warm") {
		fmt.Fprintf(w, "recorded cold starts: first runs after deploy %d of %d (acquire p50 %.1f ms, max %.1f ms), warm fork %d of %d, warm process %d of %d\n",
			r.Deploy.FirstRunsCold, r.Deploy.Samples, r.Deploy.AcquireMS.P50, r.Deploy.AcquireMS.Max,
			r.Warm.Fork.ColdStarts, r.Warm.Fork.LatencyMS.N, r.Warm.Process.ColdStarts, r.Warm.Process.LatencyMS.N)
	}
	fmt.Fprintln(w)
}

// printLoads writes the wrk loads: rate, latency, errors and what the daemon counted.
func (r results) printLoads(w io.Writer) {
	fmt.Fprintf(w, "%-36s %7s %7s %7s %7s %7s %8s %6s %6s\n", "wrk load (keep-alive, closed loop)", "ok/s", "p50 ms",
		"p99 ms", "max ms", "s", "ok", "errors", "cold")
	for _, l := range r.Loads {
		name := fmt.Sprintf("%s, %s %s, %d conns", l.What, l.Role, l.Mode, l.Connections)
		switch {
		case l.What == "healthz":
			name = fmt.Sprintf("GET /healthz (HTTP floor), %d conns", l.Connections)
		case l.Role == "api":
			name = fmt.Sprintf("%s, api-only, %d conns", l.What, l.Connections)
		}
		fmt.Fprintf(w, "%-36s %7.0f %7.2f %7.2f %7.1f %7.1f %8d %6d %6.0f\n", name, l.PerS, l.LatencyMS.P50, l.LatencyMS.P99,
			l.LatencyMS.Max, l.DurationS, l.OK, l.errors(), l.ColdStarts)
	}
	fmt.Fprintln(w, "  errors: unexpected answers + socket errors; cold: containers started for a run (daemon's /metrics)")
	fmt.Fprintln(w)
}

// print writes the CPU time of each part per expected answer (a completed run, an accept).
func (b cpuBreakdown) print(w io.Writer) {
	fmt.Fprintf(w, "CPU per answer: %s, %.1f s, %d ok answers, %d CPUs\n", b.Load, b.DurationS, b.Runs, b.CPUs)
	fmt.Fprintf(w, "  %-34s %6s %10s %10s %7s\n", "", "procs", "CPU ms", "ms / ok", "share")
	row := func(name string, procs string, ms float64) {
		per := 0.0
		if b.Runs > 0 {
			per = ms / float64(b.Runs)
		}
		fmt.Fprintf(w, "  %-34s %6s %10.0f %10.3f %6.1f%%\n", name, procs, ms, per, 100*ratio(ms, b.AvailableMS))
	}
	for _, g := range b.Groups {
		row(g.Name, fmt.Sprint(g.Processes), g.CPUMS)
	}
	row("all listed", "", b.ListedMS)
	row("machine busy (/proc/stat)", "", b.MachineBusyMS)
	row(fmt.Sprintf("available (%d CPUs x %.1f s)", b.CPUs, b.DurationS), "", b.AvailableMS)
	fmt.Fprintln(w)
}

// print writes the profile's top functions.
func (p profileResult) print(w io.Writer) {
	fmt.Fprintf(w, "faaspotd CPU profile: %s, %d s, saved as %s\n", p.Load, p.Seconds, p.Path)
	if p.Error != "" {
		fmt.Fprintf(w, "  not taken: %s\n", p.Error)
	}
	for _, l := range p.TopFlat {
		fmt.Fprintf(w, "  %s\n", l)
	}
	if len(p.TopCum) > 0 {
		fmt.Fprintln(w, "  by cumulative time:")
		for _, l := range p.TopCum {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	fmt.Fprintln(w)
}

// printMemory writes the idle memory comparison and the cold starts the daemons recorded.
func (r results) printMemory(w io.Writer) {
	mm := r.Memory
	fmt.Fprintf(w, "%-46s %8s %8s %8s %6s\n", "idle memory (MB, median)", "warm", "bare", "ratio", "n")
	fmt.Fprintf(w, "%-46s %8.1f %8.1f %8.2f %3d/%d\n", mm.Counted, mm.WarmMB, mm.BareMB, mm.Ratio, mm.WarmContainers, mm.BareContainers)
	fmt.Fprintf(w, "%-46s %8.1f %8.1f %8.2f\n", "  RSS", mm.WarmRSSMB, mm.BareRSSMB, mm.RatioRSS)
	fmt.Fprintf(w, "%-46s %8.1f %8.1f %8.2f\n\n", "  usage (page cache included)", mm.WarmRawMB, mm.BareRawMB, mm.RatioRaw)
}

// printCosts writes the cost figures: Redis per execution, many deployments, the listing.
func (r results) printCosts(w io.Writer) {
	if r.ran("redis") {
		c := r.RedisCost
		fmt.Fprintf(w, "Redis per execution: %d async runs over %d tenants, %d completed, %d not, in %.1f s\n",
			c.Executions, c.Tenants, c.Completed, c.NotComplete, c.RunS)
		fmt.Fprintf(w, "  used_memory %d -> %d: %.0f bytes per execution; keys %d -> %d: %.2f per execution\n\n",
			c.UsedBefore, c.UsedAfter, c.BytesPerRun, c.KeysBefore, c.KeysAfter, c.KeysPerRun)
	}
	if r.ran("scale") {
		s := r.Scale
		fmt.Fprintf(w, "%d code-only deployments (?wait=false, sent in %.1f s; %d answers 503/429 sent again, %d creates failed): %d ready, %d failed after %.1f s (bound %.0f s)\n",
			s.Deployments, s.CreateS, s.CreateRefusals, s.CreateErrors, s.Ready, s.Failed, s.ReadyS, s.BoundS)
		if s.FirstRefusal != "" {
			fmt.Fprintf(w, "  first refusal: %s\n", s.FirstRefusal)
		}
		fmt.Fprintf(w, "  a run of each: %.1f s, %d errors; pool %d containers (cap %d); faaspotd RSS %.1f MB -> %.1f MB\n\n",
			s.RunsS, s.RunErrors, s.PoolContainers, s.PoolCap, s.RSSBeforeMB, s.RSSAfterMB)
	}
	if r.ran("list") {
		l := r.List
		fmt.Fprintf(w, "GET /v1/executions?limit=100: %d records over %d tenants (%d items a page), written in %.1f s\n",
			l.Written, l.Tenants, l.Items, l.WriteS)
		fmt.Fprintf(w, "  %s; template: %s\n", l.How, l.Template)
		fmt.Fprintf(w, "  p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms over %d requests, %d errors\n\n",
			l.LatencyMS.P50, l.LatencyMS.P95, l.LatencyMS.P99, l.LatencyMS.Max, l.LatencyMS.N, l.Errors)
	}
}

// printTargets writes every target with its verdict, grouped by source; figures without a
// goal are marked "shown".
func (r results) printTargets(w io.Writer) {
	for _, src := range []string{issue12, warmIssue} {
		header := false
		for _, t := range r.Targets {
			if t.Source != src {
				continue
			}
			if !header {
				fmt.Fprintf(w, "%-52s %12s %12s  %s\n", "targets ("+src+")", "measured", "target", "")
				header = true
			}
			goal, verdict := "-", "shown"
			if t.Judged {
				goal, verdict = t.Op+" "+num(t.Goal, t.Unit), "ok"
				if !t.Met {
					verdict = "MISSED"
				}
			}
			fmt.Fprintf(w, "%-52s %12s %12s  %s\n", t.What, num(t.Value, t.Unit), goal, verdict)
		}
		if header {
			fmt.Fprintln(w)
		}
	}
}

// num formats a figure in its unit: a ratio ("1.05x"), a rate ("5012/s"), a count ("3"), else a
// value with two decimals under 10 and one above ("1.23 ms", "12.3 ms").
func num(v float64, unit string) string {
	switch unit {
	case "x":
		return fmt.Sprintf("%.2fx", v)
	case "/s":
		return fmt.Sprintf("%.0f/s", v)
	case "":
		return fmt.Sprintf("%.0f", v)
	default:
		s := fmt.Sprintf("%.1f", v)
		if v < 10 {
			s = fmt.Sprintf("%.2f", v)
		}
		return strings.TrimSpace(s) + " " + unit
	}
}

package bench

import (
	"fmt"
	"io"
	"strings"
)

// print writes the human table: the measurements, then every target of the issue.
func (r results) print(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "\nfaaspot bench: %d CPUs, docker %s (cgroup v%s, %s), %s, base image %s, %.0f s in all\n",
		m.CPUs, m.DockerVersion, m.CgroupVersion, m.StorageDriver, r.Store, r.BaseImage, r.TotalS)
	fmt.Fprintf(w, "daemon in-process (it shares the CPUs with the load generator)\n\n")
	r.printLatencies(w)
	r.printLoad(w)
	r.printMemory(w)
	r.printTargets(w)
}

// printLatencies writes the latency distributions, each with the daemon's records of its runs.
func (r results) printLatencies(w io.Writer) {
	fmt.Fprintf(w, "%-46s %8s %8s %8s %8s %6s\n", "latency (ms)", "p50", "p95", "p99", "max", "n")
	row := func(name string, s summary) {
		fmt.Fprintf(w, "%-46s %8.2f %8.2f %8.2f %8.2f %6d\n", name, s.P50, s.P95, s.P99, s.Max, s.N)
	}
	row("bare docker run --rm -i --network none", r.Cold.BareMS)
	row("faaspot cold sync run (warm pool off)", r.Cold.FaaspotMS)
	row("  its record: acquire (create+start+import)", r.Cold.AcquireMS)
	fmt.Fprintf(w, "%-46s %8.2f %8.2f\n", "  ratio faaspot / bare", r.Cold.RatioP50, r.Cold.RatioP95)
	row("first run after deploy", r.Deploy.FirstRunMS)
	row("code-only redeploy to ready (?wait=true)", r.Deploy.RedeployMS)
	row("warm sync run, fork mode", r.Warm.Fork.LatencyMS)
	row("  its record: queue wait", r.Warm.Fork.QueueMS)
	row("  its record: function (request to frame)", r.Warm.Fork.DurationMS)
	row("warm sync run, process mode", r.Warm.Process.LatencyMS)
	row("  its record: function (request to frame)", r.Warm.Process.DurationMS)
}

// printLoad writes the closed-loop rates: warm sync throughput, then async accepts.
func (r results) printLoad(w io.Writer) {
	fmt.Fprintf(w, "\n%-46s %8s %8s %8s %8s %6s\n", "load (closed loop, keep-alive)", "per s", "p50 ms", "p99 ms", "count", "errors")
	for _, t := range r.Throughput {
		fmt.Fprintf(w, "%-46s %8.0f %8.2f %8.2f %8d %6d\n", fmt.Sprintf("warm sync runs, %s, %d clients, %.1f s", t.Mode, t.Clients, t.DurationS),
			t.RunsPerS, t.LatencyMS.P50, t.LatencyMS.P99, t.Runs, t.Errors)
	}
	for _, a := range []asyncResult{r.Async, r.AsyncAPIOnly} {
		fmt.Fprintf(w, "%-46s %8.0f %8.2f %8.2f %8d %6d\n", fmt.Sprintf("async accepts (202), role %s, %d clients, %.1f s", a.Role, a.Clients, a.DurationS),
			a.PerS, a.LatencyMS.P50, a.LatencyMS.P99, a.Accepted, a.Refused)
	}
}

// printMemory writes the idle memory comparison and the cold starts the daemons recorded.
func (r results) printMemory(w io.Writer) {
	mm := r.Memory
	fmt.Fprintf(w, "\n%-46s %8s %8s %8s %6s\n", "idle memory (MB, median)", "warm", "bare", "ratio", "n")
	fmt.Fprintf(w, "%-46s %8.1f %8.1f %8.2f %3d/%d\n", mm.Counted, mm.WarmMB, mm.BareMB, mm.Ratio, mm.WarmContainers, mm.BareContainers)
	fmt.Fprintf(w, "%-46s %8.1f %8.1f %8.2f\n", "  RSS", mm.WarmRSSMB, mm.BareRSSMB, mm.RatioRSS)
	fmt.Fprintf(w, "%-46s %8.1f %8.1f %8.2f\n", "  usage (page cache included)", mm.WarmRawMB, mm.BareRawMB, mm.RatioRaw)

	fmt.Fprintf(w, "\nrecorded cold starts: first runs after deploy %d of %d, warm fork %d of %d, warm process %d of %d; first build %.1f s\n",
		r.Deploy.FirstRunsCold, r.Deploy.Samples, r.Warm.Fork.ColdStarts, r.Warm.Fork.LatencyMS.N,
		r.Warm.Process.ColdStarts, r.Warm.Process.LatencyMS.N, r.Cold.FirstBuildS)
	fmt.Fprintf(w, "first run after deploy, its record: acquire p50 %.1f ms, max %.1f ms\n",
		r.Deploy.AcquireMS.P50, r.Deploy.AcquireMS.Max)
}

// printTargets writes every target of the issue with its verdict.
func (r results) printTargets(w io.Writer) {
	fmt.Fprintf(w, "\n%-46s %12s %12s  %s\n", "target", "measured", "target", "")
	for _, t := range r.Targets {
		verdict := "ok"
		if !t.Met {
			verdict = "MISSED"
		}
		fmt.Fprintf(w, "%-46s %12s %12s  %s\n", t.What, num(t.Value, t.Unit), t.Op+" "+num(t.Goal, t.Unit), verdict)
	}
	fmt.Fprintln(w)
}

// num formats a figure in its unit: a ratio ("1.05x"), a rate ("5012/s"), else a value with two
// decimals under 10 and one above ("1.23 ms", "12.3 ms").
func num(v float64, unit string) string {
	switch unit {
	case "x":
		return fmt.Sprintf("%.2fx", v)
	case "/s":
		return fmt.Sprintf("%.0f/s", v)
	default:
		s := fmt.Sprintf("%.1f", v)
		if v < 10 {
			s = fmt.Sprintf("%.2f", v)
		}
		return strings.TrimSpace(s) + " " + unit
	}
}

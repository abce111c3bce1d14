package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// results is everything one `make bench` measured; its JSON keys are stable. Phases lists the
// phases that ran: the figures of the others are zero and not judged.
type results struct {
	When      time.Time    `json:"when"`
	TotalS    float64      `json:"total_s"`
	Machine   machine      `json:"machine"`
	Store     string       `json:"store"`
	BaseImage string       `json:"base_image"`
	Phases    []string     `json:"phases"`
	Cold      coldResult   `json:"cold_sync"`
	Deploy    deployResult `json:"deploy"`
	// Warm is sequential warm sync runs over one keep-alive connection from the bench's Go
	// client, both isolation modes interleaved, with the daemon's records of each run.
	Warm warmModes `json:"warm_sync"`
	// Loads are the wrk loads: warm sync runs with each connection count, async accepts on the
	// all-in-one node and on an API-only node.
	Loads []wrkResult `json:"wrk_loads"`
	// CPU is the CPU time per expected answer of every part of the system: warm sync runs, then
	// async accepts on each node, at the most connections.
	CPU       []cpuBreakdown `json:"cpu_per_run"`
	Profile   *profileResult `json:"daemon_profile,omitempty"`
	Memory    memoryResult   `json:"idle_memory"`
	RedisCost redisCost      `json:"redis_cost"`
	Scale     scaleResult    `json:"scale"`
	List      listResult     `json:"list_executions"`
	Targets   []target       `json:"targets"`
}

type machine struct {
	CPUs          int    `json:"cpus"`
	DockerVersion string `json:"docker_version"`
	CgroupVersion string `json:"cgroup_version"`
	StorageDriver string `json:"storage_driver"`
	// InProcess notes that the daemon and the load generator share a process (no longer: every
	// daemon is a faaspotd subprocess).
	InProcess bool `json:"daemon_in_bench_process"`
}

type warmModes struct {
	Fork    warmResult `json:"fork"`
	Process warmResult `json:"process"`
}

// target is one figure next to its goal. Source names the issue that set the goal; a figure
// without one (Judged false) is shown for the record.
type target struct {
	Key    string  `json:"key"`
	What   string  `json:"what"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Op     string  `json:"op"` // "<=" or ">="; empty when not judged
	Goal   float64 `json:"goal"`
	Judged bool    `json:"judged"`
	Met    bool    `json:"met"`
	Source string  `json:"source"`
}

// The sources of the targets.
const (
	issue12   = "issue 12"
	warmIssue = "warm-execution issue"
)

func atMost(key, what string, v float64, unit string, goal float64) target {
	return target{Key: key, What: what, Value: v, Unit: unit, Op: "<=", Goal: goal, Judged: true, Met: v <= goal, Source: issue12}
}

func atLeast(key, what string, v float64, unit string, goal float64) target {
	return target{Key: key, What: what, Value: v, Unit: unit, Op: ">=", Goal: goal, Judged: true, Met: v >= goal, Source: issue12}
}

func shown(key, what string, v float64, unit string) target {
	return target{Key: key, What: what, Value: v, Unit: unit, Source: issue12}
}

func earlier(t target) target { t.Source = warmIssue; return t }

// ran reports whether a phase ran.
func (r *results) ran(phase string) bool { return slices.Contains(r.Phases, phase) }

// load returns the wrk load of a kind and role with conns connections (0: the most
// connections); ok false when there is none.
func (r *results) load(kind, role string, conns int) (wrkResult, bool) {
	var out wrkResult
	found := false
	for _, l := range r.Loads {
		if l.What == kind && l.Role == role && (l.Connections == conns || conns == 0 && l.Connections > out.Connections) {
			out, found = l, true
		}
	}
	return out, found
}

// bestLoad returns the wrk load of a kind and role with the highest rate.
func (r *results) bestLoad(kind, role string) (wrkResult, bool) {
	var out wrkResult
	found := false
	for _, l := range r.Loads {
		if l.What == kind && l.Role == role && (!found || l.PerS > out.PerS) {
			out, found = l, true
		}
	}
	return out, found
}

// judge sets the targets from the figures of the phases that ran.
func (r *results) judge() {
	r.Targets = nil
	add := func(ts ...target) { r.Targets = append(r.Targets, ts...) }
	if l, ok := r.load("sync", "all", 1); ok && r.ran("sync") {
		add(atMost("warm_sync_p50_ms", "warm sync p50, 1 connection (wrk)", l.LatencyMS.P50, "ms", 1),
			atMost("warm_sync_p99_ms", "warm sync p99, 1 connection (wrk)", l.LatencyMS.P99, "ms", 3))
	}
	if l, ok := r.load("sync", "all", 0); ok && r.ran("sync") {
		add(atLeast("warm_sync_runs_per_s", fmt.Sprintf("warm sync runs/s, %d connections", l.Connections), l.PerS, "/s", 2000),
			atMost("warm_sync_errors", fmt.Sprintf("errors of those %d connections", l.Connections), float64(l.errors()), "", 0))
	}
	if l, ok := r.bestLoad("async", "all"); ok && r.ran("async") {
		add(atLeast("async_accepts_per_s", fmt.Sprintf("async accepts/s, all-in-one (%d conns)", l.Connections), l.PerS, "/s", 5000))
	}
	if l, ok := r.bestLoad("async", "api"); ok && r.ran("async") {
		add(atLeast("async_accepts_per_s_api_only", fmt.Sprintf("async accepts/s, api-only (%d conns)", l.Connections), l.PerS, "/s", 15000))
	}
	if r.ran("cold") {
		add(atMost("cold_sync_ratio_p50", "cold sync p50 / bare docker run p50", r.Cold.RatioP50, "x", 1.0))
	}
	if r.ran("deploy") {
		add(atMost("code_only_redeploy_p50_ms", "code-only redeploy to ready p50", r.Deploy.RedeployMS.P50, "ms", 1000))
	}
	if r.ran("scale") {
		add(atMost("deployments_all_ready_s", fmt.Sprintf("%d deployments all ready", r.Scale.Deployments), r.Scale.ReadyS, "s", 120))
	}
	if r.ran("redis") {
		add(atMost("redis_bytes_per_execution", "Redis memory per small completed execution", r.RedisCost.BytesPerRun/1024, "KiB", 2))
	}
	r.judgeShown()
}

// judgeShown adds the figures the issue asks for without a goal, then the goals of earlier
// issues that issue 12 did not replace.
func (r *results) judgeShown() {
	add := func(ts ...target) { r.Targets = append(r.Targets, ts...) }
	for _, b := range r.CPU {
		if b.Kind == "sync" && b.Runs > 0 {
			add(shown("cpu_ms_per_warm_run", "CPU per warm sync run, all listed processes", b.ListedMS/float64(b.Runs), "ms"))
		}
	}
	if r.ran("scale") {
		add(shown("daemon_rss_scale_mb", fmt.Sprintf("faaspotd RSS, %d deployments, pool %d/%d", r.Scale.Deployments,
			r.Scale.PoolContainers, r.Scale.PoolCap), r.Scale.RSSAfterMB, "MB"))
	}
	if r.ran("list") {
		add(shown("list_executions_p50_ms", fmt.Sprintf("GET /v1/executions p50, %d records", r.List.Written), r.List.LatencyMS.P50, "ms"),
			shown("list_executions_p99_ms", fmt.Sprintf("GET /v1/executions p99, %d records", r.List.Written), r.List.LatencyMS.P99, "ms"))
	}
	if r.ran("deploy") {
		add(earlier(atMost("first_run_after_deploy_p50_ms", "first run after deploy p50", r.Deploy.FirstRunMS.P50, "ms", 30)),
			earlier(atMost("first_run_after_deploy_max_ms", "first run after deploy max", r.Deploy.FirstRunMS.Max, "ms", 30)))
	}
	if r.ran("memory") {
		add(earlier(atMost("idle_memory_ratio", "idle warm / bare idle container memory", r.Memory.Ratio, "x", 1.3)))
	}
}

func (r results) write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

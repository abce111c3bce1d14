package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// results is everything one `make bench` measured; its JSON keys are stable.
type results struct {
	When       time.Time          `json:"when"`
	TotalS     float64            `json:"total_s"`
	Machine    machine            `json:"machine"`
	Store      string             `json:"store"`
	BaseImage  string             `json:"base_image"`
	Cold       coldResult         `json:"cold_sync"`
	Deploy     deployResult       `json:"deploy"`
	Warm       warmModes          `json:"warm_sync"`
	Throughput []throughputResult `json:"warm_sync_throughput"`
	Async      asyncResult        `json:"async_accept"`
	// AsyncAPIOnly is the same load on a node of role "api" over the same Redis, with no worker
	// running the accepted runs: what the API and Redis alone accept (not judged).
	AsyncAPIOnly asyncResult  `json:"async_accept_api_only"`
	Memory       memoryResult `json:"idle_memory"`
	Targets      []target     `json:"targets"`
}

type machine struct {
	CPUs          int    `json:"cpus"`
	DockerVersion string `json:"docker_version"`
	CgroupVersion string `json:"cgroup_version"`
	StorageDriver string `json:"storage_driver"`
	// InProcess notes that the daemon and the load generator share this process and its CPUs.
	InProcess bool `json:"daemon_in_bench_process"`
}

type warmModes struct {
	Fork    warmResult `json:"fork"`
	Process warmResult `json:"process"`
}

// target is one figure of the issue next to its goal.
type target struct {
	Key   string  `json:"key"`
	What  string  `json:"what"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Op    string  `json:"op"` // "<=" or ">="
	Goal  float64 `json:"goal"`
	Met   bool    `json:"met"`
}

func atMost(key, what string, v float64, unit string, goal float64) target {
	return target{Key: key, What: what, Value: v, Unit: unit, Op: "<=", Goal: goal, Met: v <= goal}
}

func atLeast(key, what string, v float64, unit string, goal float64) target {
	return target{Key: key, What: what, Value: v, Unit: unit, Op: ">=", Goal: goal, Met: v >= goal}
}

// judge sets the targets of the issue from the figures.
func (r *results) judge() {
	r.Targets = []target{
		atMost("warm_sync_fork_p50_ms", "warm sync run p50 (fork)", r.Warm.Fork.LatencyMS.P50, "ms", 2),
		atMost("warm_sync_fork_p99_ms", "warm sync run p99 (fork)", r.Warm.Fork.LatencyMS.P99, "ms", 10),
		atMost("warm_sync_process_p50_ms", "warm sync run p50 (process)", r.Warm.Process.LatencyMS.P50, "ms", 2),
		atMost("warm_sync_process_p99_ms", "warm sync run p99 (process)", r.Warm.Process.LatencyMS.P99, "ms", 10),
		atMost("cold_sync_ratio_p50", "cold sync p50 / bare docker run p50", r.Cold.RatioP50, "x", 1.10),
		atMost("first_run_after_deploy_p50_ms", "first run after deploy p50", r.Deploy.FirstRunMS.P50, "ms", 30),
		atMost("first_run_after_deploy_max_ms", "first run after deploy max", r.Deploy.FirstRunMS.Max, "ms", 30),
	}
	for _, t := range r.Throughput {
		if t.Clients >= 16 && t.Mode == "fork" { // the default mode is judged; process is shown
			r.Targets = append(r.Targets, atLeast(fmt.Sprintf("warm_sync_%s_runs_per_s_%d_clients", t.Mode, t.Clients),
				fmt.Sprintf("warm sync runs/s, %s, %d clients", t.Mode, t.Clients), t.RunsPerS, "/s", 1000))
		}
	}
	r.Targets = append(r.Targets,
		atLeast("async_accepts_per_s", fmt.Sprintf("async accepts/s, %d clients", r.Async.Clients), r.Async.PerS, "/s", 5000),
		atMost("code_only_redeploy_p50_ms", "code-only redeploy to ready p50", r.Deploy.RedeployMS.P50, "ms", 1000),
		atMost("idle_memory_ratio", "idle warm / bare idle container memory", r.Memory.Ratio, "x", 1.3),
	)
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

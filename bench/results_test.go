package bench

import "testing"

func TestJudge(t *testing.T) {
	tests := []struct {
		name    string
		res     results
		key     string
		present bool
		met     bool
	}{
		{name: "fork p50 at its goal is met", key: "warm_sync_fork_p50_ms", present: true, met: true,
			res: results{Warm: warmModes{Fork: warmResult{LatencyMS: summary{P50: 2}}}}},
		{name: "fork p50 over its goal is missed", key: "warm_sync_fork_p50_ms", present: true, met: false,
			res: results{Warm: warmModes{Fork: warmResult{LatencyMS: summary{P50: 2.01}}}}},
		{name: "cold ratio over 1.10 is missed", key: "cold_sync_ratio_p50", present: true, met: false,
			res: results{Cold: coldResult{RatioP50: 1.2}}},
		{name: "async accepts at 5000/s are met", key: "async_accepts_per_s", present: true, met: true,
			res: results{Async: asyncResult{PerS: 5000}}},
		{name: "async accepts under 5000/s are missed", key: "async_accepts_per_s", present: true, met: false,
			res: results{Async: asyncResult{PerS: 4999}}},
		{name: "fork throughput with 16 clients is judged", key: "warm_sync_fork_runs_per_s_16_clients", present: true, met: true,
			res: results{Throughput: []throughputResult{{Mode: "fork", Clients: 16, RunsPerS: 1000}}}},
		{name: "fork throughput with 1 client is not judged", key: "warm_sync_fork_runs_per_s_1_clients", present: false,
			res: results{Throughput: []throughputResult{{Mode: "fork", Clients: 1, RunsPerS: 10}}}},
		{name: "process throughput is not judged", key: "warm_sync_process_runs_per_s_64_clients", present: false,
			res: results{Throughput: []throughputResult{{Mode: "process", Clients: 64, RunsPerS: 10}}}},
		{name: "idle memory ratio over 1.3 is missed", key: "idle_memory_ratio", present: true, met: false,
			res: results{Memory: memoryResult{Ratio: 1.31}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.res.judge()
			var found *target
			for i := range tt.res.Targets {
				if tt.res.Targets[i].Key == tt.key {
					found = &tt.res.Targets[i]
				}
			}
			switch {
			case found == nil && tt.present:
				t.Fatalf("no target %s in %+v", tt.key, tt.res.Targets)
			case found != nil && !tt.present:
				t.Fatalf("target %s judged, want it shown only: %+v", tt.key, *found)
			case found != nil && found.Met != tt.met:
				t.Errorf("target %s met = %v, want %v (%+v)", tt.key, found.Met, tt.met, *found)
			}
		})
	}
}

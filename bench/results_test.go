package bench

import "testing"

func TestJudge(t *testing.T) {
	all := AllPhases
	sync := func(conns int, perS, p50, p99 float64, bad int64) wrkResult {
		return wrkResult{What: "sync", Role: "all", Mode: "fork", Connections: conns, PerS: perS, Unexpected: bad,
			LatencyMS: summary{P50: p50, P99: p99}}
	}
	async := func(role string, conns int, perS float64) wrkResult {
		return wrkResult{What: "async", Role: role, Connections: conns, PerS: perS}
	}
	tests := []struct {
		name    string
		res     results
		key     string
		present bool
		met     bool
	}{
		{name: "warm p50 at 1 ms is met", key: "warm_sync_p50_ms", present: true, met: true,
			res: results{Phases: all, Loads: []wrkResult{sync(1, 900, 1, 2, 0)}}},
		{name: "warm p50 over 1 ms is missed", key: "warm_sync_p50_ms", present: true, met: false,
			res: results{Phases: all, Loads: []wrkResult{sync(1, 900, 1.01, 2, 0)}}},
		{name: "warm p99 over 3 ms is missed", key: "warm_sync_p99_ms", present: true, met: false,
			res: results{Phases: all, Loads: []wrkResult{sync(1, 900, 1, 3.1, 0)}}},
		{name: "the rate is judged at the most connections", key: "warm_sync_runs_per_s", present: true, met: false,
			res: results{Phases: all, Loads: []wrkResult{sync(16, 2500, 5, 9, 0), sync(64, 1999, 30, 60, 0)}}},
		{name: "errors at the most connections are missed", key: "warm_sync_errors", present: true, met: false,
			res: results{Phases: all, Loads: []wrkResult{sync(16, 2500, 5, 9, 0), sync(64, 2500, 30, 60, 1)}}},
		{name: "sync not run: not judged", key: "warm_sync_p50_ms", present: false,
			res: results{Phases: []string{"cold"}, Loads: []wrkResult{sync(1, 900, 1, 2, 0)}}},
		{name: "async all-in-one: the best rate counts", key: "async_accepts_per_s", present: true, met: true,
			res: results{Phases: all, Loads: []wrkResult{async("all", 16, 5000), async("all", 64, 4000)}}},
		{name: "async api-only under 15000/s is missed", key: "async_accepts_per_s_api_only", present: true, met: false,
			res: results{Phases: all, Loads: []wrkResult{async("all", 16, 9000), async("api", 64, 14999)}}},
		{name: "cold ratio over 1.0 is missed", key: "cold_sync_ratio_p50", present: true, met: false,
			res: results{Phases: all, Cold: coldResult{RatioP50: 1.01}}},
		{name: "200 deployments in 120 s are met", key: "deployments_all_ready_s", present: true, met: true,
			res: results{Phases: all, Scale: scaleResult{Deployments: 200, ReadyS: 120}}},
		{name: "2 KiB per execution is met", key: "redis_bytes_per_execution", present: true, met: true,
			res: results{Phases: all, RedisCost: redisCost{BytesPerRun: 2048}}},
		{name: "over 2 KiB is missed", key: "redis_bytes_per_execution", present: true, met: false,
			res: results{Phases: all, RedisCost: redisCost{BytesPerRun: 2049}}},
		{name: "redis not run: not judged", key: "redis_bytes_per_execution", present: false,
			res: results{Phases: []string{"scale"}}},
		{name: "idle memory ratio over 1.3 is missed (earlier issue)", key: "idle_memory_ratio", present: true, met: false,
			res: results{Phases: all, Memory: memoryResult{Ratio: 1.31}}},
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
				t.Fatalf("target %s judged, want none: %+v", tt.key, *found)
			case found != nil && (!found.Judged || found.Met != tt.met):
				t.Errorf("target %s judged %v met %v, want judged, met %v (%+v)", tt.key, found.Judged, found.Met, tt.met, *found)
			}
		})
	}
}

// TestJudgeShown: the figures without a goal are listed, not judged.
func TestJudgeShown(t *testing.T) {
	r := results{Phases: AllPhases, CPU: []cpuBreakdown{{Kind: "async", Runs: 10, ListedMS: 100}, {Kind: "sync", Runs: 10, ListedMS: 25}}, Scale: scaleResult{RSSAfterMB: 80}}
	r.judge()
	for _, key := range []string{"cpu_ms_per_warm_run", "daemon_rss_scale_mb", "list_executions_p50_ms", "list_executions_p99_ms"} {
		var found *target
		for i := range r.Targets {
			if r.Targets[i].Key == key {
				found = &r.Targets[i]
			}
		}
		if found == nil || found.Judged {
			t.Errorf("%s: %+v, want it shown, not judged", key, found)
		}
		if key == "cpu_ms_per_warm_run" && found != nil && found.Value != 2.5 {
			t.Errorf("CPU per run %v, want 2.5", found.Value)
		}
	}
}

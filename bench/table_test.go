package bench

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestNum(t *testing.T) {
	tests := []struct {
		name string
		v    float64
		unit string
		want string
	}{
		{name: "ratio, two decimals", v: 1.0456, unit: "x", want: "1.05x"},
		{name: "rate, no decimals", v: 5012.6, unit: "/s", want: "5013/s"},
		{name: "under 10: two decimals", v: 1.234, unit: "ms", want: "1.23 ms"},
		{name: "10 and over: one decimal", v: 12.34, unit: "ms", want: "12.3 ms"},
		{name: "just under 10 rounds up in two decimals", v: 9.999, unit: "ms", want: "10.00 ms"},
		{name: "zero", v: 0, unit: "ms", want: "0.00 ms"},
		{name: "any other unit", v: 812.25, unit: "MB", want: "812.2 MB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := num(tt.v, tt.unit); got != tt.want {
				t.Errorf("num(%v, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
			}
		})
	}
}

// sampleResults is a run with a figure in every field the table shows, some targets met and
// some missed.
func sampleResults() results {
	s := func(p50, p95, p99, max float64, n int) summary {
		return summary{N: n, P50: p50, P95: p95, P99: p99, Min: p50 / 2, Max: max, Mean: p50}
	}
	load := func(what, role string, conns int, perS float64, lat summary, bad, cold int64) wrkResult {
		return wrkResult{What: what, Role: role, Mode: "fork", Connections: conns, Threads: min(conns, 2), DurationS: 5.01,
			Answers: int64(perS * 5), OK: int64(perS*5) - bad, Unexpected: bad, PerS: perS, LatencyMS: lat, ColdStarts: float64(cold)}
	}
	r := results{
		When:      time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		TotalS:    601.4,
		Machine:   machine{CPUs: 2, DockerVersion: "27.3.1", CgroupVersion: "2", StorageDriver: "overlay2"},
		Store:     "redis-server started by the bench",
		BaseImage: "faaspot/runner-base:abc123",
		Phases:    AllPhases,
		Cold: coldResult{Samples: 30, BareMS: s(310.5, 340.25, 355, 360, 30), FaaspotMS: s(330.75, 370, 390.5, 401, 30),
			AcquireMS: s(280, 300, 310, 312, 30), RatioP50: 1.0652, RatioP95: 1.0874, FirstBuildS: 12.34},
		Deploy: deployResult{Samples: 8, RedeployMS: s(640, 700, 710, 712, 8), FirstRunMS: s(4.2, 31, 31, 31.5, 8),
			FirstRunsCold: 1, AcquireMS: s(0.3, 22, 22, 22.1, 8)},
		Warm: warmModes{
			Fork: warmResult{Mode: "fork", LatencyMS: s(1.21, 1.9, 3.4, 12.5, 2000), QueueMS: s(0.1, 0.2, 0.3, 1, 2000),
				DurationMS: s(0.8, 1.1, 2, 9, 2000)},
			Process: warmResult{Mode: "process", LatencyMS: s(2.5, 3.1, 11, 20, 2000), DurationMS: s(2, 2.6, 9, 18, 2000), ColdStarts: 2},
		},
		Loads: []wrkResult{
			load("healthz", "all", 64, 21000, s(2.9, 4, 6, 12, 105000), 0, 0),
			load("sync", "all", 1, 420, s(0.95, 1.5, 2.9, 9, 2100), 0, 0),
			load("sync", "all", 16, 1513.9, s(10.1, 15, 19.5, 40, 7600), 0, 2),
			load("sync", "all", 64, 1882.4, s(30, 50, 120, 300, 9400), 3, 4),
			load("async", "all", 16, 5100, s(3, 5, 8, 20, 25500), 0, 0),
			load("async", "api", 64, 16666.7, s(2.4, 4, 6, 15, 83000), 4, 0),
		},
		CPU: []cpuBreakdown{{Kind: "sync", Load: "warm sync runs, all node, 64 connections", DurationS: 5.01, Runs: 9400, CPUs: 2, AvailableMS: 10020,
			Groups: []cpuGroup{{Name: "faaspotd", Processes: 1, CPUMS: 2300}, {Name: "dockerd", Processes: 1, CPUMS: 1500},
				{Name: "runners (sandbox containers)", Processes: 8, CPUMS: 4000}, {Name: "wrk", Processes: 1, CPUMS: 310}},
			ListedMS: 8110, MachineBusyMS: 9800}},
		Profile: &profileResult{Load: "warm sync runs, 64 connections (wrk)", Seconds: 8, Path: "bench-results/faaspotd-sync-64.pprof",
			TopFlat: []string{"Duration: 8s, Total samples = 2.3s (28.75%)", "      flat  flat%   sum%        cum   cum%",
				"     1.1s 47.83% 47.83%      1.1s 47.83%  internal/runtime/syscall/linux.Syscall6"}},
		Memory: memoryResult{WarmContainers: 8, WarmMB: 14.2, WarmRSSMB: 9.1, WarmRawMB: 40.3, BareContainers: 3, BareMB: 12.5,
			BareRSSMB: 8.8, BareRawMB: 30.1, Ratio: 1.136, RatioRSS: 1.034, RatioRaw: 1.339, Counted: "usage - inactive_file"},
		RedisCost: redisCost{Executions: 4995, Tenants: 5, Completed: 4995, RunS: 12.5, UsedBefore: 2000000, UsedAfter: 9000000,
			BytesPerRun: 1401.4, KeysBefore: 40, KeysAfter: 10030, KeysPerRun: 2},
		Scale: scaleResult{Deployments: 200, CreateS: 1.2, Ready: 200, ReadyS: 95.5, AllReady: true, BoundS: 300, RunsS: 20.5,
			RSSBeforeMB: 40.2, RSSAfterMB: 61.7, PoolContainers: 64, PoolCap: 64},
		List: listResult{Records: 100000, Tenants: 100, Written: 100000, WriteS: 14.1, How: "in-process", Template: "synthetic",
			Requests: 200, Items: 100, LatencyMS: s(2.1, 2.9, 3.5, 4, 200)},
	}
	r.judge()
	return r
}

func TestPrintGolden(t *testing.T) {
	tests := []struct {
		name   string
		res    results
		golden string
	}{
		{name: "full run", res: sampleResults(), golden: "table.golden"},
		{name: "nothing measured", res: results{}, golden: "table-empty.golden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			tt.res.print(&b)
			path := filepath.Join("testdata", tt.golden)
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./bench -run TestPrintGolden -update to create it)", err)
			}
			if got := b.String(); got != string(want) {
				t.Errorf("table differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
}

package bench

import (
	"os"
	"testing"
	"time"
)

func TestCPUGroup(t *testing.T) {
	who := cpuWho{daemonPID: 10, redisPID: 20}
	tests := []struct {
		pid  int
		comm string
		want string
	}{
		{10, "faaspotd", "faaspotd"},
		{11, "faaspotd", ""}, // another node's daemon
		{os.Getpid(), "faaspot-bench", "bench process (idle client)"},
		{12, "dockerd", "dockerd"},
		{13, "containerd", "containerd"},
		{14, "containerd-shim", "containerd-shim (+ runc)"},
		{20, "redis-server", "redis-server"},
		{21, "redis-server", ""}, // not the bench's Redis
		{22, "python3", ""},
	}
	for _, tt := range tests {
		if got := who.group(tt.pid, tt.comm); got != tt.want {
			t.Errorf("group(%d, %q) = %q, want %q", tt.pid, tt.comm, got, tt.want)
		}
	}
	if got := (cpuWho{daemonPID: 10}).group(21, "redis-server"); got != "redis-server" {
		t.Errorf("an external Redis: any redis-server counts, got %q", got)
	}
}

// TestBreakdown: differences per group in ms (100 ticks a second); a process or container that
// appears counts from zero, a reused pid too, one that went is not counted; per run and shares
// follow.
func TestBreakdown(t *testing.T) {
	t0 := time.Unix(1000, 0)
	before := cpuSample{at: t0, busy: 1000,
		procs: map[int]procStat{
			10: {comm: "faaspotd", utime: 100, stime: 50},
			12: {comm: "dockerd", utime: 500},
			14: {comm: "containerd-shim", utime: 5},
			15: {comm: "containerd-shim", utime: 7}, // gone by the end
			16: {comm: "python3", utime: 9},         // pid reused by a shim
		},
		containers: map[string]int64{"a": 1e9, "gone": 5e9}}
	after := cpuSample{at: t0.Add(2 * time.Second), busy: 1380,
		procs: map[int]procStat{
			10: {comm: "faaspotd", utime: 150, stime: 70, cutime: 5},
			12: {comm: "dockerd", utime: 540},
			14: {comm: "containerd-shim", utime: 8},
			16: {comm: "containerd-shim", utime: 2},
			17: {comm: "containerd-shim", utime: 1},
			30: {comm: "python3", utime: 99},
		},
		containers: map[string]int64{"a": 1.5e9, "new": 2e8}}
	b := breakdown(before, after, cpuWho{daemonPID: 10}, nil, 100, 2)
	want := map[string]float64{"faaspotd": 750, "dockerd": 400, "containerd-shim (+ runc)": 60, "runners (sandbox containers)": 700}
	if len(b.Groups) != len(want) {
		t.Fatalf("groups %+v, want %v", b.Groups, want)
	}
	for _, g := range b.Groups {
		if g.CPUMS != want[g.Name] {
			t.Errorf("%s: %v ms, want %v", g.Name, g.CPUMS, want[g.Name])
		}
		if g.MSPerRun != want[g.Name]/100 {
			t.Errorf("%s: %v ms per run", g.Name, g.MSPerRun)
		}
	}
	if b.Groups[0].Name != "faaspotd" || b.Groups[3].Name != "runners (sandbox containers)" {
		t.Errorf("order %+v", b.Groups)
	}
	if b.ListedMS != 1910 || b.MachineBusyMS != 3800 || b.AvailableMS != 4000 || b.DurationS != 2 {
		t.Errorf("listed %v busy %v available %v duration %v", b.ListedMS, b.MachineBusyMS, b.AvailableMS, b.DurationS)
	}
}

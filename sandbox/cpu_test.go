package sandbox

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeFile writes text at root/rel, making its directories.
func writeFile(t *testing.T, root, rel, text string) {
	t.Helper()
	path := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCPUCounterLayouts: the counter of a container is found in each layout Docker makes (v1
// and v2, cgroupfs and systemd drivers) and read in its unit; a container of none, or a file
// that is no counter, reads nothing.
func TestCPUCounterLayouts(t *testing.T) {
	const id = "0123abcd"
	stat := "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n"
	tests := []struct {
		name, rel, text string
		want            time.Duration
		ok              bool
	}{
		{"v1 cgroupfs", "cpuacct/docker/" + id + "/cpuacct.usage", "1500000000\n", 1500 * time.Millisecond, true},
		{"v1 cgroupfs, joined controllers", "cpu,cpuacct/docker/" + id + "/cpuacct.usage", "42\n", 42, true},
		{"v1 systemd", "cpuacct/system.slice/docker-" + id + ".scope/cpuacct.usage", "7000\n", 7 * time.Microsecond, true},
		{"v2 cgroupfs", "docker/" + id + "/cpu.stat", stat, 2500 * time.Millisecond, true},
		{"v2 systemd", "system.slice/docker-" + id + ".scope/cpu.stat", stat, 2500 * time.Millisecond, true},
		{"another container's", "cpuacct/docker/ffff/cpuacct.usage", "1\n", 0, false},
		{"not a counter", "cpuacct/docker/" + id + "/cpuacct.usage", "garbage\n", 0, false},
		{"v2 without usage_usec", "docker/" + id + "/cpu.stat", "user_usec 3\n", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, root, tt.rel, tt.text)
			got, ok := findCPUCounter(root, id).read()
			if got != tt.want || ok != tt.ok {
				t.Errorf("read = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	if c := findCPUCounter("", id); c.path != "" {
		t.Errorf("no root found %q", c.path)
	}
}

// TestCPUSince: the counter's growth since a reading; 0 when a reading failed or it went back.
func TestCPUSince(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "cpuacct/docker/c1/cpuacct.usage", "5000000\n")
	c := findCPUCounter(root, "c1")
	before, ok := c.read()
	writeFile(t, root, "cpuacct/docker/c1/cpuacct.usage", "8000000\n")
	if d := cpuSince(c, before, ok); d != 3*time.Millisecond {
		t.Errorf("cpuSince = %v, want 3ms", d)
	}
	if d := cpuSince(c, 9*time.Millisecond, true); d != 0 {
		t.Errorf("cpuSince of a counter that went back = %v, want 0", d)
	}
	if d := cpuSince(c, 0, false); d != 0 {
		t.Errorf("cpuSince without a first reading = %v, want 0", d)
	}
	if d := cpuSince(cpuCounter{}, 0, true); d != 0 {
		t.Errorf("cpuSince of no counter = %v, want 0", d)
	}
}

// TestRunReportsNoCPUWithoutCgroups: a run whose container's cgroup cannot be found (the fake
// engine's containers have none) reports 0 CPU time and runs as ever.
func TestRunReportsNoCPUWithoutCgroups(t *testing.T) {
	s := mustNew(t, newFake(t, process{}))
	s.cfg.CgroupRoot = t.TempDir()
	res, err := s.Run(t.Context(), testRequest(keyA))
	if err != nil || res.Outcome != Completed || res.CPU != 0 {
		t.Errorf("Run = %+v, %v; want completed with CPU 0", res, err)
	}
}

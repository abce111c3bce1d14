package bench

import (
	"strings"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    procStat
		wantErr string
	}{
		{name: "dockerd",
			line: "1453 (dockerd) S 1 1453 1453 0 -1 4194560 60231 2301 3 0 1520 980 12 7 20 0 31 0 1234 2000000000 20000 18446744073709551615\n",
			want: procStat{comm: "dockerd", utime: 1520, stime: 980, cutime: 12, cstime: 7}},
		{name: "a name with spaces and parentheses",
			line: "77 (a (b) c) R 1 77 77 0 -1 0 0 0 0 0 5 6 7 8 20 0 1 0 1 1 1",
			want: procStat{comm: "a (b) c", utime: 5, stime: 6, cutime: 7, cstime: 8}},
		{name: "the truncated shim name",
			line: "900 (containerd-shim) S 1 900 1 0 -1 0 0 0 0 0 30 40 1 2 20 0 12 0 5 6 7",
			want: procStat{comm: "containerd-shim", utime: 30, stime: 40, cutime: 1, cstime: 2}},
		{name: "no command name", line: "1 dockerd S 1", wantErr: "no command name"},
		{name: "too few fields", line: "1 (x) S 1 2 3", wantErr: "fields"},
		{name: "not a number", line: "1 (x) S 1 1 1 0 -1 0 0 0 0 0 u 6 7 8 20", wantErr: "field 14"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat(tt.line)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
			if got.ticks() != tt.want.utime+tt.want.stime+tt.want.cutime+tt.want.cstime {
				t.Errorf("ticks %d", got.ticks())
			}
		})
	}
}

func TestParseMachineStat(t *testing.T) {
	text := "cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\nintr 12345\n"
	busy, total, err := parseMachineStat(text)
	if err != nil || busy != 161 || total != 1181 {
		t.Errorf("busy %d total %d err %v; want 161, 1181", busy, total, err)
	}
	if _, _, err := parseMachineStat("cpu0 1 2 3 4 5 6 7 8\n"); err == nil {
		t.Errorf("no all-CPU line: want an error")
	}
}

func TestParseVmRSS(t *testing.T) {
	got, err := parseVmRSS("Name:\tfaaspotd\nVmPeak:\t  900 kB\nVmRSS:\t   41234 kB\nThreads:\t12\n")
	if err != nil || got != 41234*1024 {
		t.Errorf("got %d, %v", got, err)
	}
	for _, bad := range []string{"Name:\tx\n", "VmRSS:\t12 MB\n"} {
		if _, err := parseVmRSS(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestCgroupCPUFile(t *testing.T) {
	tests := []struct {
		name   string
		cgroup string
		path   string
		v2     bool
	}{
		{name: "v1, cgroupfs driver", cgroup: "4:memory:/docker/abc\n2:cpuacct:/docker/abc\n1:cpu:/docker/abc\n0::/\n",
			path: "/sys/fs/cgroup/cpuacct/docker/abc/cpuacct.usage"},
		{name: "v1, joined controllers, systemd driver", cgroup: "3:cpu,cpuacct:/system.slice/docker-abc.scope\n1:name=systemd:/x\n",
			path: "/sys/fs/cgroup/cpu,cpuacct/system.slice/docker-abc.scope/cpuacct.usage"},
		{name: "v2", cgroup: "0::/system.slice/docker-abc.scope\n", path: "/sys/fs/cgroup/system.slice/docker-abc.scope/cpu.stat", v2: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, v2, err := cgroupCPUFile("/sys/fs/cgroup", tt.cgroup)
			if err != nil || path != tt.path || v2 != tt.v2 {
				t.Errorf("got %q v2=%v %v; want %q v2=%v", path, v2, err, tt.path, tt.v2)
			}
		})
	}
	if _, _, err := cgroupCPUFile("/sys/fs/cgroup", "4:memory:/docker/abc\n"); err == nil {
		t.Errorf("no cpu controller: want an error")
	}
}

func TestParseCgroupCPU(t *testing.T) {
	if ns, err := parseCgroupCPU("123456789\n", false); err != nil || ns != 123456789 {
		t.Errorf("v1: %d %v", ns, err)
	}
	if ns, err := parseCgroupCPU("usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n", true); err != nil || ns != 1500000 {
		t.Errorf("v2: %d %v", ns, err)
	}
	if _, err := parseCgroupCPU("user_usec 1000\n", true); err == nil {
		t.Errorf("v2 without usage_usec: want an error")
	}
}

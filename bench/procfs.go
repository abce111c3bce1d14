package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Reading /proc and the cgroup file systems. Pure parsers (tested) and the thin readers that
// call them.

// userHZ is the unit of the CPU times in /proc (USER_HZ): fixed at 100 by the kernel's ABI.
const userHZ = 100

// procStat is what the bench reads from /proc/PID/stat: the command name and the CPU time, in
// ticks, of the process and of its children it waited for.
type procStat struct {
	comm                         string
	utime, stime, cutime, cstime int64
}

// ticks is the process's CPU time with that of its reaped children (a shim's runc calls, a
// runner's forked runs).
func (p procStat) ticks() int64 { return p.utime + p.stime + p.cutime + p.cstime }

// parseProcStat parses the one line of /proc/PID/stat. The command name is between the first
// '(' and the last ')' (it may hold spaces and parentheses); utime, stime, cutime and cstime are
// fields 14 to 17.
func parseProcStat(line string) (procStat, error) {
	open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return procStat{}, fmt.Errorf("proc stat: no command name in %q", line)
	}
	f := strings.Fields(line[end+1:]) // f[0] is field 3 (state)
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("proc stat: %d fields after the command name, want 15 or more", len(f))
	}
	var v [4]int64
	for i := range v {
		n, err := strconv.ParseInt(f[11+i], 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("proc stat: field %d: %w", 14+i, err)
		}
		v[i] = n
	}
	return procStat{comm: line[open+1 : end], utime: v[0], stime: v[1], cutime: v[2], cstime: v[3]}, nil
}

// parseMachineStat returns the busy and total ticks of the "cpu" line of /proc/stat, all CPUs
// together: busy is user, nice, system, irq, softirq and steal; total adds idle and iowait.
func parseMachineStat(text string) (busy, total int64, err error) {
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || f[0] != "cpu" {
			continue
		}
		var v [8]int64
		for i := range v {
			if v[i], err = strconv.ParseInt(f[1+i], 10, 64); err != nil {
				return 0, 0, fmt.Errorf("/proc/stat cpu line: %w", err)
			}
		}
		busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
		return busy, busy + v[3] + v[4], nil
	}
	return 0, 0, fmt.Errorf("/proc/stat: no cpu line")
}

// parseVmRSS returns VmRSS of /proc/PID/status in bytes.
func parseVmRSS(text string) (int64, error) {
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("VmRSS: unexpected %q", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		return kb << 10, err
	}
	return 0, fmt.Errorf("no VmRSS line")
}

// cgroupCPUFile returns the file holding the CPU usage of the cgroup of a process, from its
// /proc/PID/cgroup: cpuacct.usage (nanoseconds) under the cpuacct hierarchy of cgroup v1, or
// cpu.stat (usage_usec) of the unified hierarchy of cgroup v2. root is where the cgroup file
// systems are mounted (/sys/fs/cgroup).
func cgroupCPUFile(root, procCgroup string) (path string, v2 bool, err error) {
	unified := ""
	for _, line := range strings.Split(strings.TrimSpace(procCgroup), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" && parts[0] == "0" {
			unified = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "cpuacct" {
				return filepath.Join(root, parts[1], parts[2], "cpuacct.usage"), false, nil
			}
		}
	}
	if unified != "" {
		return filepath.Join(root, unified, "cpu.stat"), true, nil
	}
	return "", false, fmt.Errorf("no cpuacct or unified cgroup in %q", procCgroup)
}

// parseCgroupCPU returns the CPU usage in nanoseconds from the content of the file
// cgroupCPUFile named.
func parseCgroupCPU(text string, v2 bool) (int64, error) {
	if !v2 {
		return strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	}
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, "usage_usec "); ok {
			us, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			return us * 1000, err
		}
	}
	return 0, fmt.Errorf("cpu.stat: no usage_usec")
}

// readProcStat reads /proc/PID/stat.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(string(b))
}

// allProcs reads the stat of every process on the machine (those that vanish meanwhile are
// skipped).
func allProcs() map[int]procStat {
	out := map[int]procStat{}
	entries, _ := os.ReadDir("/proc")
	for _, d := range entries {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if st, err := readProcStat(pid); err == nil {
			out[pid] = st
		}
	}
	return out
}

// processRSS returns the resident memory of a process, in bytes.
func processRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(string(b))
}

// machineTicks reads the busy and total ticks of all CPUs.
func machineTicks() (busy, total int64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	return parseMachineStat(string(b))
}

// cgroupCPU returns the CPU usage (ns) of the cgroup of a process (a container's init).
func cgroupCPU(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return 0, err
	}
	path, v2, err := cgroupCPUFile("/sys/fs/cgroup", string(b))
	if err != nil {
		return 0, err
	}
	c, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return parseCgroupCPU(string(c), v2)
}

package sandbox

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// CPU metering. A container serves one run at a time, so the CPU time its cgroup counted between
// the request and the answer is the run's (Result.CPU): the function's, its runner's handling of
// the request and, for a cold start, the function's import (in fork mode, what of the next run's
// fork happens before the second reading too: under a millisecond). The sandbox reads the counter from
// the engine's cgroup file system (Config.CgroupRoot), which it finds by the container's id in
// the layouts Docker makes:
//
//	cgroup v1: {root}/cpuacct/{parent}/cpuacct.usage (also under cpu,cpuacct), nanoseconds
//	cgroup v2: {root}/{parent}/cpu.stat, its usage_usec line
//
// where {parent} is docker/{id} (the cgroupfs driver) or system.slice/docker-{id}.scope (the
// systemd driver). A container whose counter cannot be found or read (a remote engine, a
// custom cgroup parent, a daemon in a container without the host's cgroups) has a CPU time of 0,
// and nothing fails: metering never stops a run.

// cpuCounter is where one container's cumulative CPU time is read: path "" when nowhere.
type cpuCounter struct {
	path string
	v2   bool // cpu.stat (usage_usec) rather than cpuacct.usage (nanoseconds)
}

// findCPUCounter returns the first of the known layouts under root that holds the counter of
// container id; the zero cpuCounter when none does.
func findCPUCounter(root, id string) cpuCounter {
	if root == "" || id == "" {
		return cpuCounter{}
	}
	parents := []string{filepath.Join("docker", id), filepath.Join("system.slice", "docker-"+id+".scope")}
	for _, p := range parents {
		for _, ctrl := range []string{"cpuacct", "cpu,cpuacct", "cpuacct,cpu"} {
			if c := (cpuCounter{path: filepath.Join(root, ctrl, p, "cpuacct.usage")}); exists(c.path) {
				return c
			}
		}
		if c := (cpuCounter{path: filepath.Join(root, p, "cpu.stat"), v2: true}); exists(c.path) {
			return c
		}
	}
	return cpuCounter{}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// read returns the container's cumulative CPU time, false when it cannot be read.
func (c cpuCounter) read() (time.Duration, bool) {
	if c.path == "" {
		return 0, false
	}
	b, err := os.ReadFile(c.path)
	if err != nil {
		return 0, false
	}
	if !c.v2 {
		ns, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
		return time.Duration(ns), err == nil && ns >= 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("usage_usec ")); ok {
			us, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			return time.Duration(us) * time.Microsecond, err == nil && us >= 0
		}
	}
	return 0, false
}

// cpuSince is the CPU time the counter counted since before (read then), 0 when either reading
// failed or the counter went backwards (another container's counter at the same path).
func cpuSince(c cpuCounter, before time.Duration, ok bool) time.Duration {
	after, ok2 := c.read()
	if !ok || !ok2 || after < before {
		return 0
	}
	return after - before
}

// cpuCounter returns b's counter, found under root at its first use and kept for its life.
func (b *box) cpuCounter(root string) cpuCounter {
	if !b.cpuFound {
		b.cpu, b.cpuFound = findCPUCounter(root, b.id), true
	}
	return b.cpu
}

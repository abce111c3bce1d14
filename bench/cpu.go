package bench

import (
	"context"
	"os"
	"strings"
	"syscall"
	"time"
)

// CPU time per run: every process on the path of a warm run is sampled before and after a load,
// and its CPU time is divided by the runs the load completed.

// cpuGroup is the CPU time one kind of process spent during a load.
type cpuGroup struct {
	Name      string  `json:"name"`
	Processes int     `json:"processes"` // processes (or containers) counted
	CPUMS     float64 `json:"cpu_ms"`
	MSPerRun  float64 `json:"cpu_ms_per_run"`
	Share     float64 `json:"share_of_available"` // CPUMS / AvailableMS
}

// cpuBreakdown is the CPU time of each part of the system during one load.
type cpuBreakdown struct {
	Load        string     `json:"load"`
	Kind        string     `json:"kind"` // the wrk load's: "sync" or "async"
	DurationS   float64    `json:"duration_s"`
	Runs        int64      `json:"runs"` // expected answers: completed sync runs, or accepts
	CPUs        int        `json:"cpus"`
	AvailableMS float64    `json:"available_cpu_ms"` // CPUs × duration
	Groups      []cpuGroup `json:"groups"`
	ListedMS    float64    `json:"listed_cpu_ms"`
	// MachineBusyMS is every CPU's busy time (/proc/stat), whatever ran: the listed processes,
	// the kernel's network and interrupt work, and anything else on the machine.
	MachineBusyMS float64 `json:"machine_busy_cpu_ms"`
	Note          string  `json:"note"`
}

// cpuSample is the CPU state of the machine at one moment.
type cpuSample struct {
	at         time.Time
	procs      map[int]procStat
	containers map[string]int64 // sandbox container id → cgroup CPU ns
	busy       int64            // machine busy ticks
}

// cpuWho tells which group a process belongs to (empty: none).
type cpuWho struct {
	daemonPID int
	redisPID  int // 0: any redis-server (a Redis the bench did not start)
}

// group classifies a process by pid and command name.
func (w cpuWho) group(pid int, comm string) string {
	switch {
	case pid == w.daemonPID:
		return "faaspotd"
	case pid == os.Getpid():
		return "bench process (idle client)"
	case comm == "dockerd":
		return "dockerd"
	case comm == "containerd":
		return "containerd"
	case strings.HasPrefix(comm, "containerd-shim"):
		return "containerd-shim (+ runc)"
	case w.redisPID != 0 && pid == w.redisPID, w.redisPID == 0 && comm == "redis-server":
		return "redis-server"
	}
	return ""
}

// groupOrder is the order of the breakdown's rows.
var groupOrder = []string{"faaspotd", "dockerd", "containerd", "containerd-shim (+ runc)", "redis-server",
	"runners (sandbox containers)", "wrk", "bench process (idle client)"}

// sampleCPU reads every process and the cgroups of nodeID's running sandbox containers. Finding
// the containers asks the Docker engine, which costs dockerd CPU time: before a load (start)
// that is done first, after it last, so that neither lands inside the window.
func (e *benchEnv) sampleCPU(ctx context.Context, nodeID string, start bool) cpuSample {
	s := cpuSample{containers: map[string]int64{}}
	procs := func() {
		s.at = time.Now()
		s.procs = allProcs()
		s.busy, _, _ = machineTicks()
	}
	if !start {
		procs()
	}
	if cs, err := e.sandboxes(ctx, nodeID, false); err == nil {
		for _, c := range cs {
			info, err := e.docker.ContainerInspect(ctx, c.ID)
			if err != nil || info.State == nil || info.State.Pid == 0 {
				continue
			}
			if ns, err := cgroupCPU(info.State.Pid); err == nil {
				s.containers[c.ID] = ns
			}
		}
	}
	if start {
		procs()
	}
	return s
}

// breakdown compares two samples: each group's CPU time (a process or container present only
// in the second counts from zero; one gone by then is not counted), plus wrk's own (its rusage,
// when it ran).
func breakdown(before, after cpuSample, who cpuWho, wrk *os.ProcessState, runs int64, cpus int) cpuBreakdown {
	d := after.at.Sub(before.at)
	b := cpuBreakdown{DurationS: d.Seconds(), Runs: runs, CPUs: cpus, AvailableMS: float64(cpus) * float64(d.Milliseconds())}
	ms := map[string]float64{}
	count := map[string]int{}
	for pid, a := range after.procs {
		g := who.group(pid, a.comm)
		if g == "" {
			continue
		}
		prev := before.procs[pid]
		if prev.comm != a.comm { // new (or a reused pid): counts from zero
			prev = procStat{}
		}
		ms[g] += float64(a.ticks()-prev.ticks()) * 1000 / userHZ
		count[g]++
	}
	for id, ns := range after.containers {
		ms["runners (sandbox containers)"] += float64(ns-before.containers[id]) / 1e6
		count["runners (sandbox containers)"]++
	}
	if wrk != nil {
		if ru, ok := wrk.SysUsage().(*syscall.Rusage); ok {
			ms["wrk"] = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
			count["wrk"] = 1
		}
	}
	for _, g := range groupOrder {
		if count[g] == 0 {
			continue
		}
		row := cpuGroup{Name: g, Processes: count[g], CPUMS: ms[g], Share: ratio(ms[g], b.AvailableMS)}
		if runs > 0 {
			row.MSPerRun = ms[g] / float64(runs)
		}
		b.Groups = append(b.Groups, row)
		b.ListedMS += ms[g]
	}
	b.MachineBusyMS = float64(after.busy-before.busy) * 1000 / userHZ
	return b
}

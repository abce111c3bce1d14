package hardening

import (
	"fmt"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
)

// HostConfig returns the host configuration of a container of tenant code: memory with swap equal
// to memory (no swap), the CPU quota, PidsLimit, the nofile ulimit and no core dumps (core 0),
// the raised OOM score (OOMScoreAdj), a read-only root filesystem with a size-limited /tmp
// tmpfs (nosuid, nodev, noexec), private IPC and cgroup namespaces with a /dev/shm of
// ShmBytes, every capability dropped, no-new-privileges, an init process, the operator's
// network (none by default) and runtime, and no log driver (output is read through the attach
// stream, never stored by the engine). It binds no host path, publishes no port and shares no
// host namespace. The user is the container configuration's (ContainerConfig).
func HostConfig(cfg Config, res Resources) *container.HostConfig {
	cfg = cfg.WithDefaults()
	pids := cfg.PidsLimit
	initProcess := true // the process is not PID 1: signals behave, zombies are reaped
	return &container.HostConfig{
		Init:           &initProcess,
		NetworkMode:    container.NetworkMode(cfg.Network),
		IpcMode:        "private",
		CgroupnsMode:   "private",
		ShmSize:        cfg.ShmBytes,
		OomScoreAdj:    cfg.OOMScoreAdj,
		ReadonlyRootfs: true,
		Tmpfs:          map[string]string{"/tmp": fmt.Sprintf("rw,nosuid,nodev,noexec,mode=1777,size=%d", cfg.TmpfsBytes)},
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		Runtime:        cfg.Runtime,
		LogConfig:      container.LogConfig{Type: "none"},
		Resources: container.Resources{
			Memory:     res.MemoryBytes,
			MemorySwap: res.MemoryBytes, // memory+swap == memory: no swap
			NanoCPUs:   res.NanoCPUs,
			PidsLimit:  &pids,
			Ulimits:    []*container.Ulimit{nofile(cfg), noCore()},
		},
	}
}

// StageHostConfig returns the host configuration of a build stage container (RoleBuild), which
// fetches or installs a deployment's requirements: HostConfig's, with cfg.Network (the caller
// gives the fetching stage the build network and the installing stage "none"), a /tmp of
// diskBytes that allows exec (compilers and build backends load what they build) and memory
// for res plus the /tmp (its pages are charged to the container's memory).
func StageHostConfig(cfg Config, res Resources, diskBytes int64) *container.HostConfig {
	res.MemoryBytes += diskBytes
	hc := HostConfig(cfg, res)
	hc.Tmpfs = map[string]string{"/tmp": fmt.Sprintf("rw,nosuid,nodev,mode=1777,size=%d", diskBytes)}
	return hc
}

// ContainerConfig returns the hardened part of a container's configuration: the non-root user
// (cfg.User; DefaultUser when unset: give a tenant's containers cfg.ForTenant(tenant)), /tmp as
// working directory and the labels of role (see Labels). The caller sets the image, the command
// and the stdin wiring, and may add labels; it sets no environment from tenant data.
func ContainerConfig(cfg Config, role string) *container.Config {
	return &container.Config{User: cfg.TenantUser(""), WorkingDir: "/tmp", Labels: Labels(cfg, role)}
}

// BuildOptions returns the options of an image build that carry what the build API can enforce
// on the build's step containers: memory with swap equal to memory, the CPU quota (NanoCPUs as
// a quota over a 100 ms period), the /dev/shm size, the nofile and core (0) ulimits and, since
// the build API has no pids limit,
// an nproc ulimit of cfg.PidsLimit in its place (it counts every process of the step's uid on
// the host, so callers give builds a larger PidsLimit than runs). The image gets ImageLabels.
// The network is not set: builds use the network the operator gives them, not the runs'.
func BuildOptions(cfg Config, res Resources) build.ImageBuildOptions {
	cfg = cfg.WithDefaults()
	return build.ImageBuildOptions{
		Memory:     res.MemoryBytes,
		MemorySwap: res.MemoryBytes,
		CPUPeriod:  cpuPeriod,
		CPUQuota:   res.NanoCPUs * cpuPeriod / 1e9,
		ShmSize:    cfg.ShmBytes,
		Ulimits: []*container.Ulimit{nofile(cfg), noCore(),
			{Name: "nproc", Soft: cfg.PidsLimit, Hard: cfg.PidsLimit}},
		Labels: ImageLabels(cfg),
	}
}

// cpuPeriod is the CFS period of a build's CPU quota, in microseconds (the kernel's default).
const cpuPeriod = 100_000

func nofile(cfg Config) *container.Ulimit {
	return &container.Ulimit{Name: "nofile", Soft: cfg.NoFile, Hard: cfg.NoFile}
}

// noCore turns core dumps off: a dump would write the process's memory (its context) to disk.
func noCore() *container.Ulimit { return &container.Ulimit{Name: "core", Soft: 0, Hard: 0} }

// NodeFilter matches every container node made, whatever its role, and no other node's: for
// listing a node's orphans.
func NodeFilter(node string) filters.Args {
	return filters.NewArgs(filters.Arg("label", LabelManaged+"=true"), filters.Arg("label", LabelNode+"="+node))
}

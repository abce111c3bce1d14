package sandbox

import (
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
)

// Labels put on every sandbox container.
const (
	LabelManaged   = "io.faaspot.managed"
	LabelRole      = "io.faaspot.role"
	LabelTenant    = "io.faaspot.tenant"
	LabelExecution = "io.faaspot.execution" // the run that started the container (none if pre-warmed)
	LabelNode      = "io.faaspot.node"
	LabelKey       = "io.faaspot.key" // the deployment version a container serves (server-side ids)
	roleSandbox    = "sandbox"
)

// Limits are the resources of one run, already defaulted and capped by the caller.
type Limits struct {
	MemoryBytes int64
	NanoCPUs    int64
	Timeout     time.Duration
	// OutputBytes caps each of stdout and stderr; ResultBytes caps the JSON return value.
	OutputBytes int
	ResultBytes int
}

// Config is the operator's sandbox settings, the same for every run.
type Config struct {
	// Network is the container network mode: "none" (default) or an operator-allowed network.
	Network string
	// Runtime is an optional OCI runtime (e.g. "runsc"); empty uses the engine's default.
	Runtime string
	// User is the uid:gid runs use; it must be non-root.
	User string
	// PidsLimit caps processes and threads in a container.
	PidsLimit int64
	// NoFile caps open file descriptors per process.
	NoFile int64
	// TmpfsBytes sizes the writable /tmp.
	TmpfsBytes int64
	// Node labels the containers of this node (see RemoveOrphans).
	Node string
	// Mode is how a warm container runs successive requests: "process" reuses the runner's
	// process (fastest; module globals persist between runs), "fork" forks a fresh process per
	// run from the pre-imported runner (about a millisecond; nothing of a run's process survives).
	Mode string
	// MaxIdle caps the idle warm containers of this node, all deployments together.
	MaxIdle int
}

// DefaultConfig is the hardened default.
func DefaultConfig() Config {
	return Config{Network: "none", User: "65534:65534", PidsLimit: 128, NoFile: 1024, TmpfsBytes: 64 << 20,
		Mode: "fork", MaxIdle: 64}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	def := DefaultConfig()
	if c.Network == "" {
		c.Network = def.Network
	}
	if c.User == "" {
		c.User = def.User
	}
	if c.PidsLimit <= 0 {
		c.PidsLimit = def.PidsLimit
	}
	if c.NoFile <= 0 {
		c.NoFile = def.NoFile
	}
	if c.TmpfsBytes <= 0 {
		c.TmpfsBytes = def.TmpfsBytes
	}
	if c.Mode == "" {
		c.Mode = def.Mode
	}
	if c.MaxIdle <= 0 {
		c.MaxIdle = def.MaxIdle
	}
	return c
}

// isRoot reports whether a "uid[:gid]" user runs as root.
func isRoot(user string) bool {
	uid, _, _ := strings.Cut(user, ":")
	return uid == "0" || uid == "root"
}

// hostConfig renders the hardened host configuration of a run's container.
func hostConfig(cfg Config, l Limits) *container.HostConfig {
	pids := cfg.PidsLimit
	network := cfg.Network
	if network == "" {
		network = "none"
	}
	initProcess := true // the runner is not PID 1: signals behave, zombies are reaped
	return &container.HostConfig{
		Init:           &initProcess,
		NetworkMode:    container.NetworkMode(network),
		ReadonlyRootfs: true,
		Tmpfs:          map[string]string{"/tmp": fmt.Sprintf("rw,nosuid,nodev,noexec,mode=1777,size=%d", cfg.TmpfsBytes)},
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		Runtime:        cfg.Runtime,
		LogConfig:      container.LogConfig{Type: "none"},
		Resources: container.Resources{
			Memory:     l.MemoryBytes,
			MemorySwap: l.MemoryBytes, // memory+swap == memory: no swap
			NanoCPUs:   l.NanoCPUs,
			PidsLimit:  &pids,
			Ulimits:    []*container.Ulimit{{Name: "nofile", Soft: cfg.NoFile, Hard: cfg.NoFile}},
		},
	}
}

// containerConfig renders the container configuration: the image's runner as entrypoint, stdin
// open for the one JSON document, no environment beyond the image's.
func containerConfig(cfg Config, req Request) *container.Config {
	return &container.Config{
		Image:        req.Image,
		Cmd:          []string{"--serve", cfg.Mode},
		User:         cfg.User,
		WorkingDir:   "/tmp",
		OpenStdin:    true,
		StdinOnce:    true,
		AttachStdin:  true,
		AttachStdout: true,
		AttachStderr: true,
		Labels: map[string]string{LabelManaged: "true", LabelRole: roleSandbox, LabelNode: cfg.Node,
			LabelTenant: req.TenantID, LabelExecution: req.ExecutionID, LabelKey: req.Key},
	}
}

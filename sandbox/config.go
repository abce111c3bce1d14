package sandbox

import (
	"fmt"

	"github.com/faaspot/faaspot/hardening"
)

// Mode is how a warm container runs successive requests.
type Mode string

const (
	// ModeFork forks a fresh process per run from the pre-imported runner (about 2 ms of CPU
	// per run here, off the run's path; nothing of a run's process survives it).
	ModeFork Mode = "fork"
	// ModeProcess reuses the runner's process (fastest; module globals persist between runs,
	// as on AWS Lambda). The default.
	ModeProcess Mode = "process"
)

// valid reports whether m is a mode the runner serves.
func (m Mode) valid() bool { return m == ModeFork || m == ModeProcess }

// UnmarshalText accepts fork or process (the FAASPOT_WARM_MODE setting).
func (m *Mode) UnmarshalText(b []byte) error {
	if v := Mode(b); v.valid() {
		*m = v
		return nil
	}
	return fmt.Errorf("warm mode must be %s or %s, not %q", ModeFork, ModeProcess, b)
}

// modeOf is the mode of req's container: its version's (req.Policy.Mode), else c.Mode.
func (c Config) modeOf(req Request) Mode {
	if req.Policy.Mode.valid() {
		return req.Policy.Mode
	}
	return c.Mode
}

// MarshalText returns the mode's name.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m), nil }

// Config is the operator's sandbox settings, the same for every run. The embedded
// hardening.Config (network, runtime, user, process, file and /tmp limits, node) is the one
// definition of a container's confinement, shared with the image builder's check containers.
type Config struct {
	hardening.Config
	// Mode is how a warm container runs successive requests (ModeProcess by default); a
	// version's own (PoolPolicy.Mode) wins.
	Mode Mode
	// MaxIdle caps the idle warm containers of this node, all deployments together.
	MaxIdle int
	// Channel gives every container a unix socket of its own for the protocol (channel.go),
	// bypassing the engine; the engine must share this host's file system (a local engine).
	// Runners that cannot connect to it fall back to stdio.
	Channel bool
	// CgroupRoot is where the engine's cgroup file system is mounted on this host, to read the
	// containers' CPU time (cpu.go; default /sys/fs/cgroup). A root that holds none of the
	// containers' cgroups (a remote engine) leaves every run's CPU time at 0.
	CgroupRoot string
}

// DefaultConfig is the hardened default: hardening.DefaultConfig, process mode, 64 idle
// containers, CPU time read under /sys/fs/cgroup.
func DefaultConfig() Config {
	return Config{Config: hardening.DefaultConfig(), Mode: ModeProcess, MaxIdle: 64, CgroupRoot: "/sys/fs/cgroup"}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	def := DefaultConfig()
	c.Config = c.Config.WithDefaults()
	if c.Mode == "" {
		c.Mode = def.Mode
	}
	if c.MaxIdle <= 0 {
		c.MaxIdle = def.MaxIdle
	}
	if c.CgroupRoot == "" {
		c.CgroupRoot = def.CgroupRoot
	}
	return c
}

// validate refuses a root user and an unknown mode.
func (c Config) validate() error {
	if err := c.Config.Validate(); err != nil {
		return fmt.Errorf("sandbox config: %w", err)
	}
	if !c.Mode.valid() {
		return fmt.Errorf("sandbox mode %q: want %s or %s", c.Mode, ModeProcess, ModeFork)
	}
	return nil
}

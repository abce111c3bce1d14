package daemon

import (
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/sandbox"
)

// Run output caps.
const (
	outputLimit = 256 << 10
	resultLimit = 1 << 20
)

// limitSettings are the operator's defaults and caps of a run's resources.
type limitSettings struct {
	defaultMemMB, defaultTimeoutS int
	defaultCPUs                   float64
	maxMemMB, maxTimeoutS         int
	maxCPUs                       float64
}

// limitsOf picks the limit settings out of cfg.
func limitsOf(cfg Config) limitSettings {
	return limitSettings{defaultMemMB: cfg.DefaultMemMB, defaultTimeoutS: cfg.DefaultTimeout,
		defaultCPUs: cfg.DefaultCPUs, maxMemMB: cfg.MaxMemMB, maxTimeoutS: cfg.MaxTimeout, maxCPUs: cfg.MaxCPUs}
}

// sandbox turns a deployment's limits into the sandbox's: zero or negative values take the
// defaults, and every value (defaults included) is capped.
func (s limitSettings) sandbox(l faaspot.Limits) sandbox.Limits {
	mem, cpus, timeout := l.MemoryMB, l.CPUs, l.TimeoutS
	if mem <= 0 {
		mem = s.defaultMemMB
	}
	if cpus <= 0 {
		cpus = s.defaultCPUs
	}
	if timeout <= 0 {
		timeout = s.defaultTimeoutS
	}
	mem, cpus, timeout = min(mem, s.maxMemMB), min(cpus, s.maxCPUs), min(timeout, s.maxTimeoutS)
	return sandbox.Limits{
		MemoryBytes: int64(mem) << 20,
		NanoCPUs:    int64(cpus * 1e9),
		Timeout:     time.Duration(timeout) * time.Second,
		OutputBytes: outputLimit,
		ResultBytes: resultLimit,
	}
}

// runLimits turns a deployment's limits into the sandbox's, applying cfg's defaults and caps.
func runLimits(l faaspot.Limits, cfg Config) sandbox.Limits {
	return limitsOf(cfg).sandbox(l)
}

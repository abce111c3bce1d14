// Package daemon wires faaspot together: configuration, the store (Redis or an embedded
// in-process one), the Docker-backed image builder and sandbox, the HTTP API and the worker loops.
package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is the daemon's whole configuration. DefaultConfig gives the defaults; LoadEnv overlays
// FAASPOT_* environment variables; cmd/faaspotd overlays flags.
type Config struct {
	Listen         string // FAASPOT_LISTEN
	RedisURL       string // FAASPOT_REDIS_URL; empty: embedded in-process store, not durable
	KeyPrefix      string // FAASPOT_KEY_PREFIX; Redis key prefix
	AdminToken     string // FAASPOT_ADMIN_TOKEN; empty with the embedded store: generated
	BaseImage      string // FAASPOT_BASE_IMAGE
	PipIndexURL    string // FAASPOT_PIP_INDEX_URL
	BuildNetwork   string // FAASPOT_BUILD_NETWORK
	SandboxNetwork string // FAASPOT_SANDBOX_NETWORK
	Runtime        string // FAASPOT_RUNTIME, e.g. runsc
	// AllowVulnerableRuntime starts workers (with a loud warning) on an engine whose runc lacks
	// the fixes for CVE-2019-5736 or CVE-2024-21626; by default they refuse to start.
	AllowVulnerableRuntime bool          // FAASPOT_ALLOW_VULNERABLE_RUNTIME
	DefaultMemMB           int           // FAASPOT_DEFAULT_MEMORY_MB
	DefaultTimeout         int           // FAASPOT_DEFAULT_TIMEOUT_S
	DefaultCPUs            float64       // FAASPOT_DEFAULT_CPUS
	MaxMemMB               int           // FAASPOT_MAX_MEMORY_MB
	MaxTimeout             int           // FAASPOT_MAX_TIMEOUT_S
	MaxCPUs                float64       // FAASPOT_MAX_CPUS
	Workers                int           // FAASPOT_WORKERS: concurrent runs per node
	BuildWorkers           int           // FAASPOT_BUILD_WORKERS: concurrent builds per node
	ResultTTL              time.Duration // FAASPOT_RESULT_TTL
	SyncWait               time.Duration // FAASPOT_SYNC_WAIT
	Role                   string        // FAASPOT_ROLE: all, api or worker
	SecretKeyFile          string        // FAASPOT_SECRET_KEY_FILE: key encrypting contexts at rest
	DataDir                string        // FAASPOT_DATA_DIR: where a generated secret key and node id are kept
	// NodeID names this node's containers, so that at start-up it removes its own orphans and
	// never another node's runs on a shared engine. Empty: read from (or created in) the data dir.
	NodeID string // FAASPOT_NODE_ID
	// DevTenant, when set, is created at start-up (if missing) and its token printed.
	DevTenant string // FAASPOT_DEV_TENANT
	// ClientConfig, when set, is a path where the dev tenant's URL and token are written as JSON
	// (the CLI's ~/.faaspot/config.json).
	ClientConfig string // FAASPOT_WRITE_CLIENT_CONFIG
	// Default per-tenant quotas (a tenant's own, set through the admin API, override them).
	MaxConcurrentRuns int     // FAASPOT_MAX_CONCURRENT_RUNS; 0: half the workers (at least 1)
	MaxQueuedRuns     int     // FAASPOT_MAX_QUEUED_RUNS
	MaxDeployments    int     // FAASPOT_MAX_DEPLOYMENTS
	RequestsPerSecond float64 // FAASPOT_REQUESTS_PER_SECOND, counted across every API node
	// Warm execution: keep started containers of a deployment version for its next runs.
	Warm         bool          // FAASPOT_WARM (default true); false: every run in a fresh container
	WarmMode     string        // FAASPOT_WARM_MODE: fork (default) or process
	WarmMaxIdle  int           // FAASPOT_WARM_MAX_IDLE: idle containers per deployment version
	WarmMaxTotal int           // FAASPOT_WARM_MAX_TOTAL: idle containers on this node
	WarmIdleTTL  time.Duration // FAASPOT_WARM_IDLE_TTL: scale to zero after this idle time
	WarmMaxRuns  int           // FAASPOT_WARM_MAX_RUNS: runs per container (1: fresh every run)
	WarmPrewarm  int           // FAASPOT_WARM_PREWARM: containers started when a version is ready
	// ReclaimIdle is how long a delivered job may go untouched before another worker takes it.
	ReclaimIdle time.Duration
	// JanitorInterval (FAASPOT_JANITOR_INTERVAL) is how often a worker node removes the images it
	// built for deployments that no longer exist (kept when in use at delete time); 0 turns it off.
	JanitorInterval time.Duration
	// JanitorGrace (FAASPOT_JANITOR_GRACE) is how old an image of a deployment that exists must be
	// before the janitor removes it as an old version: longer than a build takes.
	JanitorGrace time.Duration
}

// DefaultConfig returns the defaults of DESIGN.md §6.
func DefaultConfig() Config {
	return Config{
		Listen:            "127.0.0.1:8080",
		KeyPrefix:         "fs:",
		BaseImage:         "python:3.12-slim",
		SandboxNetwork:    "none",
		DefaultMemMB:      256,
		DefaultTimeout:    30,
		DefaultCPUs:       1,
		MaxMemMB:          2048,
		MaxTimeout:        900,
		MaxCPUs:           2,
		Workers:           8,
		BuildWorkers:      2,
		ResultTTL:         7 * 24 * time.Hour,
		SyncWait:          60 * time.Second,
		Role:              "all",
		ReclaimIdle:       60 * time.Second,
		JanitorInterval:   10 * time.Minute,
		JanitorGrace:      15 * time.Minute,
		Warm:              true,
		WarmMode:          "fork",
		WarmMaxIdle:       4,
		WarmMaxTotal:      64,
		WarmIdleTTL:       10 * time.Minute,
		WarmMaxRuns:       10000,
		WarmPrewarm:       1,
		MaxQueuedRuns:     1000,
		MaxDeployments:    100,
		RequestsPerSecond: 200,
		DataDir:           defaultDataDir(),
	}
}

// defaultDataDir is ~/.faaspot/data, or /var/lib/faaspot when there is no home.
func defaultDataDir() string {
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".faaspot", "data")
	}
	return "/var/lib/faaspot"
}

// LoadEnv overlays the FAASPOT_* variables that getenv returns non-empty.
func (c *Config) LoadEnv(getenv func(string) string) error {
	var errs []error
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	num := func(name string, dst *int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a whole number", name, v))
			}
			*dst = n
		}
	}
	float := func(name string, dst *float64) {
		if v := getenv(name); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a number", name, v))
			}
			*dst = f
		}
	}
	boolean := func(name string, dst *bool) {
		if v := getenv(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not true or false", name, v))
			}
			*dst = b
		}
	}
	dur := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" {
			d, err := parseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
			*dst = d
		}
	}
	str("FAASPOT_LISTEN", &c.Listen)
	str("FAASPOT_REDIS_URL", &c.RedisURL)
	str("FAASPOT_KEY_PREFIX", &c.KeyPrefix)
	str("FAASPOT_ADMIN_TOKEN", &c.AdminToken)
	str("FAASPOT_BASE_IMAGE", &c.BaseImage)
	str("FAASPOT_PIP_INDEX_URL", &c.PipIndexURL)
	str("FAASPOT_BUILD_NETWORK", &c.BuildNetwork)
	str("FAASPOT_SANDBOX_NETWORK", &c.SandboxNetwork)
	str("FAASPOT_RUNTIME", &c.Runtime)
	boolean("FAASPOT_ALLOW_VULNERABLE_RUNTIME", &c.AllowVulnerableRuntime)
	num("FAASPOT_DEFAULT_MEMORY_MB", &c.DefaultMemMB)
	num("FAASPOT_DEFAULT_TIMEOUT_S", &c.DefaultTimeout)
	float("FAASPOT_DEFAULT_CPUS", &c.DefaultCPUs)
	num("FAASPOT_MAX_MEMORY_MB", &c.MaxMemMB)
	num("FAASPOT_MAX_TIMEOUT_S", &c.MaxTimeout)
	float("FAASPOT_MAX_CPUS", &c.MaxCPUs)
	num("FAASPOT_WORKERS", &c.Workers)
	num("FAASPOT_MAX_CONCURRENT_RUNS", &c.MaxConcurrentRuns)
	boolean("FAASPOT_WARM", &c.Warm)
	str("FAASPOT_WARM_MODE", &c.WarmMode)
	num("FAASPOT_WARM_MAX_IDLE", &c.WarmMaxIdle)
	num("FAASPOT_WARM_MAX_TOTAL", &c.WarmMaxTotal)
	dur("FAASPOT_WARM_IDLE_TTL", &c.WarmIdleTTL)
	num("FAASPOT_WARM_MAX_RUNS", &c.WarmMaxRuns)
	num("FAASPOT_WARM_PREWARM", &c.WarmPrewarm)
	num("FAASPOT_MAX_QUEUED_RUNS", &c.MaxQueuedRuns)
	num("FAASPOT_MAX_DEPLOYMENTS", &c.MaxDeployments)
	float("FAASPOT_REQUESTS_PER_SECOND", &c.RequestsPerSecond)
	num("FAASPOT_BUILD_WORKERS", &c.BuildWorkers)
	dur("FAASPOT_RESULT_TTL", &c.ResultTTL)
	dur("FAASPOT_SYNC_WAIT", &c.SyncWait)
	dur("FAASPOT_JANITOR_INTERVAL", &c.JanitorInterval)
	dur("FAASPOT_JANITOR_GRACE", &c.JanitorGrace)
	str("FAASPOT_ROLE", &c.Role)
	str("FAASPOT_SECRET_KEY_FILE", &c.SecretKeyFile)
	str("FAASPOT_DATA_DIR", &c.DataDir)
	str("FAASPOT_NODE_ID", &c.NodeID)
	str("FAASPOT_DEV_TENANT", &c.DevTenant)
	str("FAASPOT_WRITE_CLIENT_CONFIG", &c.ClientConfig)
	return errors.Join(errs...)
}

// runCap is the default maximum of concurrent runs per tenant: half the workers, so that a tenant
// flooding its queue always leaves workers to the others.
func (c *Config) runCap() int {
	if c.MaxConcurrentRuns > 0 {
		return c.MaxConcurrentRuns
	}
	return max(1, c.Workers/2)
}

// parseDuration accepts Go durations ("90s", "168h") and a plain number of seconds.
func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (e.g. 90s, 168h)", v)
	}
	return d, nil
}

// Validate reports every setting that cannot work.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch c.Role {
	case "all", "api", "worker":
	default:
		bad("role must be all, api or worker, not %q", c.Role)
	}
	if c.Role != "api" && c.Workers < 1 {
		bad("workers must be at least 1")
	}
	if c.Role != "api" && c.BuildWorkers < 1 {
		bad("build workers must be at least 1")
	}
	if c.Role != "worker" && strings.TrimSpace(c.Listen) == "" {
		bad("role %s serves the API: set FAASPOT_LISTEN", c.Role)
	}
	if c.Role != "all" && c.RedisURL == "" {
		bad("role %s needs a shared Redis: set FAASPOT_REDIS_URL", c.Role)
	}
	if c.MaxMemMB < 16 || c.DefaultMemMB < 16 || c.DefaultMemMB > c.MaxMemMB {
		bad("memory limits: need 16 <= default (%d) <= max (%d) MB", c.DefaultMemMB, c.MaxMemMB)
	}
	if c.DefaultTimeout < 1 || c.DefaultTimeout > c.MaxTimeout {
		bad("timeouts: need 1 <= default (%d) <= max (%d) s", c.DefaultTimeout, c.MaxTimeout)
	}
	if c.DefaultCPUs <= 0 || c.DefaultCPUs > c.MaxCPUs {
		bad("cpus: need 0 < default (%g) <= max (%g)", c.DefaultCPUs, c.MaxCPUs)
	}
	if c.ResultTTL < time.Minute {
		bad("result TTL must be at least a minute")
	}
	if c.MaxConcurrentRuns < 0 || c.MaxQueuedRuns < 0 || c.MaxDeployments < 0 || c.RequestsPerSecond < 0 {
		bad("quotas must be zero (no limit / default) or positive")
	}
	if c.WarmMode != "fork" && c.WarmMode != "process" {
		bad("warm mode must be fork or process, not %q", c.WarmMode)
	}
	if c.WarmMaxIdle < 0 || c.WarmMaxTotal < 0 || c.WarmMaxRuns < 0 || c.WarmPrewarm < 0 || c.WarmIdleTTL < 0 {
		bad("warm pool settings must not be negative")
	}
	if c.JanitorInterval < 0 || c.JanitorGrace < 0 {
		bad("janitor interval and grace must not be negative")
	}
	if c.ReclaimIdle < time.Second {
		bad("reclaim idle time must be at least a second")
	}
	if c.SyncWait < time.Second {
		bad("sync wait must be at least a second")
	}
	if strings.TrimSpace(c.BaseImage) == "" {
		bad("base image must be set")
	}
	return errors.Join(errs...)
}

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

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/imagebuilder"
	"github.com/faaspot/faaspot/metrics"
	"github.com/faaspot/faaspot/sandbox"
)

// Config is the daemon's whole configuration. DefaultConfig gives the defaults; LoadEnv overlays
// FAASPOT_* environment variables; cmd/faaspotd overlays flags.
type Config struct {
	Listen string // FAASPOT_LISTEN
	// LogFormat is how faaspotd writes its log on stderr: "text" (slog's key=value lines, the
	// default) or "json" (one JSON object per line). Set by cmd/faaspotd, which makes the logger.
	LogFormat string // FAASPOT_LOG_FORMAT
	// AccessLog writes one INFO line per API request: method, route template, status, duration
	// (never the path's values, a header, a token or a body).
	AccessLog bool   // FAASPOT_ACCESS_LOG; default true
	RedisURL  string // FAASPOT_REDIS_URL; empty: embedded in-process store, not durable
	// RedisMinReplicas (FAASPOT_REDIS_MIN_REPLICAS) is how many Redis replicas must hold a write
	// before the API acknowledges it (WAIT; see store/replicas.go); RedisReplicaTimeout
	// (FAASPOT_REDIS_REPLICA_TIMEOUT) bounds that wait, past which the request answers 503.
	RedisMinReplicas    int
	RedisReplicaTimeout time.Duration
	// DockerHost (DOCKER_HOST) selects the node's engine, as for the docker CLI: empty is the
	// local engine's default socket. DOCKER_TLS_VERIFY and DOCKER_CERT_PATH apply as usual.
	DockerHost     string
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
	Role                   Role          // FAASPOT_ROLE: all, api or worker
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
	Warm     bool         // FAASPOT_WARM (default true); false: every run in a fresh container
	WarmMode sandbox.Mode // FAASPOT_WARM_MODE: process (default) or fork; a deployment's warm.isolation wins
	// WarmChannel (FAASPOT_WARM_CHANNEL) is how the daemon speaks to runners: "socket" (the
	// default: a unix socket per container, bypassing the engine, where the engine is local and
	// the runtime lets the runner connect; else stdio) or "attach" (always the engine's attach).
	WarmChannel  string
	WarmMaxIdle  int           // FAASPOT_WARM_MAX_IDLE: idle containers per deployment version; 0: as many as Workers
	WarmMaxTotal int           // FAASPOT_WARM_MAX_TOTAL: idle containers on this node
	WarmIdleTTL  time.Duration // FAASPOT_WARM_IDLE_TTL: scale to zero after this idle time
	WarmMaxRuns  int           // FAASPOT_WARM_MAX_RUNS: runs per container (1: fresh every run)
	WarmPrewarm  int           // FAASPOT_WARM_PREWARM: containers started when a version is ready
	// CgroupRoot (FAASPOT_CGROUP_ROOT) is where this node sees the engine's cgroup file system,
	// from which each run's CPU time is read (sandbox.Config.CgroupRoot): /sys/fs/cgroup, or the
	// host's mounted elsewhere when the daemon runs in a container. Unreadable: CPU time 0.
	CgroupRoot string
	// BuildWait is how long a create with ?wait=true waits for its build.
	BuildWait time.Duration
	// MaxSyncWaiters caps a tenant's synchronous requests waiting at once on one API node; past
	// it they answer 202 with the execution id at once.
	MaxSyncWaiters int
	// MaxBuildWaiters caps a tenant's creates waiting for their build (?wait=true) at once on one
	// API node; past it they answer 202 at once (0: no cap).
	MaxBuildWaiters int // FAASPOT_MAX_BUILD_WAITERS
	// MaxConcurrentBuilds and MaxQueuedBuilds cap a tenant's builds running at once and waiting
	// (past it: 429); builds are claimed round-robin across tenants.
	MaxConcurrentBuilds int // FAASPOT_MAX_CONCURRENT_BUILDS
	MaxQueuedBuilds     int // FAASPOT_MAX_QUEUED_BUILDS
	// VersionsKept bounds the version records kept per deployment (the ready one's is always kept).
	VersionsKept int // FAASPOT_VERSIONS_KEPT
	// AllowSourceBuilds lets a requirement without a wheel be built from source, with no network,
	// as the tenant's user, under limits; off: wheels only.
	AllowSourceBuilds bool // FAASPOT_ALLOW_SOURCE_BUILDS
	// BuildDiskMB sizes the /tmp of each build stage container.
	BuildDiskMB int // FAASPOT_BUILD_DISK_MB
	// ImportTimeout bounds a build's check that the code imports with its requirements.
	ImportTimeout time.Duration // FAASPOT_IMPORT_TIMEOUT
	// UIDBase and UIDCount: every tenant's containers run as uid UIDBase + hash(tenant) % UIDCount.
	UIDBase  int64 // FAASPOT_UID_BASE
	UIDCount int64 // FAASPOT_UID_COUNT
	// ShmMB sizes a sandbox's private /dev/shm; OOMScoreAdj raises its processes' OOM score.
	ShmMB       int // FAASPOT_SHM_MB
	OOMScoreAdj int // FAASPOT_OOM_SCORE_ADJ
	// Size caps of requests, in bytes: a whole body, a deployment's code, requirements and
	// context, a run's arguments.
	MaxBodyBytes, MaxCodeBytes, MaxRequirementsBytes, MaxContextBytes, MaxArgsBytes int64
	// ReclaimIdle (FAASPOT_RECLAIM_IDLE) bounds how long a dead worker node's jobs wait: a node's
	// heartbeat lives this long (renewed every quarter of it), and a job its live worker stopped
	// touching for this long is taken over too. Jobs of a node known dead are taken at once.
	ReclaimIdle time.Duration
	// MaxRetryAttempts (FAASPOT_MAX_RETRY_ATTEMPTS) caps a deployment's retry.max_attempts.
	MaxRetryAttempts int
	// IdempotencyTTL (FAASPOT_IDEMPOTENCY_TTL) is how long a run's Idempotency-Key gives its
	// execution.
	IdempotencyTTL time.Duration
	// LookupCacheTTL (FAASPOT_LOOKUP_CACHE_TTL) bounds how long an API node serves a token's
	// tenant and a run's deployment from memory: a change is announced and dropped at once, the
	// TTL bounds a lost announcement. 0: every request reads Redis.
	LookupCacheTTL time.Duration
	// MetricsTenantLabel (FAASPOT_METRICS_TENANT_LABEL) adds a tenant label (the tenant's id) to
	// faaspot_executions_total, for the first MetricsTenantLimit (FAASPOT_METRICS_TENANT_LIMIT,
	// default 50) tenants this process counts; later ones share the value "other". Off by
	// default: each value is a series Prometheus keeps (see metrics.Options).
	MetricsTenantLabel bool
	MetricsTenantLimit int
	// Version is the version faaspot_build_info reports (set by cmd/faaspotd; "" is "dev").
	Version string
	// CallbackAllow (FAASPOT_CALLBACK_ALLOW) lists the CIDR prefixes callbacks may reach although
	// inside the server's network (loopback, private, link-local, reserved: refused by default).
	CallbackAllow string
	// CallbackRetryFor (FAASPOT_CALLBACK_RETRY_FOR) bounds how long after a run's end its callback
	// is retried; CallbackTimeout (FAASPOT_CALLBACK_TIMEOUT) bounds one attempt.
	CallbackRetryFor, CallbackTimeout time.Duration
	// StopGrace (FAASPOT_STOP_GRACE) is how long a graceful stop (SIGTERM) lets in-flight requests
	// and runs go on; past it, runs are cancelled and left for another node (or this node's next
	// start) to run again.
	StopGrace time.Duration
	// JanitorInterval (FAASPOT_JANITOR_INTERVAL) is how often a worker node removes the images it
	// built for deployments that no longer exist (kept when in use at delete time); 0 turns it off.
	JanitorInterval time.Duration
	// JanitorGrace (FAASPOT_JANITOR_GRACE) is how old an image of a deployment that exists must be
	// before the janitor removes it as an old version: longer than a build takes.
	JanitorGrace time.Duration
	// HTTPReadTimeout (FAASPOT_HTTP_READ_TIMEOUT) bounds reading one request, headers and whole
	// body: a client trickling its body is cut off when it passes.
	HTTPReadTimeout time.Duration
	// HTTPIdleTimeout (FAASPOT_HTTP_IDLE_TIMEOUT) is how long a keep-alive connection may sit idle
	// between requests before the server closes it.
	HTTPIdleTimeout time.Duration
	// Registry (FAASPOT_REGISTRY, HOST:PORT[/PREFIX]) is where a node pushes every image it
	// builds, named in it, and where a node whose engine lacks an image pulls it from (building
	// it only when the registry has none). Empty: images stay on the engine that built them.
	// RegistryUsername and RegistryPasswordFile (FAASPOT_REGISTRY_USERNAME,
	// FAASPOT_REGISTRY_PASSWORD_FILE) log in to it; unset, the Docker CLI's config is read for
	// its host (see registry.LoadCredentials).
	Registry, RegistryUsername, RegistryPasswordFile string
}

// minAdminTokenLen is the shortest admin token accepted (a generated one is 56 characters).
const minAdminTokenLen = 32

// httpWriteMargin is what the HTTP write timeout adds to the longest wait of a handler, for
// reading the record and writing the answer after it.
const httpWriteMargin = 30 * time.Second

// DefaultConfig returns the defaults of DESIGN.md §6.
func DefaultConfig() Config {
	return Config{
		Listen:               "127.0.0.1:8080",
		KeyPrefix:            "fs:",
		BaseImage:            "python:3.12-slim",
		SandboxNetwork:       sandbox.DefaultConfig().Network,
		DefaultMemMB:         256,
		DefaultTimeout:       30,
		DefaultCPUs:          1,
		MaxMemMB:             2048,
		MaxTimeout:           900,
		MaxCPUs:              2,
		Workers:              8,
		BuildWorkers:         2,
		ResultTTL:            7 * 24 * time.Hour,
		SyncWait:             60 * time.Second,
		BuildWait:            imagebuilder.DefaultTimeout,
		MaxSyncWaiters:       256,
		MaxBuildWaiters:      8,
		MaxConcurrentBuilds:  1,
		MaxQueuedBuilds:      20,
		VersionsKept:         10,
		BuildDiskMB:          1024,
		ImportTimeout:        imagebuilder.DefaultImportTimeout,
		UIDBase:              sandbox.DefaultConfig().UIDBase,
		UIDCount:             sandbox.DefaultConfig().UIDCount,
		ShmMB:                int(sandbox.DefaultConfig().ShmBytes >> 20),
		OOMScoreAdj:          sandbox.DefaultConfig().OOMScoreAdj,
		MaxBodyBytes:         2 << 20,
		MaxCodeBytes:         1 << 20,
		MaxRequirementsBytes: 16 << 10,
		MaxContextBytes:      64 << 10,
		MaxArgsBytes:         256 << 10,
		Role:                 RoleAll,
		RedisReplicaTimeout:  time.Second,
		ReclaimIdle:          15 * time.Second,
		StopGrace:            30 * time.Second,
		IdempotencyTTL:       24 * time.Hour,
		MaxRetryAttempts:     10,
		LookupCacheTTL:       time.Second,
		MetricsTenantLimit:   metrics.DefaultTenantLimit,
		CallbackRetryFor:     time.Hour,
		CallbackTimeout:      10 * time.Second,
		JanitorInterval:      10 * time.Minute,
		JanitorGrace:         15 * time.Minute,
		HTTPReadTimeout:      30 * time.Second,
		HTTPIdleTimeout:      60 * time.Second,
		Warm:                 true,
		LogFormat:            "text",
		AccessLog:            true,
		WarmMode:             sandbox.DefaultConfig().Mode,
		WarmChannel:          channelSocket,
		WarmMaxIdle:          0,
		WarmMaxTotal:         sandbox.DefaultConfig().MaxIdle,
		WarmIdleTTL:          10 * time.Minute,
		WarmMaxRuns:          10000,
		WarmPrewarm:          1,
		CgroupRoot:           sandbox.DefaultConfig().CgroupRoot,
		MaxQueuedRuns:        1000,
		MaxDeployments:       100,
		RequestsPerSecond:    200,
		DataDir:              defaultDataDir(),
	}
}

// defaultDataDir is ~/.faaspot/data, or /var/lib/faaspot when there is no home.
func defaultDataDir() string {
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".faaspot", "data")
	}
	return "/var/lib/faaspot"
}

// LoadEnv overlays the FAASPOT_* variables that getenv returns non-empty. Every value that does
// not parse is reported, each naming its variable.
func (c *Config) LoadEnv(getenv func(string) string) error {
	var errs []error
	for _, v := range c.envVars() {
		raw := getenv(v.name)
		if raw == "" {
			continue
		}
		if err := v.set(raw); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", v.name, err))
		}
	}
	return errors.Join(errs...)
}

// envVars lists every FAASPOT_* variable the daemon reads, with the field it sets.
func (c *Config) envVars() []envVar {
	return []envVar{
		strVar("FAASPOT_LISTEN", &c.Listen),
		strVar("FAASPOT_REDIS_URL", &c.RedisURL),
		intVar("FAASPOT_REDIS_MIN_REPLICAS", &c.RedisMinReplicas),
		durVar("FAASPOT_REDIS_REPLICA_TIMEOUT", &c.RedisReplicaTimeout),
		strVar("DOCKER_HOST", &c.DockerHost),
		strVar("FAASPOT_KEY_PREFIX", &c.KeyPrefix),
		strVar("FAASPOT_ADMIN_TOKEN", &c.AdminToken),
		strVar("FAASPOT_BASE_IMAGE", &c.BaseImage),
		strVar("FAASPOT_PIP_INDEX_URL", &c.PipIndexURL),
		strVar("FAASPOT_BUILD_NETWORK", &c.BuildNetwork),
		strVar("FAASPOT_SANDBOX_NETWORK", &c.SandboxNetwork),
		strVar("FAASPOT_RUNTIME", &c.Runtime),
		boolVar("FAASPOT_ALLOW_VULNERABLE_RUNTIME", &c.AllowVulnerableRuntime),
		intVar("FAASPOT_DEFAULT_MEMORY_MB", &c.DefaultMemMB),
		intVar("FAASPOT_DEFAULT_TIMEOUT_S", &c.DefaultTimeout),
		floatVar("FAASPOT_DEFAULT_CPUS", &c.DefaultCPUs),
		intVar("FAASPOT_MAX_MEMORY_MB", &c.MaxMemMB),
		intVar("FAASPOT_MAX_TIMEOUT_S", &c.MaxTimeout),
		floatVar("FAASPOT_MAX_CPUS", &c.MaxCPUs),
		intVar("FAASPOT_WORKERS", &c.Workers),
		intVar("FAASPOT_MAX_CONCURRENT_RUNS", &c.MaxConcurrentRuns),
		boolVar("FAASPOT_WARM", &c.Warm),
		strVar("FAASPOT_LOG_FORMAT", &c.LogFormat),
		boolVar("FAASPOT_ACCESS_LOG", &c.AccessLog),
		textVar("FAASPOT_WARM_MODE", &c.WarmMode),
		strVar("FAASPOT_WARM_CHANNEL", &c.WarmChannel),
		intVar("FAASPOT_WARM_MAX_IDLE", &c.WarmMaxIdle),
		intVar("FAASPOT_WARM_MAX_TOTAL", &c.WarmMaxTotal),
		durVar("FAASPOT_WARM_IDLE_TTL", &c.WarmIdleTTL),
		intVar("FAASPOT_WARM_MAX_RUNS", &c.WarmMaxRuns),
		intVar("FAASPOT_WARM_PREWARM", &c.WarmPrewarm),
		strVar("FAASPOT_CGROUP_ROOT", &c.CgroupRoot),
		intVar("FAASPOT_MAX_QUEUED_RUNS", &c.MaxQueuedRuns),
		intVar("FAASPOT_MAX_DEPLOYMENTS", &c.MaxDeployments),
		floatVar("FAASPOT_REQUESTS_PER_SECOND", &c.RequestsPerSecond),
		intVar("FAASPOT_BUILD_WORKERS", &c.BuildWorkers),
		intVar("FAASPOT_MAX_BUILD_WAITERS", &c.MaxBuildWaiters),
		intVar("FAASPOT_MAX_CONCURRENT_BUILDS", &c.MaxConcurrentBuilds),
		intVar("FAASPOT_MAX_QUEUED_BUILDS", &c.MaxQueuedBuilds),
		intVar("FAASPOT_VERSIONS_KEPT", &c.VersionsKept),
		boolVar("FAASPOT_ALLOW_SOURCE_BUILDS", &c.AllowSourceBuilds),
		intVar("FAASPOT_BUILD_DISK_MB", &c.BuildDiskMB),
		durVar("FAASPOT_IMPORT_TIMEOUT", &c.ImportTimeout),
		int64Var("FAASPOT_UID_BASE", &c.UIDBase),
		int64Var("FAASPOT_UID_COUNT", &c.UIDCount),
		intVar("FAASPOT_SHM_MB", &c.ShmMB),
		intVar("FAASPOT_OOM_SCORE_ADJ", &c.OOMScoreAdj),
		durVar("FAASPOT_RESULT_TTL", &c.ResultTTL),
		durVar("FAASPOT_SYNC_WAIT", &c.SyncWait),
		durVar("FAASPOT_RECLAIM_IDLE", &c.ReclaimIdle),
		durVar("FAASPOT_STOP_GRACE", &c.StopGrace),
		durVar("FAASPOT_IDEMPOTENCY_TTL", &c.IdempotencyTTL),
		intVar("FAASPOT_MAX_RETRY_ATTEMPTS", &c.MaxRetryAttempts),
		durVar("FAASPOT_LOOKUP_CACHE_TTL", &c.LookupCacheTTL),
		boolVar("FAASPOT_METRICS_TENANT_LABEL", &c.MetricsTenantLabel),
		intVar("FAASPOT_METRICS_TENANT_LIMIT", &c.MetricsTenantLimit),
		strVar("FAASPOT_CALLBACK_ALLOW", &c.CallbackAllow),
		durVar("FAASPOT_CALLBACK_RETRY_FOR", &c.CallbackRetryFor),
		durVar("FAASPOT_CALLBACK_TIMEOUT", &c.CallbackTimeout),
		durVar("FAASPOT_JANITOR_INTERVAL", &c.JanitorInterval),
		durVar("FAASPOT_JANITOR_GRACE", &c.JanitorGrace),
		durVar("FAASPOT_HTTP_READ_TIMEOUT", &c.HTTPReadTimeout),
		durVar("FAASPOT_HTTP_IDLE_TIMEOUT", &c.HTTPIdleTimeout),
		textVar("FAASPOT_ROLE", &c.Role),
		strVar("FAASPOT_SECRET_KEY_FILE", &c.SecretKeyFile),
		strVar("FAASPOT_DATA_DIR", &c.DataDir),
		strVar("FAASPOT_NODE_ID", &c.NodeID),
		strVar("FAASPOT_DEV_TENANT", &c.DevTenant),
		strVar("FAASPOT_WRITE_CLIENT_CONFIG", &c.ClientConfig),
		strVar("FAASPOT_REGISTRY", &c.Registry),
		strVar("FAASPOT_REGISTRY_USERNAME", &c.RegistryUsername),
		strVar("FAASPOT_REGISTRY_PASSWORD_FILE", &c.RegistryPasswordFile),
	}
}

// Values of Config.WarmChannel.
const (
	channelSocket = "socket"
	channelAttach = "attach"
)

// useChannel reports whether runners get a socket of their own: asked for, and the engine is
// local (its unix socket, by DOCKER_HOST or the default), so that it can bind a directory of
// this host into a container.
func (c *Config) useChannel(dockerHost string) bool {
	return c.WarmChannel == channelSocket && (dockerHost == "" || strings.HasPrefix(dockerHost, "unix://"))
}

// runCap is the default maximum of concurrent runs per tenant: half the workers, so that a tenant
// flooding its queue always leaves workers to the others.
func (c *Config) runCap() int {
	if c.MaxConcurrentRuns > 0 {
		return c.MaxConcurrentRuns
	}
	return max(1, c.Workers/2)
}

// defaultQuotas are the quotas of tenants without their own: the API enforces them and the
// store's scheduler is given the same concurrency cap (runCap), from this one place.
func (c *Config) defaultQuotas() faaspot.Quotas {
	return faaspot.Quotas{MaxConcurrentRuns: c.runCap(), MaxQueuedRuns: c.MaxQueuedRuns,
		MaxDeployments: c.MaxDeployments, RequestsPerSecond: c.RequestsPerSecond}
}

// defaultLimits fill what a deployment leaves out; maxLimits cap what it may ask for.
func (c *Config) defaultLimits() faaspot.Limits {
	return faaspot.Limits{MemoryMB: c.DefaultMemMB, CPUs: c.DefaultCPUs, TimeoutS: c.DefaultTimeout}
}

func (c *Config) maxLimits() faaspot.Limits {
	return faaspot.Limits{MemoryMB: c.MaxMemMB, CPUs: c.MaxCPUs, TimeoutS: c.MaxTimeout}
}

// httpWriteTimeout bounds the time from the end of a request's headers to the end of its
// answer: reading the body (HTTPReadTimeout at most), the longest a handler waits (a sync run's
// SyncWait, a ?wait=true create's BuildWait), plus httpWriteMargin. So no waiting handler is cut
// off, and a client that never reads its answer is.
func (c *Config) httpWriteTimeout() time.Duration {
	return c.HTTPReadTimeout + max(c.SyncWait, c.BuildWait) + httpWriteMargin
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

package daemon

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/faaspot/faaspot/callback"
	"github.com/faaspot/faaspot/sandbox"
)

// Validate reports every setting that cannot work.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := new(Role).UnmarshalText([]byte(c.Role)); err != nil {
		bad("%v", err)
	}
	c.validateWorkers(bad)
	if c.Role.ServesAPI() && strings.TrimSpace(c.Listen) == "" {
		bad("role %s serves the API: set FAASPOT_LISTEN", c.Role)
	}
	if c.Role != RoleAll && c.RedisURL == "" {
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
	if c.WarmChannel != channelSocket && c.WarmChannel != channelAttach {
		bad("FAASPOT_WARM_CHANNEL must be %s or %s, not %q", channelSocket, channelAttach, c.WarmChannel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("FAASPOT_LOG_FORMAT must be text or json, not %q", c.LogFormat)
	}
	if err := new(sandbox.Mode).UnmarshalText([]byte(c.WarmMode)); err != nil {
		bad("%v", err)
	}
	if c.WarmMaxIdle < 0 || c.WarmMaxTotal < 0 || c.WarmMaxRuns < 0 || c.WarmPrewarm < 0 || c.WarmIdleTTL < 0 {
		bad("warm pool settings must not be negative")
	}
	c.validateDurations(bad)
	if c.BuildDiskMB < 16 || c.ShmMB < 1 {
		bad("build disk must be at least 16 MB and /dev/shm at least 1 MB")
	}
	if c.MaxBuildWaiters < 0 || c.MaxConcurrentBuilds < 1 || c.MaxQueuedBuilds < 1 {
		bad("build caps: need max build waiters >= 0, max concurrent and queued builds >= 1")
	}
	if c.VersionsKept < 1 {
		bad("versions kept must be at least 1")
	}
	if c.BuildWait < time.Second || c.MaxSyncWaiters < 0 {
		bad("build wait must be at least a second and max sync waiters not negative")
	}
	if c.MaxBodyBytes <= 0 || c.MaxCodeBytes <= 0 || c.MaxRequirementsBytes <= 0 || c.MaxContextBytes <= 0 || c.MaxArgsBytes <= 0 {
		bad("request size caps must be positive")
	}
	if strings.TrimSpace(c.BaseImage) == "" {
		bad("base image must be set")
	}
	if err := checkAdminToken(c.AdminToken); err != nil {
		errs = append(errs, err)
	}
	if err := checkRedisURL(c.RedisURL); c.RedisURL != "" && err != nil {
		errs = append(errs, err)
	}
	if _, err := callback.ParseAllow(c.CallbackAllow); err != nil {
		errs = append(errs, fmt.Errorf("FAASPOT_CALLBACK_ALLOW: %w", err))
	}
	errs = append(errs, c.validateRegistry())
	return errors.Join(errs...)
}

// validateDurations reports, through bad, the durations that cannot work.
func (c *Config) validateDurations(bad func(format string, args ...any)) {
	if c.JanitorInterval < 0 || c.JanitorGrace < 0 {
		bad("janitor interval and grace must not be negative")
	}
	if c.ReclaimIdle < time.Second {
		bad("reclaim idle time must be at least a second")
	}
	if c.StopGrace < 0 {
		bad("the stop grace must not be negative")
	}
	if c.MaxRetryAttempts < 1 {
		bad("max retry attempts must be at least 1 (1: no retry)")
	}
	if c.MetricsTenantLimit < 1 || c.MetricsTenantLimit > 10000 {
		bad("the metrics tenant limit must be from 1 to 10000")
	}
	if c.LookupCacheTTL < 0 || c.LookupCacheTTL > time.Minute {
		bad("the lookup cache TTL must be from 0 (off) to a minute")
	}
	if c.CallbackRetryFor < 0 || c.CallbackTimeout < time.Second {
		bad("the callback retry time must not be negative, and the callback timeout must be at least a second")
	}
	if c.IdempotencyTTL < time.Minute {
		bad("the idempotency key TTL must be at least a minute")
	}
	if c.ImportTimeout <= 0 {
		bad("the import timeout must be positive")
	}
	if c.SyncWait < time.Second {
		bad("sync wait must be at least a second")
	}
	if c.HTTPReadTimeout < time.Second || c.HTTPIdleTimeout < time.Second {
		bad("FAASPOT_HTTP_READ_TIMEOUT and FAASPOT_HTTP_IDLE_TIMEOUT must be at least a second")
	}
}

// checkAdminToken refuses an admin token that is guessable by its length, or that could never
// match (the API trims the token it is sent). Empty is fine: the admin API is off (or, with the
// embedded store, a token is generated).
func checkAdminToken(token string) error {
	switch {
	case token == "":
		return nil
	case strings.TrimSpace(token) != token:
		return errors.New("FAASPOT_ADMIN_TOKEN must not begin or end with white space")
	case len(token) < minAdminTokenLen:
		return fmt.Errorf("FAASPOT_ADMIN_TOKEN must be at least %d characters, it has %d (e.g. openssl rand -hex 32)",
			minAdminTokenLen, len(token))
	}
	return nil
}

// validateWorkers checks the node's workers: none negative; a worker node builds or runs; an
// all-in-one node on the embedded store does both (no other node could).
func (c *Config) validateWorkers(bad func(string, ...any)) {
	switch {
	case c.Workers < 0 || c.BuildWorkers < 0:
		bad("FAASPOT_WORKERS and FAASPOT_BUILD_WORKERS must not be negative")
	case c.Role == RoleWorker && c.Workers == 0 && c.BuildWorkers == 0:
		bad("a worker node with FAASPOT_WORKERS=0 and FAASPOT_BUILD_WORKERS=0 would do nothing")
	case c.Role == RoleAll && c.RedisURL == "" && (c.Workers == 0 || c.BuildWorkers == 0):
		bad("the embedded store is this node's only: it must run (FAASPOT_WORKERS) and build (FAASPOT_BUILD_WORKERS)")
	}
	if c.RedisMinReplicas < 0 {
		bad("FAASPOT_REDIS_MIN_REPLICAS must not be negative")
	}
	if c.RedisMinReplicas > 0 && c.RedisURL == "" {
		bad("FAASPOT_REDIS_MIN_REPLICAS needs a Redis with replicas (FAASPOT_REDIS_URL), not the embedded store")
	}
	if c.RedisMinReplicas > 0 && kindOf(c.RedisURL) == redisCluster {
		bad("FAASPOT_REDIS_MIN_REPLICAS is not supported on a Redis Cluster (a WAIT would have to follow every write to its shard): use Sentinel")
	}
	if c.RedisMinReplicas > 0 && c.RedisReplicaTimeout < time.Millisecond {
		bad("FAASPOT_REDIS_REPLICA_TIMEOUT must be at least 1ms")
	}
}

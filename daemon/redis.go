package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot/metrics"
	"github.com/faaspot/faaspot/store"
)

// redisKind is how a FAASPOT_REDIS_URL reaches Redis.
type redisKind string

const (
	redisSingle   redisKind = "single"   // one server: redis://, rediss://
	redisSentinel redisKind = "sentinel" // the master Sentinel names: a URL with master_name
	redisCluster  redisKind = "cluster"  // a Redis Cluster: redis+cluster://, rediss+cluster://
)

// clusterSuffix marks a Cluster URL's scheme.
const clusterSuffix = "+cluster"

// kindOf tells a FAASPOT_REDIS_URL's kind: the redis+cluster or rediss+cluster scheme selects a
// Cluster (the host and the addr parameters are some of its nodes); a master_name query parameter
// selects Sentinel (the URL's host and its addr parameters are the sentinels, as go-redis's
// ParseFailoverURL reads it).
func kindOf(raw string) redisKind {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return redisSingle
	case strings.HasSuffix(u.Scheme, clusterSuffix):
		return redisCluster
	case u.Query().Has("master_name"):
		return redisSentinel
	}
	return redisSingle
}

// clusterOptions parses a Cluster FAASPOT_REDIS_URL,
// redis+cluster://[user:password@]NODE:PORT?addr=NODE2:PORT&addr=NODE3:PORT (rediss+cluster for
// TLS), as go-redis's ParseClusterURL reads the same URL with the plain scheme. Like
// redisOptions, its error never holds the URL.
func clusterOptions(raw string) (*redis.ClusterOptions, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, redactURLError(err)
	}
	u.Scheme = strings.TrimSuffix(u.Scheme, clusterSuffix)
	opts, err := redis.ParseClusterURL(u.String())
	return opts, redactURLError(err)
}

// redisOptions parses a FAASPOT_REDIS_URL of one server: redis://[user:password@]host:port/db
// for plain TCP, rediss://… for TLS (verified against the system's roots; the URL's host is the
// server name), with go-redis's query options (e.g. ?dial_timeout=3s). The error never holds the
// URL, whose password would otherwise reach the logs.
func redisOptions(raw string) (*redis.Options, error) {
	opts, err := redis.ParseURL(raw)
	return opts, redactURLError(err)
}

// failoverOptions parses a Sentinel FAASPOT_REDIS_URL:
// redis://[user:password@]SENTINEL:PORT/DB?master_name=NAME&addr=SENTINEL2:PORT&password=P
// (the userinfo authenticates to the sentinels, the password parameter to the master and its
// replicas). Like redisOptions, its error never holds the URL.
func failoverOptions(raw string) (*redis.FailoverOptions, error) {
	opts, err := redis.ParseFailoverURL(raw)
	return opts, redactURLError(err)
}

// redactURLError drops the URL from a parse error: url.Error's text repeats the whole URL,
// password included.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if err != nil {
		return fmt.Errorf("FAASPOT_REDIS_URL: %w", err)
	}
	return nil
}

// checkRedisURL reports what is wrong with raw, whatever its kind.
func checkRedisURL(raw string) error {
	var err error
	switch kindOf(raw) {
	case redisSentinel:
		_, err = failoverOptions(raw)
	case redisCluster:
		_, err = clusterOptions(raw)
	default:
		_, err = redisOptions(raw)
	}
	return err
}

// redisClients returns the daemon's two clients of raw: the main one, with at least poolSize
// connections, and the one synchronous callers block on (a pool of its own, so that many of
// them never starve the other calls of connections). Sentinel clients follow a failover: they
// ask the sentinels for the master and drop their connections to the old one on a switch.
func redisClients(raw string, poolSize int) (rdb, waits redis.UniversalClient, kind redisKind, err error) {
	const waitPool = 2048
	if kind = kindOf(raw); kind == redisCluster {
		opts, err := clusterOptions(raw)
		if err != nil {
			return nil, nil, kind, err
		}
		opts.PoolSize = max(opts.PoolSize, poolSize) // per cluster node
		waitOpts := *opts
		waitOpts.PoolSize = waitPool
		return redis.NewClusterClient(opts), redis.NewClusterClient(&waitOpts), kind, nil
	}
	if kind == redisSentinel {
		opts, err := failoverOptions(raw)
		if err != nil {
			return nil, nil, kind, err
		}
		opts.PoolSize = max(opts.PoolSize, poolSize)
		waitOpts := *opts // same sentinels, master, credentials and TLS settings
		waitOpts.PoolSize = waitPool
		return redis.NewFailoverClient(opts), redis.NewFailoverClient(&waitOpts), kind, nil
	}
	opts, err := redisOptions(raw)
	if err != nil {
		return nil, nil, kind, err
	}
	opts.PoolSize = max(opts.PoolSize, poolSize)
	waitOpts := *opts // same address, credentials and TLS settings
	waitOpts.PoolSize = waitPool
	return redis.NewClient(opts), redis.NewClient(&waitOpts), kind, nil
}

// startEmbedded starts the in-process store on a loopback port, guarded by a password drawn at
// random for this start: any other local process (a build step, a function on the host network)
// is refused with NOAUTH. It returns the store and the URL the daemon's clients connect with.
func startEmbedded() (*miniredis.Miniredis, string, error) {
	m := miniredis.NewMiniRedis()
	password := randomHex(32)
	m.RequireAuth(password)
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, "", fmt.Errorf("start embedded store: %w", err)
	}
	u := url.URL{Scheme: "redis", User: url.UserPassword("", password), Host: m.Addr()}
	return m, u.String(), nil
}

// openStore connects to cfg.RedisURL, or starts the embedded store when it is empty, and
// registers the queue-depth gauges.
func (d *Daemon) openStore(ctx context.Context) error {
	raw := d.cfg.RedisURL
	if raw == "" {
		m, embedded, err := startEmbedded()
		if err != nil {
			return err
		}
		d.mini, raw = m, embedded
		d.log.Warn("using the embedded in-process store: NOT DURABLE, everything is lost at exit; set FAASPOT_REDIS_URL for production")
	}
	// Workers hold a connection while blocked (claim wake-ups).
	rdb, waits, kind, err := redisClients(raw, 64+4*d.cfg.Workers)
	if err != nil {
		return err
	}
	d.rdb, d.waits = rdb, waits
	if kind != redisSingle {
		d.log.Info("Redis", "kind", string(kind), "min_replicas", d.cfg.RedisMinReplicas)
	}
	key, err := d.secretKey()
	if err != nil {
		return err
	}
	if d.store, err = store.New(d.rdb, store.Options{Prefix: d.cfg.KeyPrefix, ResultTTL: d.cfg.ResultTTL, SecretKey: key, RunCap: d.cfg.runCap(), BuildCap: d.cfg.MaxConcurrentBuilds, MaxQueuedBuilds: d.cfg.MaxQueuedBuilds, VersionsKept: d.cfg.VersionsKept, IdempotencyTTL: d.cfg.IdempotencyTTL, Waits: d.waits,
		MinReplicas: d.cfg.RedisMinReplicas, ReplicaTimeout: d.cfg.RedisReplicaTimeout}); err != nil {
		return err
	}
	if err := d.store.Ping(ctx); err != nil {
		return fmt.Errorf("connect to Redis: %w", err)
	}
	if err := d.store.EnsureGroups(ctx); err != nil {
		return err
	}
	metrics.RegisterQueueDepth(d.Registry, func(ctx context.Context, q string) (int64, error) {
		if q == store.Builds.String() {
			return d.store.QueueDepth(ctx, store.Builds)
		}
		return d.store.QueueDepth(ctx, store.Runs)
	}, store.Builds.String(), store.Runs.String())
	metrics.RegisterQueueAge(d.Registry, func(ctx context.Context, q string) (time.Time, bool, error) {
		if q == store.Builds.String() {
			return d.store.OldestQueued(ctx, store.Builds)
		}
		return d.store.OldestQueued(ctx, store.Runs)
	}, nil, store.Builds.String(), store.Runs.String())
	metrics.RegisterUp(d.Registry, "faaspot_redis_up", "1 when Redis answered a ping at this scrape (within a second), 0 otherwise.", d.store.Ping)
	return nil
}

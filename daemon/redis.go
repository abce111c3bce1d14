package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot/metrics"
	"github.com/faaspot/faaspot/store"
)

// redisOptions parses a FAASPOT_REDIS_URL: redis://[user:password@]host:port/db for plain TCP,
// rediss://… for TLS (verified against the system's roots; the URL's host is the server name),
// with go-redis's query options (e.g. ?dial_timeout=3s). The error never holds the URL, whose
// password would otherwise reach the logs.
func redisOptions(raw string) (*redis.Options, error) {
	opts, err := redis.ParseURL(raw)
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Error's text repeats the whole URL, password included
	}
	if err != nil {
		return nil, fmt.Errorf("FAASPOT_REDIS_URL: %w", err)
	}
	return opts, nil
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
	opts, err := redisOptions(raw)
	if err != nil {
		return err
	}
	// Workers hold a connection while blocked (claim wake-ups); synchronous callers wait on a
	// client of their own, so that many of them never starve the other calls of connections.
	opts.PoolSize = max(opts.PoolSize, 64+4*d.cfg.Workers)
	d.rdb = redis.NewClient(opts)
	waitOpts := *opts // same address, credentials and TLS settings
	waitOpts.PoolSize = 2048
	d.waits = redis.NewClient(&waitOpts)
	key, err := d.secretKey()
	if err != nil {
		return err
	}
	if d.store, err = store.New(d.rdb, store.Options{Prefix: d.cfg.KeyPrefix, ResultTTL: d.cfg.ResultTTL, SecretKey: key, RunCap: d.cfg.runCap(), BuildCap: d.cfg.MaxConcurrentBuilds, MaxQueuedBuilds: d.cfg.MaxQueuedBuilds, VersionsKept: d.cfg.VersionsKept, IdempotencyTTL: d.cfg.IdempotencyTTL, Waits: d.waits}); err != nil {
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

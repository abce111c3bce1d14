// Package store keeps faaspot's records and queues in Redis: tenants and their tokens,
// deployments with their sources and contexts, execution records, the build and run streams and
// the notifications that wake synchronous callers. Every tenant-owned key carries the tenant's id,
// so a lookup made for one tenant can never reach another tenant's data.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Errors returned by the store. Callers test them with errors.Is.
var (
	// ErrNotFound means the record does not exist for the calling tenant (it may exist for another).
	ErrNotFound = errors.New("not found")
	// ErrExists means a record with that unique name exists already.
	ErrExists = errors.New("already exists")
	// ErrUnavailable wraps failures to reach Redis.
	ErrUnavailable = errors.New("store unavailable")
)

// Store is the Redis-backed store. It is safe for concurrent use.
type Store struct {
	rdb *redis.Client
	// waits serves the blocking pops of synchronous callers: its own pool, so that many waiters
	// never starve the other calls of connections.
	waits *redis.Client
	k     keys
	// ResultTTL is how long terminal execution records are kept.
	ResultTTL time.Duration
	// ExecutionsKept bounds the per-tenant index of recent executions.
	ExecutionsKept int64
	// RunCap is the default maximum of concurrent runs per tenant (a tenant's quota overrides it).
	RunCap  int
	secrets sealer
	now     func() time.Time
}

// Options configure a Store.
type Options struct {
	// Prefix is put in front of every key (default "fs:"); tests use it to share one Redis.
	Prefix         string
	ResultTTL      time.Duration
	ExecutionsKept int64
	// RunCap is the default maximum of concurrent runs per tenant (default 4).
	RunCap int
	// Waits, when set, is the client blocking waits use (default: the store's client).
	Waits *redis.Client
	// SecretKey (KeySize bytes) encrypts contexts at rest. Every node sharing a Redis needs the
	// same key.
	SecretKey []byte
}

// New returns a Store over an existing client. The caller owns the client. It fails only on a
// secret key of the wrong size.
func New(rdb *redis.Client, opts Options) (*Store, error) {
	sec, err := newSealer(opts.SecretKey)
	if err != nil {
		return nil, err
	}
	if opts.Prefix == "" {
		opts.Prefix = "fs:"
	}
	if opts.ResultTTL <= 0 {
		opts.ResultTTL = 7 * 24 * time.Hour
	}
	if opts.ExecutionsKept <= 0 {
		opts.ExecutionsKept = 1000
	}
	if opts.RunCap <= 0 {
		opts.RunCap = 4
	}
	if opts.Waits == nil {
		opts.Waits = rdb
	}
	return &Store{rdb: rdb, waits: opts.Waits, k: keys{p: opts.Prefix}, ResultTTL: opts.ResultTTL,
		ExecutionsKept: opts.ExecutionsKept, RunCap: opts.RunCap, secrets: sec, now: time.Now}, nil
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// unavailable wraps a Redis failure so that callers can map it to 503.
func unavailable(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
}

// InstallationID returns the random id of this store (its Redis and key prefix), made by the
// first caller. Every node sharing the store reads the same id; another store has another.
func (s *Store) InstallationID(ctx context.Context) (string, error) {
	key := s.k.installation()
	if err := s.rdb.SetNX(ctx, key, randomHex(8), 0).Err(); err != nil {
		return "", unavailable("installation id", err)
	}
	id, err := s.rdb.Get(ctx, key).Result()
	if err != nil {
		return "", unavailable("installation id", err)
	}
	return id, nil
}

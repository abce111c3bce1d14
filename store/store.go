// Package store keeps faaspot's records and queues in Redis: tenants and their tokens,
// deployments with their sources and contexts, execution records, the build and run streams and
// the notifications that wake synchronous callers. Every tenant-owned key carries the tenant's id,
// so a lookup made for one tenant can never reach another tenant's data.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
)

// Errors returned by the store, shared with the rest of faaspot. Callers test them with errors.Is.
var (
	ErrNotFound    = faaspot.ErrNotFound
	ErrExists      = faaspot.ErrExists
	ErrUnavailable = faaspot.ErrUnavailable
	ErrQuota       = faaspot.ErrQuota
	ErrBuildFailed = faaspot.ErrBuildFailed
)

// Store is the Redis-backed store. It is safe for concurrent use.
type Store struct {
	rdb redis.UniversalClient
	// waits serves the blocking pops of synchronous callers: its own pool, so that many waiters
	// never starve the other calls of connections.
	waits redis.UniversalClient
	k     keys
	opts  Options
	// cluster is set over a Redis Cluster: steps that read keys of several slots are split
	// (keys.go).
	cluster bool
	secrets sealer
	// local are this process's caches: a change made here drops their entries before the
	// call that made it returns (changes.go); other nodes' learn of it by announcement.
	localMu sync.Mutex
	local   []*Cache
	// origin names this Store in its announcements.
	origin string
	// stepFault, set by tests only, is called before the steps it names (fault).
	stepFault func(step string) error
}

// Options configure a Store. The daemon fills them from its configuration (daemon.DefaultConfig
// holds the defaults of the operator's settings: prefix, TTL, run cap); New refuses those when
// they cannot work rather than default them. ExecutionsKept, BuildCap, MaxQueuedBuilds,
// VersionsKept, IdempotencyTTL, Waits and Now default as documented.
type Options struct {
	// Prefix is put in front of every key (the daemon's "fs:"); tests use it to share one Redis.
	Prefix string
	// ResultTTL is how long terminal execution records are kept.
	ResultTTL time.Duration
	// ExecutionsKept bounds the per-tenant index of recent executions (0: 1000).
	ExecutionsKept int64
	// RunCap is the default maximum of concurrent runs per tenant (a tenant's quota overrides it).
	RunCap int
	// BuildCap is the maximum of concurrent builds per tenant (0: 1).
	BuildCap int
	// MaxQueuedBuilds bounds a tenant's builds waiting to start (0: 20; negative: no bound).
	MaxQueuedBuilds int
	// IdempotencyTTL is how long an idempotency key gives its execution (0: 24 hours).
	IdempotencyTTL time.Duration
	// VersionsKept bounds the version records kept per deployment (0: 10); the oldest go first,
	// never the ready version's.
	VersionsKept int
	// Waits, when set, is the client blocking waits use (default: the store's client). A
	// *redis.Client or a *redis.ClusterClient, as the store's own client.
	Waits redis.UniversalClient
	// SecretKey (KeySize bytes) encrypts contexts at rest. Every node sharing a Redis needs the
	// same key.
	SecretKey []byte
	// Now is the store's clock (default time.Now); tests set it.
	Now func() time.Time
	// MinReplicas is how many replicas must hold an acknowledged write before the call making it
	// returns (WAIT, see replicas.go); 0: none. ReplicaTimeout bounds that wait (0: a second).
	MinReplicas    int
	ReplicaTimeout time.Duration
}

// Defaults of the Options that may be left out.
const (
	defaultExecutionsKept  = 1000
	defaultBuildCap        = 1
	defaultMaxQueuedBuilds = 20
	defaultVersionsKept    = 10
	defaultIdempotencyTTL  = 24 * time.Hour
)

// New returns a Store over an existing client: a *redis.Client of one Redis, or a
// *redis.ClusterClient of a Redis Cluster (keys.go says how the keys spread over its slots). The
// caller owns the client. It fails on a secret key of the wrong size, an empty prefix, a
// non-positive result TTL or run cap.
func New(rdb redis.UniversalClient, opts Options) (*Store, error) {
	sec, err := newSealer(opts.SecretKey)
	if err != nil {
		return nil, err
	}
	var errs []error
	if opts.Prefix == "" {
		errs = append(errs, errors.New("store: empty key prefix"))
	}
	if opts.ResultTTL <= 0 {
		errs = append(errs, errors.New("store: result TTL must be positive"))
	}
	if opts.RunCap <= 0 {
		errs = append(errs, errors.New("store: run cap must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.ExecutionsKept <= 0 {
		opts.ExecutionsKept = defaultExecutionsKept
	}
	if opts.BuildCap <= 0 {
		opts.BuildCap = defaultBuildCap
	}
	switch {
	case opts.MaxQueuedBuilds == 0:
		opts.MaxQueuedBuilds = defaultMaxQueuedBuilds
	case opts.MaxQueuedBuilds < 0:
		opts.MaxQueuedBuilds = 0 // the scripts' "no bound"
	}
	if opts.VersionsKept <= 0 {
		opts.VersionsKept = defaultVersionsKept
	}
	if opts.IdempotencyTTL <= 0 {
		opts.IdempotencyTTL = defaultIdempotencyTTL
	}
	if isNil(opts.Waits) {
		opts.Waits = rdb
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if _, ok := rdb.(*redis.ClusterClient); ok && opts.MinReplicas > 0 {
		return nil, errors.New("store: MinReplicas is not supported over a Redis Cluster")
	}
	_, cluster := rdb.(*redis.ClusterClient)
	return &Store{rdb: rdb, waits: opts.Waits, k: keys{p: opts.Prefix}, opts: opts, secrets: sec, origin: randomHex(8),
		cluster: cluster}, nil
}

// isNil reports whether c is no client: nil, or a nil pointer of a client type.
func isNil(c redis.UniversalClient) bool {
	switch c := c.(type) {
	case nil:
		return true
	case *redis.Client:
		return c == nil
	case *redis.ClusterClient:
		return c == nil
	}
	return false
}

// now is the store's clock.
func (s *Store) now() time.Time { return s.opts.Now() }

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
	if outOfMemory(err) {
		return fmt.Errorf("%s: %w: %w: %w", op, ErrUnavailable, faaspot.ErrStoreFull, err)
	}
	return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
}

// outOfMemory reports whether Redis refused a command (or a script, or a transaction holding
// one) because it is over its maxmemory: "OOM command not allowed …", or EXECABORT of a
// transaction that held such a command.
func outOfMemory(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "OOM ") || strings.Contains(msg, "OOM command not allowed") ||
		(strings.HasPrefix(msg, "EXECABORT") && strings.Contains(msg, "OOM"))
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

package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
)

// Acknowledged writes. With Options.MinReplicas = N > 0, the writes whose success the API
// acknowledges to a client when it creates something (a deployment created or updated, a run
// accepted, a run's terminal record handed to its synchronous caller, a tenant created with its
// token) are followed, on the same
// connection, by WAIT N: the call returns only once N replicas hold the write, so that the loss
// of the master after the answer loses nothing that was acknowledged. When fewer than N
// replicas acknowledge within Options.ReplicaTimeout, the call fails with ErrUnavailable (the
// API's 503): the write was made on the master and may or may not survive its loss, so a
// client repeating a run should send the same Idempotency-Key. With N = 0 (the default) writes
// are acknowledged as soon as the master made them, and a failover may lose the last writes the
// master had not replicated yet (Redis replication is asynchronous). Other changes (a token
// issued or revoked, a webhook secret rotated, a rollback, a delete, quotas) are not waited for:
// a failover may undo the last of them. MinReplicas needs a single Redis or a Sentinel-managed
// one (New refuses it over a Cluster), and turns direct dispatch off (see EnqueueDirect).

// defaultReplicaTimeout bounds one WAIT when Options.ReplicaTimeout is 0.
const defaultReplicaTimeout = time.Second

// ErrReplicas is the cause of a write made on the master that too few replicas acknowledged.
var ErrReplicas = faaspot.ErrReplicas

// acked runs fn, then waits for the replicas (see above): with MinReplicas = 0, fn runs on the
// store's client; otherwise on one connection of c, which then waits (WAIT) for the replicas to
// hold what fn wrote. Errors of fn pass through unchanged; a WAIT that fails or times out is an
// ErrUnavailable wrapping ErrReplicas. fn must not block on other connections of c.
func (s *Store) acked(ctx context.Context, c redis.UniversalClient, fn func(c redis.Cmdable) error) error {
	if s.opts.MinReplicas <= 0 {
		return fn(c)
	}
	cl, ok := c.(*redis.Client)
	if !ok {
		return fmt.Errorf("store: MinReplicas needs a single Redis or a Sentinel-managed one, not %T", c)
	}
	conn := cl.Conn()
	defer conn.Close()
	if err := fn(conn); err != nil {
		return err
	}
	return s.waitReplicas(ctx, conn)
}

// waitReplicas sends WAIT on conn, which made the writes to wait for. go-redis's Wait reads
// its answer with the timeout added to the connection's read timeout, so a long
// Options.ReplicaTimeout is not cut short by the socket; it is at least a millisecond (WAIT with
// 0 would block for ever).
func (s *Store) waitReplicas(ctx context.Context, conn interface {
	Wait(ctx context.Context, numReplicas int, timeout time.Duration) *redis.IntCmd
}) error {
	timeout := s.opts.ReplicaTimeout
	if timeout <= 0 {
		timeout = defaultReplicaTimeout
	}
	timeout = max(timeout, time.Millisecond)
	n, err := conn.Wait(ctx, s.opts.MinReplicas, timeout).Result()
	if err != nil {
		return unavailable("wait for replicas", err)
	}
	if int(n) < s.opts.MinReplicas {
		return unavailable("wait for replicas", fmt.Errorf("%w: %d of %d within %s", ErrReplicas, n, s.opts.MinReplicas, timeout))
	}
	return nil
}

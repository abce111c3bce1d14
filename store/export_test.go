package store

import (
	"context"
	"time"
)

// OutOfMemory exposes outOfMemory to the package's external tests.
var OutOfMemory = outOfMemory

// NewCacheWatched is NewCache whose drops are each told on the returned channel (after the
// first, the subscription's own, has been taken).
func (s *Store) NewCacheWatched(ttl time.Duration) (*Cache, <-chan struct{}) {
	dropped := make(chan struct{}, 64)
	c := s.newCache(ttl, dropped)
	<-dropped
	return c, dropped
}

// TenantKey is the key named rest ("exec:ID") of the tenant's data, as keys.go lays it out.
func (s *Store) TenantKey(tid, rest string) string { return s.k.t(tid) + rest }

// QueueKey is the scheduling key named rest ("runs:TID"), as keys.go lays it out.
func (s *Store) QueueKey(rest string) string { return s.k.q() + rest }

// TokenKey is the key of a token's hash.
func (s *Store) TokenKey(hash string) string { return s.k.token(hash) }

// SplitSteps makes the store take the single-slot steps it takes over a Redis Cluster (split*.go)
// on one Redis too, so that the tests run them on miniredis.
func (s *Store) SplitSteps() { s.cluster = true }

// FailStep makes the split step named step fail with err, as a node dying before it would.
func (s *Store) FailStep(step string, err error) {
	s.stepFault = func(at string) error {
		if at == step {
			return err
		}
		return nil
	}
}

// OnStep calls fn before the split step named step (another node acting in between).
func (s *Store) OnStep(step string, fn func()) {
	s.stepFault = func(at string) error {
		if at == step {
			fn()
		}
		return nil
	}
}

// RenewLock exposes renewLock.
func (s *Store) RenewLock(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	return s.renewLock(ctx, key, owner, ttl)
}

// HoldLock exposes holdLock.
func (s *Store) HoldLock(ctx context.Context, key, owner string, ttl time.Duration) func() {
	return s.holdLock(ctx, key, owner, ttl)
}

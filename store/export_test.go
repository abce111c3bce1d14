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
	ctx, stop := context.WithCancel(context.Background())
	c := &Cache{s: s, ttl: ttl, now: s.now, tokens: map[string]tokenEntry{}, deps: map[depKey]depEntry{},
		stop: stop, done: make(chan struct{}), dropped: dropped}
	c.start(ctx)
	<-dropped
	return c, dropped
}

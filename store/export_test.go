package store

import "time"

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

package store

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/faaspot/faaspot"
)

// Cache serves the lookups every request makes — its token's tenant, the run's deployment —
// from memory, for at most its TTL, and takes from a tenant's request-rate quota in batches: a
// node that spends one round trip per request on them cannot serve thousands a second. Whatever
// changes them is announced (changes.go) and dropped from every node's Cache when the
// announcement arrives (milliseconds; at once on the node that made the change); the TTL
// bounds the rest (a lost announcement). A batch is a twentieth of a second's worth of the
// tenant's rate, at most maxBatch requests, taken from the shared bucket: across N API nodes the
// rate may be passed by N such batches at most, and a batch left unused when its entry expires
// is lost (the quota errs on the strict side). Safe for concurrent use.
type Cache struct {
	s   *Store
	ttl time.Duration
	now func() time.Time

	mu     sync.Mutex
	gen    uint64 // bumped by every drop: a lookup that began before one does not store
	tokens map[string]tokenEntry
	deps   map[depKey]depEntry
	stop   context.CancelFunc
	done   chan struct{}
	// dropped, when set (tests), is told of every drop once it is done.
	dropped chan struct{}
}

type tokenEntry struct {
	t       faaspot.Tenant
	spare   int // requests taken from the rate quota and not used yet
	expires time.Time
}

type depKey struct{ tid, name string }

type depEntry struct {
	d       faaspot.Deployment
	expires time.Time
}

// cacheMaxEntries bounds each of a Cache's maps: past it, the map is emptied.
const cacheMaxEntries = 100_000

// NewCache returns a Cache of s whose entries live at most ttl, watching the announcements of
// changes until Close.
func (s *Store) NewCache(ttl time.Duration) *Cache { return s.newCache(ttl, nil) }

// newCache is NewCache telling dropped (when not nil) of every drop.
func (s *Store) newCache(ttl time.Duration, dropped chan struct{}) *Cache {
	ctx, stop := context.WithCancel(context.Background())
	c := &Cache{s: s, ttl: ttl, now: s.now, tokens: map[string]tokenEntry{}, deps: map[depKey]depEntry{},
		stop: stop, done: make(chan struct{}), dropped: dropped}
	c.start(ctx)
	return c
}

// start registers c with its store (a change made by this process drops its entries at once)
// and watches the announcements of the others until ctx ends.
func (c *Cache) start(ctx context.Context) {
	c.s.localMu.Lock()
	c.s.local = append(c.s.local, c)
	c.s.localMu.Unlock()
	go func() {
		defer close(c.done)
		c.s.watchChanges(ctx, c.drop)
	}()
}

// Close stops watching the announcements.
func (c *Cache) Close() {
	c.stop()
	<-c.done
	c.s.localMu.Lock()
	defer c.s.localMu.Unlock()
	c.s.local = slices.DeleteFunc(c.s.local, func(x *Cache) bool { return x == c })
}

// drop forgets what a change names; nil: everything.
func (c *Cache) drop(ch *change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	switch {
	case ch == nil:
		clear(c.tokens)
		clear(c.deps)
	case ch.kind == 't':
		for h, e := range c.tokens {
			if e.t.ID == ch.tid {
				delete(c.tokens, h)
			}
		}
		for k := range c.deps {
			if k.tid == ch.tid {
				delete(c.deps, k)
			}
		}
	default:
		delete(c.deps, depKey{ch.tid, ch.name})
	}
	if c.dropped != nil {
		c.dropped <- struct{}{}
	}
}

// Authenticate is Store.Authenticate served from the cache when it can: the token's tenant as
// known for at most the TTL, and a request taken from the tenant's spare batch, if any left.
func (c *Cache) Authenticate(ctx context.Context, token string, defaultRate float64) (faaspot.Tenant, time.Duration, error) {
	hash := HashToken(token)
	c.mu.Lock()
	e, ok := c.tokens[hash]
	if ok && c.now().Before(e.expires) {
		rate := rateOf(e.t, defaultRate)
		if rate <= 0 || e.spare > 0 {
			if rate > 0 {
				e.spare--
				c.tokens[hash] = e
			}
			c.mu.Unlock()
			return e.t, 0, nil
		}
	}
	gen := c.gen
	c.mu.Unlock()
	want := min(maxBatch, max(1, int(rateOf(e.t, defaultRate)/20)))
	t, granted, wait, err := c.s.authenticate(ctx, hash, defaultRate, want)
	if err != nil || wait > 0 {
		return t, wait, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		if len(c.tokens) >= cacheMaxEntries {
			clear(c.tokens)
		}
		spare := max(0, granted-1)
		if old, ok := c.tokens[hash]; ok && c.now().Before(old.expires) {
			spare += old.spare // a concurrent miss took a batch too: keep both
		}
		c.tokens[hash] = tokenEntry{t: t, spare: spare, expires: c.now().Add(c.ttl)}
	}
	return t, 0, nil
}

// maxBatch bounds a batch taken from a tenant's rate quota: one round trip per maxBatch requests
// is plenty, and concurrent misses of a high rate must not empty its burst.
const maxBatch = 100

// rateOf is the tenant's request rate: its own, else the default.
func rateOf(t faaspot.Tenant, defaultRate float64) float64 {
	if t.Quotas.RequestsPerSecond > 0 {
		return t.Quotas.RequestsPerSecond
	}
	return defaultRate
}

// RunDeployment is Store.GetDeployment as a run request reads it: from the cache, for at most
// the TTL, or until an announcement of its change.
func (c *Cache) RunDeployment(ctx context.Context, tid, name string) (faaspot.Deployment, error) {
	k := depKey{tid, name}
	c.mu.Lock()
	e, ok := c.deps[k]
	gen := c.gen
	c.mu.Unlock()
	if ok && c.now().Before(e.expires) {
		return e.d, nil
	}
	d, err := c.s.GetDeployment(ctx, tid, name)
	if err != nil {
		return d, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		if len(c.deps) >= cacheMaxEntries {
			clear(c.deps)
		}
		c.deps[k] = depEntry{d: d, expires: c.now().Add(c.ttl)}
	}
	return d, nil
}

package api

import (
	"sync"
	"time"
)

// The budget of failed admin-token attempts of one client address on this node: a burst of
// adminFailBurst, then one more every adminFailRefill (10 a minute). At most adminFailKeys
// addresses are tracked; past that, new addresses share one budget.
const (
	adminFailBurst  = 10
	adminFailRefill = 6 * time.Second
	adminFailKeys   = 4096
)

// overflowKey is the shared budget of addresses beyond the tracked maximum.
const overflowKey = "(overflow)"

// failureLimiter is a token bucket per key, in memory: each attempt takes a token up front
// (take) and a successful one gives it back (refund), so concurrent attempts never exceed the
// burst. A bucket that has refilled is forgotten when room is needed: it equals a new one.
// Safe for concurrent use.
type failureLimiter struct {
	burst   float64
	every   time.Duration
	maxKeys int

	mu      sync.Mutex
	buckets map[string]*failBucket
}

type failBucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

func newFailureLimiter(burst int, every time.Duration, maxKeys int) *failureLimiter {
	return &failureLimiter{burst: float64(burst), every: every, maxKeys: maxKeys, buckets: map[string]*failBucket{}}
}

// take spends one attempt of key at now. It returns 0 when the attempt may go ahead, otherwise
// how long until key has an attempt again (nothing is spent then).
func (l *failureLimiter) take(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(l.every))
}

// refund gives back the attempt key spent with take (it succeeded).
func (l *failureLimiter) refund(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	b.tokens = min(l.burst, b.tokens+1)
}

// bucket returns key's bucket refilled up to now, creating it when missing; when maxKeys
// buckets exist already, the refilled ones are forgotten first, and if none is, key shares the
// overflow bucket. l.mu must be held.
func (l *failureLimiter) bucket(key string, now time.Time) *failBucket {
	b, ok := l.buckets[key]
	if !ok && len(l.buckets) >= l.maxKeys {
		l.forgetFull(now)
		if len(l.buckets) >= l.maxKeys {
			key = overflowKey
			b, ok = l.buckets[key]
		}
	}
	if !ok {
		b = &failBucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	return b
}

// refill brings b's tokens up to now (a clock going back refills nothing).
func (l *failureLimiter) refill(b *failBucket, now time.Time) {
	if elapsed := now.Sub(b.at); elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+float64(elapsed)/float64(l.every))
		b.at = now
	}
}

// forgetFull drops every bucket that has refilled by now. l.mu must be held.
func (l *failureLimiter) forgetFull(now time.Time) {
	for k, b := range l.buckets {
		if l.refill(b, now); b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
}

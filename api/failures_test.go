package api

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestFailureLimiterRefill(t *testing.T) {
	l := newFailureLimiter(3, 6*time.Second, 100)
	t0 := time.Unix(1_700_000_000, 0)
	for i := range 3 {
		if wait := l.take("a", t0); wait != 0 {
			t.Fatalf("attempt %d: wait %v, want 0", i+1, wait)
		}
	}
	if wait := l.take("a", t0); wait != 6*time.Second {
		t.Errorf("exhausted: wait %v, want 6s", wait)
	}
	if wait := l.take("a", t0.Add(2*time.Second)); wait != 4*time.Second {
		t.Errorf("2s later: wait %v, want 4s", wait)
	}
	if wait := l.take("b", t0); wait != 0 {
		t.Errorf("another key: wait %v, want 0", wait)
	}
	if wait := l.take("a", t0.Add(6*time.Second)); wait != 0 {
		t.Errorf("one refill later: wait %v, want 0", wait)
	}
	if wait := l.take("a", t0.Add(6*time.Second)); wait == 0 {
		t.Error("one refill gave two attempts")
	}
	// A clock going back refills nothing.
	if wait := l.take("a", t0); wait == 0 {
		t.Error("a clock going back gave an attempt")
	}
	// After a long time the bucket is full again, never fuller than the burst.
	later := t0.Add(time.Hour)
	for i := range 3 {
		if wait := l.take("a", later); wait != 0 {
			t.Fatalf("an hour later, attempt %d: wait %v", i+1, wait)
		}
	}
	if wait := l.take("a", later); wait == 0 {
		t.Error("the bucket refilled past its burst")
	}
}

func TestFailureLimiterRefund(t *testing.T) {
	l := newFailureLimiter(2, time.Minute, 100)
	now := time.Unix(1_700_000_000, 0)
	for range 50 { // successes give back what they took
		if l.take("a", now) != 0 {
			t.Fatal("a success cost an attempt")
		}
		l.refund("a", now)
	}
	l.refund("a", now) // a stray refund never raises the bucket past the burst
	l.take("a", now)
	l.take("a", now)
	if l.take("a", now) == 0 {
		t.Error("more attempts than the burst")
	}
}

func TestFailureLimiterBoundedKeys(t *testing.T) {
	l := newFailureLimiter(2, time.Minute, 3)
	now := time.Unix(1_700_000_000, 0)
	for _, k := range []string{"a", "b", "c"} {
		l.take(k, now)
	}
	// Full: new keys share the overflow bucket, and the map does not grow.
	l.take("d", now)
	l.take("e", now)
	if wait := l.take("f", now); wait == 0 {
		t.Error("keys past the maximum do not share one budget")
	}
	if n := len(l.buckets); n != 4 {
		t.Errorf("buckets = %d, want 3 tracked + the overflow", n)
	}
	// Refilled buckets are forgotten when room is needed: they equal new ones.
	later := now.Add(time.Hour)
	if wait := l.take("g", later); wait != 0 {
		t.Errorf("a new key once the others refilled: wait %v", wait)
	}
	if _, ok := l.buckets["g"]; !ok || len(l.buckets) != 1 {
		t.Errorf("buckets after forgetting the refilled ones: %v", keysOf(l.buckets))
	}
}

func keysOf(m map[string]*failBucket) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestClientKey(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"192.0.2.1:1234", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:1234", "192.0.2.1"},
		{"[2001:db8:a:b:c:d:e:f]:443", "2001:db8:a:b::/64"},
		{"[::1]:80", "::/64"},
		{"@", "unknown"},
		{"", "unknown"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		r.Header.Set("X-Forwarded-For", "198.51.100.1") // never trusted
		if got := clientKey(r); got != tt.want {
			t.Errorf("clientKey(%q) = %q, want %q", tt.remote, got, tt.want)
		}
	}
}

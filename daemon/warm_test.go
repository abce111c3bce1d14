package daemon

import (
	"fmt"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/sandbox"
)

func TestPoolPolicy(t *testing.T) {
	ptr := func(n int) *int { return &n }
	on := warmSettings{enabled: true, maxIdle: 4, maxRuns: 100, idleTTL: 10 * time.Minute, prewarm: 1}
	tests := []struct {
		name    string
		set     warmSettings
		policy  *faaspot.WarmPolicy
		want    sandbox.PoolPolicy
		prewarm int
	}{
		{name: "warm off keeps nothing", set: warmSettings{maxIdle: 4, prewarm: 1}, want: sandbox.PoolPolicy{}},
		{name: "operator's settings", set: on, want: sandbox.PoolPolicy{MaxIdle: 4, MaxRuns: 100, IdleTTL: 10 * time.Minute}, prewarm: 1},
		{name: "deployment lowers each", set: on,
			policy: &faaspot.WarmPolicy{MaxIdle: ptr(1), MaxRuns: 5, IdleTTLS: 30, Prewarm: ptr(1)},
			want:   sandbox.PoolPolicy{MaxIdle: 1, MaxRuns: 5, IdleTTL: 30 * time.Second}, prewarm: 1},
		{name: "deployment cannot raise any", set: on,
			policy: &faaspot.WarmPolicy{MaxIdle: ptr(40), MaxRuns: 1000, IdleTTLS: 86400, Prewarm: ptr(10)},
			want:   sandbox.PoolPolicy{MaxIdle: 4, MaxRuns: 100, IdleTTL: 10 * time.Minute}, prewarm: 4},
		{name: "deployment sets what the operator left unbounded", set: warmSettings{enabled: true, maxIdle: 2},
			policy: &faaspot.WarmPolicy{MaxRuns: 7, IdleTTLS: 9},
			want:   sandbox.PoolPolicy{MaxIdle: 2, MaxRuns: 7, IdleTTL: 9 * time.Second}},
		{name: "deployment keeps none idle", set: on, policy: &faaspot.WarmPolicy{MaxIdle: ptr(0)},
			want: sandbox.PoolPolicy{MaxRuns: 100, IdleTTL: 10 * time.Minute}},
		{name: "deployment chooses its isolation", set: on, policy: &faaspot.WarmPolicy{Isolation: faaspot.IsolationFork},
			want: sandbox.PoolPolicy{MaxIdle: 4, MaxRuns: 100, IdleTTL: 10 * time.Minute, Mode: sandbox.ModeFork}, prewarm: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := poolPolicy(tt.set, tt.policy)
			if got != tt.want {
				t.Errorf("poolPolicy = %+v, want %+v", got, tt.want)
			}
			if n := prewarmCount(tt.set, tt.policy, got); n != tt.prewarm {
				t.Errorf("prewarmCount = %d, want %d", n, tt.prewarm)
			}
		})
	}
}

func TestContextCacheIsBounded(t *testing.T) {
	var c contextCache
	if _, ok := c.get("a"); ok {
		t.Fatal("empty cache has an entry")
	}
	c.put("a", []byte("1"))
	if v, ok := c.get("a"); !ok || string(v) != "1" {
		t.Fatalf("get(a) = %q, %v", v, ok)
	}
	for i := range 2 * contextCacheSize {
		c.put(fmt.Sprint("k", i), nil)
	}
	if n := len(c.m); n != contextCacheSize {
		t.Errorf("cache holds %d contexts, want at most %d", n, contextCacheSize)
	}
	if _, ok := c.get(fmt.Sprint("k", 2*contextCacheSize-1)); !ok {
		t.Error("the newest context was evicted")
	}
}

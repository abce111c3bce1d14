package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/faaspot/faaspot/store"
)

// TestOldestQueued: the oldest job waiting in a queue, across tenants, is found from the
// streams; a job delivered to a worker (running) no longer counts, nor a finished one.
func TestOldestQueued(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	oldest := func() (time.Time, bool) {
		t.Helper()
		at, ok, err := s.OldestQueued(ctx, store.Runs)
		if err != nil {
			t.Fatalf("OldestQueued: %v", err)
		}
		return at, ok
	}
	if _, ok := oldest(); ok {
		t.Fatal("an empty queue has an oldest job")
	}
	a, _ := mustCreateTenant(t, s, "acme")
	b, _ := mustCreateTenant(t, s, "beta")
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, tid := range []string{a.ID, b.ID, a.ID} {
		s.mr.SetTime(t0.Add(time.Duration(i) * time.Second))
		mustEnqueue(t, s, tid, queued("fn", t0))
	}
	if at, ok := oldest(); !ok || !at.Equal(t0) {
		t.Errorf("three waiting: oldest = %v %v, want %v", at, ok, t0)
	}
	// The claim rotates over the tenants; take jobs until acme's first one is delivered.
	for {
		j := mustNextJob(t, s, store.Runs, "w1")
		if j.Enqueued.Equal(t0) {
			break
		}
	}
	at, ok := oldest()
	if !ok || !(at.Equal(t0.Add(time.Second)) || at.Equal(t0.Add(2*time.Second))) {
		t.Errorf("first delivered: oldest = %v %v, want one of the two later jobs", at, ok)
	}
	for range 2 {
		mustNextJob(t, s, store.Runs, "w1")
	}
	if at, ok := oldest(); ok {
		t.Errorf("every job delivered: oldest = %v, want none", at)
	}
	if _, ok, err := s.OldestQueued(ctx, store.Builds); err != nil || ok {
		t.Errorf("builds: %v %v, want none", ok, err)
	}
}

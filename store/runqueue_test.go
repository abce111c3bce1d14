package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// claim takes the next run for consumer w, or "" when none is claimable.
func claim(t *testing.T, s *testStore) string {
	t.Helper()
	j, err := s.NextJob(context.Background(), store.Runs, "w", 100*time.Millisecond)
	if err != nil {
		t.Fatalf("NextJob: %v", err)
	}
	if j == nil {
		return ""
	}
	return j.Tenant
}

// TestFairClaims: a tenant with a long backlog does not delay another tenant's run: claims go
// round-robin across tenants, and a tenant at its concurrency cap is passed over.
func TestFairClaims(t *testing.T) {
	s := mustOpenStore(t, store.Options{RunCap: 3})
	a, _ := mustCreateTenant(t, s, "flood")
	b, _ := mustCreateTenant(t, s, "quiet")
	for range 50 {
		mustEnqueue(t, s, a.ID, queued("fn", time.Now()))
	}
	mustEnqueue(t, s, b.ID, queued("fn", time.Now()))

	got := []string{claim(t, s), claim(t, s)}
	if !(got[0] == b.ID || got[1] == b.ID) {
		t.Fatalf("claims %v: the quiet tenant's run waits behind the flood", got)
	}
	// The flood tenant gets up to its cap (3) and no more.
	for claim(t, s) == a.ID {
	}
	pending, _ := s.rdb.XPending(context.Background(), s.QueueKey("runs:")+a.ID, "workers").Result()
	if pending.Count != 3 {
		t.Errorf("flood tenant runs %d at once, want its cap 3", pending.Count)
	}
	// A quiet tenant's new run is claimable at once though the flood tenant is capped.
	mustEnqueue(t, s, b.ID, queued("fn", time.Now()))
	if got := claim(t, s); got != b.ID {
		t.Errorf("claim = %q, want the quiet tenant", got)
	}
}

// TestConcurrencyCapPerTenant: a tenant's own quota overrides the default cap, and a finished
// run frees its slot.
func TestConcurrencyCapPerTenant(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{RunCap: 5})
	a, _ := mustCreateTenant(t, s, "acme")
	if err := s.SetQuotas(ctx, a.ID, faaspot.Quotas{MaxConcurrentRuns: 1}); err != nil {
		t.Fatal(err)
	}
	e1 := mustEnqueue(t, s, a.ID, queued("fn", time.Now()))
	mustEnqueue(t, s, a.ID, queued("fn", time.Now()))
	j, err := s.NextJob(ctx, store.Runs, "w", 100*time.Millisecond)
	if err != nil || j == nil || j.ID != e1.ID {
		t.Fatalf("first claim: %+v %v", j, err)
	}
	if got := claim(t, s); got != "" {
		t.Fatalf("a second run started past the tenant's cap of 1")
	}
	e1.Status = faaspot.ExecCompleted
	if err := s.FinishRun(ctx, *j, e1); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, s); got != a.ID {
		t.Errorf("after a run finished, claim = %q, want the next run", got)
	}
	tn, err := s.TenantByName(ctx, "acme")
	if err != nil || tn.Quotas.MaxConcurrentRuns != 1 {
		t.Errorf("tenant quotas = %+v %v", tn.Quotas, err)
	}
}

// TestQueuedRunsQuota: over the tenant's queued-runs quota, EnqueueRun writes nothing.
func TestQueuedRunsQuota(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	a, _ := mustCreateTenant(t, s, "acme")
	for range 3 {
		if err := s.EnqueueRun(ctx, a.ID, queued("fn", time.Now()), 3, false); err != nil {
			t.Fatal(err)
		}
	}
	e := queued("fn", time.Now())
	err := s.EnqueueRun(ctx, a.ID, e, 3, false)
	var qe *faaspot.QuotaError
	if !errors.As(err, &qe) || !errors.Is(err, store.ErrQuota) || qe.Limit != 3 {
		t.Fatalf("fourth enqueue = %v, want a QuotaError", err)
	}
	if _, err := s.GetExecution(ctx, a.ID, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused run left a record: %v", err)
	}
	// Taking one off the queue makes room.
	claim(t, s)
	if err := s.EnqueueRun(ctx, a.ID, queued("fn", time.Now()), 3, false); err != nil {
		t.Errorf("after a claim: %v", err)
	}
}

package store_test

import (
	"context"
	"testing"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// TestCopyCapsKeepsConcurrentQuota: a SetQuotas made while a starting node copies the caps (after
// it read the tenant's record, before it writes the copy) keeps its cap in the claim's copy.
func TestCopyCapsKeepsConcurrentQuota(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	if err := s.SetQuotas(ctx, tn.ID, faaspot.Quotas{MaxConcurrentRuns: 2}); err != nil {
		t.Fatal(err)
	}
	// The copy left stale, as a node dying inside SetQuotas over a Cluster leaves it.
	if err := s.rdb.HSet(ctx, s.QueueKey("caps"), tn.ID, 1).Err(); err != nil {
		t.Fatal(err)
	}
	s.OnStep("copy caps: write", func() {
		if err := s.SetQuotas(ctx, tn.ID, faaspot.Quotas{MaxConcurrentRuns: 5}); err != nil {
			t.Error(err)
		}
	})
	if err := s.EnsureGroups(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.mr.HGet(s.QueueKey("caps"), tn.ID); got != "5" {
		t.Errorf("caps copy = %q after a concurrent SetQuotas, want 5", got)
	}
	s.OnStep("", nil)
	// Without a concurrent SetQuotas, a stale copy is set right at the next start.
	if err := s.rdb.HSet(ctx, s.QueueKey("caps"), tn.ID, 1).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureGroups(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.mr.HGet(s.QueueKey("caps"), tn.ID); got != "5" {
		t.Errorf("caps copy = %q after a start, want the record's 5", got)
	}
}

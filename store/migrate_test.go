package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// earlierName is the name key (of a store under prefix p) had under the untagged layout of
// earlier releases; "" for a key that layout did not have.
func earlierName(p, key string) string {
	rest := strings.TrimPrefix(key, p)
	switch {
	case rest == "{g}:layout" || rest == "{q}:caps":
		return ""
	case strings.HasPrefix(rest, "{q}:alive:"):
		return p + "alive:" + strings.TrimPrefix(rest, "{q}:alive:")
	case strings.HasPrefix(rest, "{q}:"):
		return p + "q:" + strings.TrimPrefix(rest, "{q}:")
	case strings.HasPrefix(rest, "{g}:"):
		return p + strings.TrimPrefix(rest, "{g}:")
	}
	return p + strings.NewReplacer("{", "", "}", "").Replace(rest)
}

// mustRename renames a key, across slots on the Cluster (as redis-cli --cluster import would
// have put a single Redis's keys there).
func mustRename(tb testing.TB, s *testStore, from, to string) {
	tb.Helper()
	ctx := context.Background()
	if s.mr.mini != nil {
		if err := s.rdb.Rename(ctx, from, to).Err(); err != nil {
			tb.Fatalf("rename %s to %s: %v", from, to, err)
		}
		return
	}
	dump, err := s.rdb.Dump(ctx, from).Result()
	if err != nil {
		tb.Fatalf("dump %s: %v", from, err)
	}
	ttl := max(s.rdb.PTTL(ctx, from).Val(), 0)
	if err := s.rdb.Restore(ctx, to, ttl, dump).Err(); err != nil {
		tb.Fatalf("restore %s: %v", to, err)
	}
	s.mr.Del(from)
}

// TestMigrateEarlierLayout: a Redis written under the earlier key layout (every key renamed back
// to its earlier name, the caps copy gone) works after two nodes start on it at once: the
// tenant, its token and quota, its deployment, its queued run and build, its records and the
// installation id are all there, and no key is left under an earlier name.
func TestMigrateEarlierLayout(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	p := s.prefix
	tn, token := mustCreateTenant(t, s, "acme")
	if err := s.SetQuotas(ctx, tn.ID, faaspot.Quotas{MaxConcurrentRuns: 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PutDeployment(ctx, tn.ID, spec("fn", "code", nil), 0); err != nil {
		t.Fatal(err)
	}
	e1, e2 := queued("fn", t0), queued("fn", t0.Add(time.Millisecond))
	for _, e := range []faaspot.Execution{e1, e2} {
		if err := s.EnqueueRun(ctx, tn.ID, e, 0, false); err != nil {
			t.Fatal(err)
		}
	}
	install, err := s.InstallationID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range s.mr.Keys() {
		if old := earlierName(p, k); old == "" {
			s.mr.Del(k)
		} else if old != k {
			mustRename(t, s, k, old)
		}
	}
	for _, old := range []string{p + "tenants", p + "tenant:" + tn.ID, p + "tokens:" + tn.ID, p + "t:" + tn.ID + ":dep:fn",
		p + "t:" + tn.ID + ":exec:" + e1.ID, p + "q:runs:" + tn.ID, p + "q:builds:" + tn.ID, p + "q:rr", p + "installation"} {
		if !s.mr.Exists(old) {
			t.Fatalf("the earlier layout has no %s: %v", old, s.mr.Keys())
		}
	}

	var wg sync.WaitGroup
	for range 2 {
		node, err := store.New(s.rdb, s.options(store.Options{}))
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := node.EnsureGroups(ctx); err != nil {
				t.Errorf("EnsureGroups: %v", err)
			}
		})
	}
	wg.Wait()
	if err := s.EnsureGroups(ctx); err != nil {
		t.Fatalf("EnsureGroups again: %v", err)
	}

	for _, k := range s.mr.Keys() {
		if !strings.Contains(k, "{") && !strings.HasPrefix(k, p+"token:") {
			t.Errorf("key %s left under its earlier name", k)
		}
	}
	got, err := tenantByToken(ctx, s, token)
	if err != nil || got.ID != tn.ID || got.Quotas.MaxConcurrentRuns != 1 {
		t.Errorf("Authenticate = %+v, %v; want tenant %s with its quota", got, err, tn.ID)
	}
	if got, err := s.TenantByName(ctx, "acme"); err != nil || got.ID != tn.ID {
		t.Errorf("TenantByName = %+v, %v", got, err)
	}
	if d, err := s.GetDeployment(ctx, tn.ID, "fn"); err != nil || d.Version != 1 {
		t.Errorf("GetDeployment = %+v, %v", d, err)
	}
	if e, err := s.GetExecution(ctx, tn.ID, e1.ID); err != nil || e.Status != faaspot.ExecQueued {
		t.Errorf("GetExecution = %+v, %v", e, err)
	}
	if id, err := s.InstallationID(ctx); err != nil || id != install {
		t.Errorf("InstallationID = %q, %v; want %q", id, err, install)
	}
	if j := mustNextJob(t, s, store.Builds, "w1"); j.Tenant != tn.ID || j.Name != "fn" {
		t.Errorf("build job = %+v", j)
	}
	if j := mustNextJob(t, s, store.Runs, "w1"); j.ID != e1.ID {
		t.Errorf("run job = %+v, want %s", j, e1.ID)
	}
	// The tenant's cap of one concurrent run holds again: the copy for the claim was made.
	mustHeartbeat(t, s, "w2")
	if j, err := s.NextJob(ctx, store.Runs, "w2", 20*time.Millisecond); err != nil || j != nil {
		t.Errorf("NextJob past the tenant's cap = %+v, %v; want none", j, err)
	}
}

// TestMigrateLeavesCurrentKeys: a key that has its current name already is never overwritten by
// one of an earlier name (a node of an earlier release still writing).
func TestMigrateLeavesCurrentKeys(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	if err := s.mr.Set(s.prefix+"t:"+tn.ID+":whsecret", "stale"); err != nil {
		t.Fatal(err)
	}
	if err := s.mr.Set(s.TenantKey(tn.ID, "whsecret"), "current"); err != nil {
		t.Fatal(err)
	}
	s.mr.Del(s.prefix + "{g}:layout")
	if err := s.EnsureGroups(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.mr.Get(s.TenantKey(tn.ID, "whsecret")); v != "current" {
		t.Errorf("the current key holds %q after the migration, want it kept", v)
	}
}

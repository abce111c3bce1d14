package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// nextBuild takes the next build for consumer w: its tenant, "" when none is claimable.
func nextBuild(t *testing.T, s *testStore, w string) (store.Job, string) {
	t.Helper()
	mustHeartbeat(t, s, w)
	j, err := s.NextJob(context.Background(), store.Builds, w, 20*time.Millisecond)
	if err != nil {
		t.Fatalf("NextJob(builds): %v", err)
	}
	if j == nil {
		return store.Job{}, ""
	}
	return *j, j.Tenant
}

// TestFairBuilds: a tenant's backlog of builds does not delay another tenant's build: builds are
// claimed round-robin across tenants.
func TestFairBuilds(t *testing.T) {
	s := mustOpenStore(t, store.Options{BuildCap: 4})
	a, _ := mustCreateTenant(t, s, "flood")
	b, _ := mustCreateTenant(t, s, "quiet")
	for i := range 10 {
		mustPut(t, s, a.ID, spec(fmt.Sprintf("fn%d", i), "code", nil))
	}
	mustPut(t, s, b.ID, spec("fn", "code", nil))
	_, first := nextBuild(t, s, "w1")
	_, second := nextBuild(t, s, "w2")
	if first != b.ID && second != b.ID {
		t.Errorf("claims went to %s, %s: the quiet tenant's build waits behind the flood", first, second)
	}
}

// TestBuildCaps: a tenant builds at most BuildCap versions at once, the others waiting for a free
// slot while other tenants' builds go on, and has at most MaxQueuedBuilds waiting to start:
// past it a create is refused and writes nothing.
func TestBuildCaps(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{BuildCap: 1, MaxQueuedBuilds: 2})
	a, _ := mustCreateTenant(t, s, "acme")
	b, _ := mustCreateTenant(t, s, "other")
	mustPut(t, s, a.ID, spec("fn", "v1", nil))
	mustPut(t, s, a.ID, spec("fn", "v2", nil))
	_, _, err := s.PutDeployment(ctx, a.ID, spec("fn", "v3", nil), 0)
	var qe *faaspot.QuotaError
	if !errors.As(err, &qe) || !errors.Is(err, store.ErrQuota) || qe.What != "queued builds" || qe.Limit != 2 {
		t.Fatalf("third queued build = %v, want a queued builds QuotaError", err)
	}
	if d, _ := s.GetDeployment(ctx, a.ID, "fn"); d.Version != 2 {
		t.Errorf("a refused create wrote version %d", d.Version)
	}
	if _, err := s.LoadVersion(ctx, a.ID, "fn", 3); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused create wrote its source: %v", err)
	}

	job, got := nextBuild(t, s, "w1")
	if got != a.ID || job.Version != 1 {
		t.Fatalf("first claim = %+v", job)
	}
	// One build started, one waits: there is room for one more.
	mustPut(t, s, a.ID, spec("fn", "v3", nil))
	if _, got := nextBuild(t, s, "w2"); got != "" {
		t.Fatalf("a second build of the tenant started past its cap of 1")
	}
	mustPut(t, s, b.ID, spec("fn", "b1", nil))
	if _, got := nextBuild(t, s, "w2"); got != b.ID {
		t.Errorf("claim = %q, want the other tenant's build though the first is capped", got)
	}
	mustFinishBuild(t, s, job, store.BuildOutcome{Image: "img:1"})
	if job, got := nextBuild(t, s, "w2"); got != a.ID || job.Version != 2 {
		t.Errorf("after a build ended, claim = %+v, want the tenant's next", job)
	}
	if n, err := s.QueueDepth(ctx, store.Builds); err != nil || n != 1 {
		t.Errorf("build queue depth = %d, %v; want 1", n, err)
	}
}

// TestReclaimBuild: the build of a consumer that died no longer counts against the tenant's cap,
// and is handed to another from the tenant's build stream at once.
func TestReclaimBuild(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{BuildCap: 1})
	tn, _ := mustCreateTenant(t, s, "acme")
	mustPut(t, s, tn.ID, spec("fn", "v1", nil))
	mustPut(t, s, tn.ID, spec("fn", "v2", nil))
	mustPut(t, s, tn.ID, spec("fn", "v3", nil))
	dead, _ := nextBuild(t, s, "dead")
	if _, got := nextBuild(t, s, "alive"); got != "" {
		t.Fatal("a second build of the tenant started past its cap while the first one's node lives")
	}
	if err := s.Leave(ctx, "dead"); err != nil {
		t.Fatal(err)
	}
	second, got := nextBuild(t, s, "alive")
	if got != tn.ID || second.Version != 2 {
		t.Fatalf("claim after the first build's node died = %+v; want version 2: a dead node's build does not hold the cap", second)
	}
	jobs, err := s.Reclaim(ctx, store.Builds, "alive", time.Hour, 4)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("Reclaim = %+v, %v; want the dead consumer's build at once", jobs, err)
	}
	if j := jobs[0]; j.EntryID != dead.EntryID || j.Tenant != tn.ID || j.Name != "fn" || j.Version != 1 || j.Queue != store.Builds {
		t.Errorf("reclaimed %+v, want %+v", j, dead)
	}
	if err := s.Touch(ctx, dead, "dead"); !errors.Is(err, store.ErrLost) {
		t.Errorf("Touch by the dead consumer = %v, want ErrLost", err)
	}
	if err := s.Touch(ctx, jobs[0], "alive"); err != nil {
		t.Errorf("Touch by the new owner = %v", err)
	}
	mustFinishBuild(t, s, jobs[0], store.BuildOutcome{Image: "img:1"})
	mustFinishBuild(t, s, second, store.BuildOutcome{Image: "img:2"})
	if job, got := nextBuild(t, s, "alive"); got != tn.ID || job.Version != 3 {
		t.Errorf("after the builds ended, claim = %+v, want version 3", job)
	}
}

// TestDeleteTenantDropsBuilds: deleting a tenant drops its queued builds and its build stream.
func TestDeleteTenantDropsBuilds(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	a, _ := mustCreateTenant(t, s, "acme")
	b, _ := mustCreateTenant(t, s, "other")
	mustPut(t, s, a.ID, spec("fn", "v1", nil))
	mustPut(t, s, a.ID, spec("fn2", "v1", nil))
	if _, err := s.DeleteTenant(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, got := nextBuild(t, s, "w"); got != "" {
		t.Errorf("a build of the deleted tenant was claimed")
	}
	if s.mr.Exists(s.QueueKey("builds:") + a.ID) {
		t.Error("the deleted tenant's build stream remains")
	}
	if n, err := s.QueueDepth(ctx, store.Builds); err != nil || n != 0 {
		t.Errorf("build queue depth = %d, %v; want 0", n, err)
	}
	mustPut(t, s, b.ID, spec("fn", "v1", nil))
	if _, got := nextBuild(t, s, "w"); got != b.ID {
		t.Errorf("claim = %q, want the remaining tenant's build", got)
	}
}

// TestEarlierBuildQueue: build jobs queued on the one build stream of an earlier release are
// moved to their tenants' streams when a node starts, in order, and built.
func TestEarlierBuildQueue(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{BuildCap: 2})
	tn, _ := mustCreateTenant(t, s, "acme")
	for v := 1; v <= 2; v++ {
		if _, err := s.mr.XAdd(s.QueueKey("builds"), "*", []string{"tenant", tn.ID, "name", "fn", "version", fmt.Sprint(v), "at", "1"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.EnsureGroups(ctx); err != nil {
		t.Fatal(err)
	}
	if s.mr.Exists(s.QueueKey("builds")) {
		t.Error("the earlier build stream remains")
	}
	for v := 1; v <= 2; v++ {
		if job, got := nextBuild(t, s, "w"); got != tn.ID || job.Name != "fn" || job.Version != v {
			t.Errorf("claim %d = %+v", v, job)
		}
	}
}

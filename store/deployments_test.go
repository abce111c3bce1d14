package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

func spec(name, code string, ctxMap map[string]any) faaspot.DeploymentSpec {
	return faaspot.DeploymentSpec{Name: name, Source: faaspot.Source{Code: code, Requirements: "six==1.16.0\n"},
		Context: ctxMap, Limits: faaspot.Limits{MemoryMB: 128, CPUs: 0.5, TimeoutS: 10}}
}

func mustPut(tb testing.TB, s *testStore, tid string, sp faaspot.DeploymentSpec) faaspot.Deployment {
	tb.Helper()
	d, _, err := s.PutDeployment(context.Background(), tid, sp, 0)
	if err != nil {
		tb.Fatalf("PutDeployment(%s): %v", sp.Name, err)
	}
	return d
}

func mustFinishBuild(tb testing.TB, s *testStore, job store.Job, out store.BuildOutcome) faaspot.Deployment {
	tb.Helper()
	d, err := s.FinishBuild(context.Background(), job, out)
	if err != nil {
		tb.Fatalf("FinishBuild(%s): %v", job, err)
	}
	return d
}

func TestPutDeploymentQueuesBuilds(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock(t0)
	s := mustOpenStore(t, store.Options{Now: clock.Now, BuildCap: 2})
	s.mr.SetTime(t0) // stream ids, hence Job.Enqueued, come from Redis' clock
	tn, _ := mustCreateTenant(t, s, "acme")

	d1 := mustPut(t, s, tn.ID, spec("fn", "v1", map[string]any{"zeta": "1", "alpha": "2"}))
	if d1.Version != 1 || d1.Status != faaspot.StatusBuilding || d1.ReadyVersion != 0 || d1.ID == "" ||
		!d1.CreatedAt.Equal(t0) || !d1.UpdatedAt.Equal(t0) {
		t.Errorf("first put = %+v, want created and updated at %v", d1, t0)
	}
	if !slices.Equal(d1.ContextKeys, []string{"alpha", "zeta"}) {
		t.Errorf("context keys = %v, want sorted [alpha zeta]", d1.ContextKeys)
	}
	if d1.Limits != (faaspot.Limits{MemoryMB: 128, CPUs: 0.5, TimeoutS: 10}) {
		t.Errorf("limits = %+v", d1.Limits)
	}
	clock.Advance(time.Minute)
	d2 := mustPut(t, s, tn.ID, spec("fn", "v2", nil))
	if d2.Version != 2 || d2.ID != d1.ID || !d2.CreatedAt.Equal(t0) || !d2.UpdatedAt.Equal(clock.Now()) || len(d2.ContextKeys) != 0 {
		t.Errorf("second put = %+v (first %+v), want updated a minute later", d2, d1)
	}

	if n, err := s.QueueDepth(ctx, store.Builds); err != nil || n != 2 {
		t.Errorf("build queue depth = %d, %v; want 2", n, err)
	}
	for _, want := range []struct {
		v    int
		code string
	}{{1, "v1"}, {2, "v2"}} {
		v, code := want.v, want.code
		job := mustNextJob(t, s, store.Builds, "w1")
		if job.Queue != store.Builds || job.Tenant != tn.ID || job.Name != "fn" || job.Version != v || !job.Enqueued.Equal(t0) {
			t.Errorf("job %d = %+v, want enqueued at %v", v, job, t0)
		}
		ver, err := s.LoadVersion(ctx, tn.ID, "fn", v)
		if err != nil || ver.Source.Code != code || ver.Source.Requirements != "six==1.16.0\n" || ver.Number != v || ver.Deployment != "fn" {
			t.Errorf("LoadVersion(v%d) = %+v, %v", v, ver, err)
		}
	}
	mustNoJob(t, s, store.Builds)
	if n, _ := s.QueueDepth(ctx, store.Builds); n != 0 {
		t.Errorf("build queue depth after delivery = %d, want 0", n)
	}
	c1, err := s.LoadContext(ctx, tn.ID, "fn", 1)
	if err != nil || !jsonEqual(c1, `{"alpha":"2","zeta":"1"}`) {
		t.Errorf("LoadContext(v1) = %s, %v", c1, err)
	}
	if c2, err := s.LoadContext(ctx, tn.ID, "fn", 2); err != nil || !jsonEqual(c2, `{}`) {
		t.Errorf("LoadContext(v2) = %s, %v; want {}", c2, err)
	}
}

func TestFinishBuild(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock(t0)
	s := mustOpenStore(t, store.Options{Now: clock.Now})
	tn, _ := mustCreateTenant(t, s, "acme")

	mustPut(t, s, tn.ID, spec("fn", "v1", map[string]any{"key": "one"}))
	job1 := mustNextJob(t, s, store.Builds, "w1")
	clock.Advance(time.Minute)
	d := mustFinishBuild(t, s, job1, store.BuildOutcome{Image: "img:1", Log: "built 1\n"})
	if d.Status != faaspot.StatusReady || d.ReadyVersion != 1 || d.Image != "img:1" || d.BuildLog != "built 1\n" || d.Error != "" ||
		!d.CreatedAt.Equal(t0) || !d.UpdatedAt.Equal(clock.Now()) {
		t.Fatalf("after a successful build: %+v, want updated at the build's end", d)
	}
	if got, _ := s.GetDeployment(ctx, tn.ID, "fn"); got.Status != faaspot.StatusReady || got.Image != "img:1" {
		t.Errorf("stored deployment = %+v", got)
	}
	// The ready version's source stays, for worker nodes whose engine lacks its image.
	if ver, err := s.LoadVersion(ctx, tn.ID, "fn", 1); err != nil || ver.Source.Code != "v1" {
		t.Errorf("source of the ready v1: %+v, %v", ver, err)
	}
	if done, err := s.WaitBuilt(ctx, tn.ID, "fn", 1, time.Second); !done || err != nil {
		t.Errorf("WaitBuilt(v1) = %v, %v; want true", done, err)
	}

	// A newer version fails: the older ready version stays runnable.
	mustPut(t, s, tn.ID, spec("fn", "v2 broken", map[string]any{"key": "two"}))
	job2 := mustNextJob(t, s, store.Builds, "w1")
	d = mustFinishBuild(t, s, job2, store.BuildOutcome{Log: "no main\n", Error: "the code defines no main"})
	if d.Status != faaspot.StatusFailed || d.Error != "the code defines no main" || d.Version != 2 ||
		d.ReadyVersion != 1 || d.Image != "img:1" {
		t.Fatalf("after a failed newer build: %+v", d)
	}
	if c, err := s.LoadContext(ctx, tn.ID, "fn", 1); err != nil || !jsonEqual(c, `{"key":"one"}`) {
		t.Errorf("context of the ready v1 after v2 failed: %s, %v", c, err)
	}
	if _, err := s.LoadContext(ctx, tn.ID, "fn", 2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("context of the failed v2: %v, want dropped", err)
	}
	if _, err := s.LoadVersion(ctx, tn.ID, "fn", 2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("source of the failed v2: %v, want dropped", err)
	}

	// A third version succeeds: it becomes the ready one; v1's source and context stay while its
	// record is kept (a pinned run or a rollback may use them).
	mustPut(t, s, tn.ID, spec("fn", "v3", map[string]any{"key": "three"}))
	job3 := mustNextJob(t, s, store.Builds, "w1")
	d = mustFinishBuild(t, s, job3, store.BuildOutcome{Image: "img:3"})
	if d.Status != faaspot.StatusReady || d.Error != "" || d.ReadyVersion != 3 || d.Image != "img:3" {
		t.Fatalf("after v3: %+v", d)
	}
	if c, err := s.LoadContext(ctx, tn.ID, "fn", 1); err != nil || !jsonEqual(c, `{"key":"one"}`) {
		t.Errorf("context of the replaced v1: %s, %v; want kept", c, err)
	}
	if ver, err := s.LoadVersion(ctx, tn.ID, "fn", 1); err != nil || ver.Source.Code != "v1" {
		t.Errorf("source of the replaced v1: %+v, %v; want kept", ver, err)
	}
	if ver, err := s.LoadVersion(ctx, tn.ID, "fn", 3); err != nil || ver.Source.Code != "v3" {
		t.Errorf("source of the ready v3: %+v, %v", ver, err)
	}
	if c, err := s.LoadContext(ctx, tn.ID, "fn", 3); err != nil || !jsonEqual(c, `{"key":"three"}`) {
		t.Errorf("context of v3: %s, %v", c, err)
	}
	if n, _ := s.QueueDepth(ctx, store.Builds); n != 0 {
		t.Errorf("build queue depth = %d, want 0", n)
	}
	pending, err := s.rdb.XPending(ctx, s.QueueKey("builds:")+tn.ID, "workers").Result()
	if err != nil || pending.Count != 0 {
		t.Errorf("pending builds = %+v, %v; want all acknowledged", pending, err)
	}
}

func TestFinishBuildOutOfOrder(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{BuildCap: 2})
	tn, _ := mustCreateTenant(t, s, "acme")
	mustPut(t, s, tn.ID, spec("fn", "v1", map[string]any{"key": "one"}))
	mustPut(t, s, tn.ID, spec("fn", "v2", map[string]any{"key": "two"}))
	job1 := mustNextJob(t, s, store.Builds, "w1")
	job2 := mustNextJob(t, s, store.Builds, "w2")

	// v2 finishes first, then the older v1 (its worker was slower).
	mustFinishBuild(t, s, job2, store.BuildOutcome{Image: "img:2"})
	d := mustFinishBuild(t, s, job1, store.BuildOutcome{Image: "img:1"})
	if d.ReadyVersion != 2 || d.Image != "img:2" || d.Status != faaspot.StatusReady {
		t.Errorf("an older build overrode the newer: %+v", d)
	}
	if c, err := s.LoadContext(ctx, tn.ID, "fn", 1); err != nil || !jsonEqual(c, `{"key":"one"}`) {
		t.Errorf("context of the built v1 after v2 became ready: %s, %v; want kept for pinned runs", c, err)
	}
	if _, err := s.DeleteDeployment(ctx, tn.ID, "fn"); err != nil {
		t.Fatal(err)
	}
	var leftover []string
	for _, k := range s.mr.Keys() {
		if strings.Contains(k, ":ctx:") {
			leftover = append(leftover, k)
		}
	}
	if len(leftover) != 0 {
		t.Errorf("context keys after delete: %v", leftover)
	}
}

func TestFinishBuildOfDeletedDeployment(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	mustPut(t, s, tn.ID, spec("fn", "v1", map[string]any{"key": "one"}))
	job := mustNextJob(t, s, store.Builds, "w1")
	if _, err := s.DeleteDeployment(ctx, tn.ID, "fn"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishBuild(ctx, job, store.BuildOutcome{Image: "img"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishBuild of a deleted deployment = %v, want ErrNotFound", err)
	}
	if p, err := s.rdb.XPending(ctx, s.QueueKey("builds:")+tn.ID, "workers").Result(); err != nil || p.Count != 0 {
		t.Errorf("pending builds = %+v, %v; the job must be acknowledged anyway", p, err)
	}
	if _, err := s.GetDeployment(ctx, tn.ID, "fn"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishBuild resurrected the deployment: %v", err)
	}
}

func TestDeleteDeployment(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	mustPut(t, s, tn.ID, spec("fn", "v1", map[string]any{"key": "one"}))
	mustFinishBuild(t, s, mustNextJob(t, s, store.Builds, "w"), store.BuildOutcome{Image: "img:1"})
	mustPut(t, s, tn.ID, spec("fn", "v2", map[string]any{"key": "two"})) // still building
	mustPut(t, s, tn.ID, spec("keep", "k", nil))

	d, err := s.DeleteDeployment(ctx, tn.ID, "fn")
	if err != nil || d.Name != "fn" || d.Version != 2 || d.ID == "" {
		t.Fatalf("DeleteDeployment = %+v, %v", d, err)
	}
	if _, err := s.GetDeployment(ctx, tn.ID, "fn"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetDeployment after delete: %v", err)
	}
	if _, err := s.DeleteDeployment(ctx, tn.ID, "fn"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	list, err := s.ListDeployments(ctx, tn.ID)
	if err != nil || len(list) != 1 || list[0].Name != "keep" {
		t.Errorf("ListDeployments after delete = %+v, %v", list, err)
	}
	for _, k := range s.mr.Keys() {
		if strings.Contains(k, ":src:fn:") || strings.Contains(k, ":ctx:fn:") || strings.HasSuffix(k, ":dep:fn") {
			t.Errorf("key %s survives the delete", k)
		}
	}
	// Re-creating starts a new deployment.
	d3 := mustPut(t, s, tn.ID, spec("fn", "again", nil))
	if d3.Version != 1 || d3.ID == d.ID || d3.ReadyVersion != 0 {
		t.Errorf("re-created deployment = %+v", d3)
	}
}

func TestListDeployments(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	if list, err := s.ListDeployments(ctx, tn.ID); err != nil || list == nil || len(list) != 0 {
		t.Errorf("empty list = %#v, %v; want an empty, non-nil slice", list, err)
	}
	for _, n := range []string{"charlie", "alpha", "bravo"} {
		mustPut(t, s, tn.ID, spec(n, "c", nil))
	}
	list, err := s.ListDeployments(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range list {
		names = append(names, d.Name)
	}
	if !slices.Equal(names, []string{"alpha", "bravo", "charlie"}) {
		t.Errorf("names = %v, want sorted", names)
	}
}

func TestContextNotInRecords(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	const secret = "S3CR3T-CONTEXT-VALUE"
	mustPut(t, s, tn.ID, spec("fn", "code", map[string]any{"api_key": secret}))
	d, err := s.GetDeployment(ctx, tn.ID, "fn")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(d)
	if strings.Contains(string(b), secret) {
		t.Errorf("the deployment record carries the context: %s", b)
	}
	rec, _ := s.mr.Get(s.TenantKey(tn.ID, "dep:fn"))
	if strings.Contains(rec, secret) {
		t.Errorf("the stored deployment record carries the context: %s", rec)
	}
}

func TestTenantScoping(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	a, _ := mustCreateTenant(t, s, "tenant-a")
	b, _ := mustCreateTenant(t, s, "tenant-b")
	mustPut(t, s, a.ID, spec("fn", "a's code", map[string]any{"k": "a"}))
	mustFinishBuild(t, s, mustNextJob(t, s, store.Builds, "w"), store.BuildOutcome{Image: "img:a"})
	e := faaspot.Execution{ID: faaspot.NewID(), Deployment: "fn", Version: 1, Status: faaspot.ExecQueued, CreatedAt: time.Now()}
	if err := s.EnqueueRun(ctx, a.ID, e, 0, true); err != nil {
		t.Fatal(err)
	}

	if _, err := s.GetDeployment(ctx, b.ID, "fn"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("tenant B GetDeployment(A's fn) = %v, want ErrNotFound", err)
	}
	if _, err := s.GetExecution(ctx, b.ID, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("tenant B GetExecution(A's id) = %v, want ErrNotFound", err)
	}
	if list, err := s.ListDeployments(ctx, b.ID); err != nil || len(list) != 0 {
		t.Errorf("tenant B ListDeployments = %+v, %v", list, err)
	}
	if list, _, err := s.ListExecutions(ctx, b.ID, faaspot.ExecutionQuery{Limit: 10}); err != nil || len(list) != 0 {
		t.Errorf("tenant B ListExecutions = %+v, %v", list, err)
	}
	if _, err := s.DeleteDeployment(ctx, b.ID, "fn"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("tenant B DeleteDeployment(A's fn) = %v, want ErrNotFound", err)
	}
	if _, err := s.LoadContext(ctx, b.ID, "fn", 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("tenant B LoadContext(A's fn) = %v, want ErrNotFound", err)
	}
	// B may use the same name; it is another deployment.
	db := mustPut(t, s, b.ID, spec("fn", "b's code", nil))
	if db.Version != 1 {
		t.Errorf("tenant B's fn = %+v, want its own version 1", db)
	}
	if da, err := s.GetDeployment(ctx, a.ID, "fn"); err != nil || da.Version != 1 || da.Status != faaspot.StatusReady || da.ID == db.ID {
		t.Errorf("tenant A's fn after B's put = %+v, %v", da, err)
	}
	for _, k := range s.mr.Keys() {
		if strings.HasPrefix(k, s.prefix+"t:") && !strings.HasPrefix(k, s.TenantKey(a.ID, "")) && !strings.HasPrefix(k, s.TenantKey(b.ID, "")) {
			t.Errorf("tenant key %s carries no tenant id", k)
		}
	}
}

func jsonEqual(got []byte, want string) bool {
	var a, b any
	if json.Unmarshal(got, &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestPutDeploymentQuota: the deployment quota is checked in the creating transaction, so
// concurrent creates of new names never overshoot it; a refused create writes nothing, and new
// versions of existing names are always accepted.
func TestPutDeploymentQuota(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	const max, tries = 3, 12
	errs := make(chan error, tries)
	for i := range tries {
		go func() {
			_, _, err := s.PutDeployment(ctx, "t1", spec(fmt.Sprintf("fn%d", i), "code", nil), max)
			errs <- err
		}()
	}
	accepted := 0
	for range tries {
		err := <-errs
		var qe *faaspot.QuotaError
		switch {
		case err == nil:
			accepted++
		case errors.As(err, &qe) && errors.Is(err, store.ErrQuota) && qe.What == "deployments" && qe.Limit == max:
		default:
			t.Errorf("PutDeployment = %v, want nil or a deployments quota error", err)
		}
	}
	list, err := s.ListDeployments(ctx, "t1")
	if accepted != max || err != nil || len(list) != max {
		t.Fatalf("%d creates accepted, %d deployments listed (%v); want %d", accepted, len(list), err, max)
	}
	// Each accepted create wrote a record, a version record, a source, a context and a build job; nothing more
	// (beside the names, the tenant's build stream, the build rotation, its set and wake-ups, and
	// the key layout's version).
	if keys := s.mr.Keys(); len(keys) != 6+4*max {
		t.Errorf("keys after %d accepted creates: %v", max, keys)
	}
	if jobs, _ := s.mr.Stream(s.QueueKey("builds:t1")); len(jobs) != max {
		t.Errorf("%d builds queued, want %d", len(jobs), max)
	}
	if _, _, err := s.PutDeployment(ctx, "t1", spec(list[0].Name, "new code", nil), max); err != nil {
		t.Errorf("a new version at the quota: %v", err)
	}
	if _, _, err := s.PutDeployment(ctx, "t2", spec("fn0", "code", nil), max); err != nil {
		t.Errorf("another tenant's create: %v", err)
	}
}

// TestConcurrentCreates: many creates of one tenant at once all get through (their optimistic
// transactions collide on the tenant's deployment set and back off at random).
func TestConcurrentCreates(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{MaxQueuedBuilds: 1000})
	tn, _ := mustCreateTenant(t, s, "acme")
	const n = 60
	errs := make(chan error, n)
	for i := range n {
		go func() {
			spec := faaspot.DeploymentSpec{Name: fmt.Sprintf("fn%d", i), Source: faaspot.Source{Code: "def main(a, c): pass"}}
			_, _, err := s.PutDeployment(ctx, tn.ID, spec, 0)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("a concurrent create failed: %v", err)
		}
	}
	if list, err := s.ListDeployments(ctx, tn.ID); err != nil || len(list) != n {
		t.Fatalf("%d deployments, %v; want %d", len(list), err, n)
	}
}

package store_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

func versionNumbers(vs []faaspot.VersionInfo) []int {
	out := make([]int, len(vs))
	for i, v := range vs {
		out[i] = v.Version
	}
	return out
}

func mustListVersions(tb testing.TB, s *testStore, tid, name string) []faaspot.VersionInfo {
	tb.Helper()
	vs, err := s.ListVersions(context.Background(), tid, name)
	if err != nil {
		tb.Fatalf("ListVersions(%s): %v", name, err)
	}
	return vs
}

// TestIdenticalRedeploy: a spec identical to the newest version, ready or still building, makes
// no version and queues no build; any change of code, requirements, context, limits or warm
// policy makes one.
func TestIdenticalRedeploy(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	base := spec("fn", "v1", map[string]any{"key": "one"})
	mustPut(t, s, tn.ID, base)
	mustFinishBuild(t, s, mustNextJob(t, s, store.Builds, "w"), store.BuildOutcome{Image: "img:1"})

	d, created, err := s.PutDeployment(ctx, tn.ID, base, 0)
	if err != nil || created || d.Version != 1 || d.Status != faaspot.StatusReady || d.Image != "img:1" {
		t.Fatalf("identical redeploy of a ready version = %+v, %v, %v; want version 1 as it is", d, created, err)
	}
	mustNoJob(t, s, store.Builds)

	one := 1
	changes := map[string]func(sp *faaspot.DeploymentSpec){
		"code":         func(sp *faaspot.DeploymentSpec) { sp.Source.Code = "v2" },
		"requirements": func(sp *faaspot.DeploymentSpec) { sp.Source.Requirements = "" },
		"context":      func(sp *faaspot.DeploymentSpec) { sp.Context = map[string]any{"key": "two"} },
		"limits":       func(sp *faaspot.DeploymentSpec) { sp.Limits.MemoryMB = 256 },
		"warm":         func(sp *faaspot.DeploymentSpec) { sp.Warm = &faaspot.WarmPolicy{MaxIdle: &one} },
	}
	want := 1
	for _, what := range []string{"code", "requirements", "context", "limits", "warm"} {
		sp := base
		changes[what](&sp)
		want++
		d, created, err := s.PutDeployment(ctx, tn.ID, sp, 0)
		if err != nil || !created || d.Version != want {
			t.Fatalf("put with another %s = v%d, %v, %v; want a new version %d", what, d.Version, created, err, want)
		}
		job := mustNextJob(t, s, store.Builds, "w")
		// The same again while it builds: nothing new.
		d, created, err = s.PutDeployment(ctx, tn.ID, sp, 0)
		if err != nil || created || d.Version != want || d.Status != faaspot.StatusBuilding {
			t.Errorf("identical put of the building %s change = %+v, %v, %v; want v%d building", what, d, created, err, want)
		}
		mustNoJob(t, s, store.Builds)
		mustFinishBuild(t, s, job, store.BuildOutcome{Image: "img"})
		base = sp
	}
}

// TestRedeployAfterFailedBuild: redeploying a version that failed to build builds it again, as a
// new version.
func TestRedeployAfterFailedBuild(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	sp := spec("fn", "v1", nil)
	mustPut(t, s, tn.ID, sp)
	mustFinishBuild(t, s, mustNextJob(t, s, store.Builds, "w"), store.BuildOutcome{Error: "engine down"})
	d, created, err := s.PutDeployment(ctx, tn.ID, sp, 0)
	if err != nil || !created || d.Version != 2 || d.Status != faaspot.StatusBuilding {
		t.Fatalf("retry after a failed build = %+v, %v, %v; want version 2 building", d, created, err)
	}
	if job := mustNextJob(t, s, store.Builds, "w"); job.Version != 2 {
		t.Errorf("retry queued %+v, want the build of version 2", job)
	}
}

func TestListVersions(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock(t0)
	s := mustOpenStore(t, store.Options{Now: clock.Now})
	tn, _ := mustCreateTenant(t, s, "acme")
	other, _ := mustCreateTenant(t, s, "other")
	mustPut(t, s, tn.ID, spec("fn", "v1", map[string]any{"password": "hunter2"}))
	clock.Advance(time.Minute)
	mustFinishBuild(t, s, mustNextJob(t, s, store.Builds, "w"), store.BuildOutcome{Image: "img:1"})
	clock.Advance(time.Minute)
	mustPut(t, s, tn.ID, spec("fn", "v2", nil))
	clock.Advance(time.Minute)
	mustFinishBuild(t, s, mustNextJob(t, s, store.Builds, "w"), store.BuildOutcome{Error: "the code defines no main"})
	mustPut(t, s, tn.ID, spec("fn", "v3", nil))

	vs := mustListVersions(t, s, tn.ID, "fn")
	if got := versionNumbers(vs); !slices.Equal(got, []int{3, 2, 1}) {
		t.Fatalf("versions = %v, want newest first [3 2 1]", got)
	}
	v3, v2, v1 := vs[0], vs[1], vs[2]
	if v3.Status != faaspot.StatusBuilding || v3.Ready || v3.FinishedAt != nil || !v3.CreatedAt.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("v3 = %+v, want building since the third minute", v3)
	}
	if v2.Status != faaspot.StatusFailed || v2.Ready || v2.Error != "the code defines no main" || v2.FinishedAt == nil || !v2.FinishedAt.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("v2 = %+v, want failed at the third minute with its error", v2)
	}
	if v1.Status != faaspot.StatusReady || !v1.Ready || v1.FinishedAt == nil || !v1.FinishedAt.Equal(t0.Add(time.Minute)) ||
		!v1.CreatedAt.Equal(t0) || !slices.Equal(v1.ContextKeys, []string{"password"}) || v1.Limits.MemoryMB != 128 || len(v1.Hash) != 64 {
		t.Errorf("v1 = %+v, want the ready version built in a minute", v1)
	}
	for _, k := range s.mr.Keys() {
		if v, _ := s.rdb.Dump(ctx, k).Bytes(); bytes.Contains(v, []byte("hunter2")) {
			t.Errorf("key %s holds the context's value in clear", k)
		}
	}
	if _, err := s.ListVersions(ctx, other.ID, "fn"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another tenant's versions: %v, want ErrNotFound", err)
	}
	if _, err := s.ListVersions(ctx, tn.ID, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("versions of an unknown deployment: %v, want ErrNotFound", err)
	}
	if _, err := s.DeleteDeployment(ctx, tn.ID, "fn"); err != nil {
		t.Fatal(err)
	}
	if s.mr.Exists(s.TenantKey(tn.ID, "vers:fn")) {
		t.Error("version records left after the deployment was deleted")
	}
}

// TestVersionHashIsKeyed: the stored hash depends on the secret key, so it cannot be matched
// against guesses of the context without it.
func TestVersionHashIsKeyed(t *testing.T) {
	hashWith := func(key byte) string {
		s := mustOpenStore(t, store.Options{SecretKey: bytes.Repeat([]byte{key}, store.KeySize)})
		mustPut(t, s, "t1", spec("fn", "v1", map[string]any{"pin": "1234"}))
		return mustListVersions(t, s, "t1", "fn")[0].Hash
	}
	if a, b := hashWith(1), hashWith(2); a == b {
		t.Errorf("the same content under two keys hashed alike: %s", a)
	}
}

// TestVersionsKept: at most VersionsKept records, the oldest dropped first, never the ready
// version's; a refused create writes no record.
func TestVersionsKept(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{VersionsKept: 3, MaxQueuedBuilds: 5})
	tn, _ := mustCreateTenant(t, s, "acme")
	mustPut(t, s, tn.ID, spec("fn", "v1", nil))
	mustFinishBuild(t, s, mustNextJob(t, s, store.Builds, "w"), store.BuildOutcome{Image: "img:1"})
	for _, code := range []string{"v2", "v3", "v4", "v5"} {
		mustPut(t, s, tn.ID, spec("fn", code, nil))
	}
	if got := versionNumbers(mustListVersions(t, s, tn.ID, "fn")); !slices.Equal(got, []int{5, 4, 3, 2, 1}) {
		t.Errorf("versions kept = %v, want [5 4 3 2 1]: versions still building are never dropped", got)
	}
	mustPut(t, s, tn.ID, spec("fn", "v6", nil))
	if _, _, err := s.PutDeployment(ctx, tn.ID, spec("fn", "v7", nil), 0); !errors.Is(err, store.ErrQuota) {
		t.Fatalf("a sixth queued build = %v, want a quota error", err)
	}
	if got := versionNumbers(mustListVersions(t, s, tn.ID, "fn")); !slices.Equal(got, []int{6, 5, 4, 3, 2, 1}) {
		t.Errorf("versions after a refused create = %v, want [6 5 4 3 2 1]", got)
	}
	// v2 to v5 are superseded: each goes once settled, past the 3 kept; v6 builds and becomes ready.
	for range 4 {
		mustFinishBuild(t, s, mustNextJob(t, s, store.Builds, "w"), store.BuildOutcome{Error: "skipped"})
	}
	mustFinishBuild(t, s, mustNextJob(t, s, store.Builds, "w"), store.BuildOutcome{Image: "img:6"})
	vs := mustListVersions(t, s, tn.ID, "fn")
	if got := versionNumbers(vs); !slices.Equal(got, []int{6, 5, 1}) || !vs[0].Ready || vs[0].Status != faaspot.StatusReady ||
		vs[1].Status != faaspot.StatusFailed || vs[2].Ready {
		t.Errorf("versions after v6 became ready = %+v", vs)
	}
	mustPut(t, s, tn.ID, spec("fn", "v8", nil))
	if got := versionNumbers(mustListVersions(t, s, tn.ID, "fn")); !slices.Equal(got, []int{7, 6, 5}) {
		t.Errorf("versions after one more = %v, want [7 6 5]", got)
	}
	// The dropped v1 takes its source and context with it; the kept v6 keeps its own.
	if _, err := s.LoadVersion(ctx, tn.ID, "fn", 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("source of the dropped v1: %v, want ErrNotFound", err)
	}
	if _, err := s.LoadContext(ctx, tn.ID, "fn", 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("context of the dropped v1: %v, want ErrNotFound", err)
	}
	if _, err := s.LoadVersion(ctx, tn.ID, "fn", 6); err != nil {
		t.Errorf("source of the ready v6: %v", err)
	}
	// A build's end drops the same way: v8 ready leaves [8 7 6] with kept 3 (v5 goes).
	mustFinishBuild(t, s, mustNextJob(t, s, store.Builds, "w"), store.BuildOutcome{Image: "img:7"})
	if got := versionNumbers(mustListVersions(t, s, tn.ID, "fn")); !slices.Equal(got, []int{7, 6, 5}) {
		t.Errorf("versions after v7 built = %v, want [7 6 5]", got)
	}
	mustPut(t, s, tn.ID, spec("fn", "v9", nil))
	mustFinishBuild(t, s, mustNextJob(t, s, store.Builds, "w"), store.BuildOutcome{Image: "img:8"})
	if got := versionNumbers(mustListVersions(t, s, tn.ID, "fn")); !slices.Equal(got, []int{8, 7, 6}) {
		t.Errorf("versions after v8 built = %v, want [8 7 6]", got)
	}
	if _, err := s.LoadContext(ctx, tn.ID, "fn", 6); err != nil {
		t.Errorf("context of the kept v6: %v", err)
	}
}

// TestBuildingVersionKept: a version still building is never dropped past the kept ones, so that
// when its build makes it the ready version it has its source and context; a build job run twice
// changes nothing the second time.
func TestBuildingVersionKept(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{VersionsKept: 1, MaxQueuedBuilds: 5, BuildCap: 4})
	tn, _ := mustCreateTenant(t, s, "acme")
	mustPut(t, s, tn.ID, spec("fn", "v1", map[string]any{"k": 1}))
	mustFinishBuild(t, s, mustNextJob(t, s, store.Builds, "w"), store.BuildOutcome{Image: "img:1"})
	mustPut(t, s, tn.ID, spec("fn", "v2", map[string]any{"k": 2}))
	job2 := mustNextJob(t, s, store.Builds, "w")
	mustPut(t, s, tn.ID, spec("fn", "v3", map[string]any{"k": 3})) // v2 builds: kept
	d := mustFinishBuild(t, s, job2, store.BuildOutcome{Image: "img:2"})
	if d.ReadyVersion != 2 {
		t.Fatalf("after v2 built: %+v", d)
	}
	if c, err := s.LoadContext(ctx, tn.ID, "fn", 2); err != nil || !jsonEqual(c, `{"k":2}`) {
		t.Errorf("context of the ready v2 = %s, %v", c, err)
	}
	again := mustFinishBuild(t, s, job2, store.BuildOutcome{Error: "superseded by version 3"})
	if again.ReadyVersion != 2 || again.Image != "img:2" {
		t.Errorf("a second end of v2's build changed the deployment: %+v", again)
	}
	if _, err := s.LoadContext(ctx, tn.ID, "fn", 2); err != nil {
		t.Errorf("a second end of v2's build dropped its context: %v", err)
	}
}

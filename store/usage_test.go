package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// ended is e as a worker ends it: status, and the resources of its attempts.
func ended(e faaspot.Execution, st faaspot.ExecStatus, wallMS, cpuMS, gbs float64) faaspot.Execution {
	e.Status, e.Usage = st, &faaspot.ExecUsage{WallMS: wallMS, CPUMS: cpuMS, GBSeconds: gbs}
	return e
}

// mustUsage returns the tenant's usage of the days from to to.
func mustUsage(tb testing.TB, s *testStore, tid string, from, to time.Time) []faaspot.UsageDay {
	tb.Helper()
	days, err := s.Usage(context.Background(), tid, from, to)
	if err != nil {
		tb.Fatalf("Usage: %v", err)
	}
	return days
}

// TestUsageCountsARunOnce: the write of the terminal record counts the run and its resources;
// a second terminal write of the same execution (a reclaimed job whose two workers both finish)
// keeps the first record and counts nothing; the day's hash expires 400 days after its last write.
func TestUsageCountsARunOnce(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock(t0)
	s := mustOpenStore(t, store.Options{Now: clock.Now})
	tn, _ := mustCreateTenant(t, s, "acme")
	other, _ := mustCreateTenant(t, s, "other")
	e := mustEnqueue(t, s, tn.ID, queued("fn", t0))
	job := mustNextJob(t, s, store.Runs, "w1")
	if err := s.FinishRun(ctx, job, ended(e, faaspot.ExecCompleted, 1500, 250, 0.1875)); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, job, ended(e, faaspot.ExecFailed, 9000, 9000, 9)); err != nil {
		t.Fatal(err)
	}
	days := mustUsage(t, s, tn.ID, t0, t0)
	want := faaspot.UsageDay{Date: "2025-03-01", Runs: faaspot.UsageRuns{Completed: 1},
		WallSeconds: 1.5, CPUSeconds: 0.25, GBSeconds: 0.1875}
	if len(days) != 1 || days[0] != want {
		t.Errorf("usage = %+v, want %+v", days, want)
	}
	if got, _ := s.GetExecution(ctx, tn.ID, e.ID); got.Status != faaspot.ExecCompleted || got.Usage == nil || got.Usage.WallMS != 1500 {
		t.Errorf("record = %+v, want the first outcome with its usage", got)
	}
	if ttl := s.mr.TTL(s.TenantKey(tn.ID, "usage:2025-03-01")); ttl != 400*24*time.Hour {
		t.Errorf("TTL of the day's usage = %v, want 400 days", ttl)
	}
	if d := mustUsage(t, s, other.ID, t0, t0); d[0].Runs != (faaspot.UsageRuns{}) {
		t.Errorf("another tenant's usage = %+v, want none", d[0])
	}
}

// TestUsageOfARetriedRun: a retried run counts once, when it ends (here as a dead letter), with
// the resources its record carries for all its attempts; scheduling the retry counts nothing.
func TestUsageOfARetriedRun(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock(t0)
	s := mustOpenStore(t, store.Options{Now: clock.Now})
	tn, _ := mustCreateTenant(t, s, "acme")
	e := mustEnqueue(t, s, tn.ID, queued("fn", t0))
	job := mustNextJob(t, s, store.Runs, "w")
	e.Attempts = 1
	e.Usage = &faaspot.ExecUsage{WallMS: 100, CPUMS: 50, GBSeconds: 0.0125}
	if err := s.RetryLater(ctx, job, e, t0); err != nil {
		t.Fatal(err)
	}
	if d := mustUsage(t, s, tn.ID, t0, t0); d[0] != (faaspot.UsageDay{Date: "2025-03-01"}) {
		t.Errorf("usage after the first attempt = %+v, want none yet", d[0])
	}
	if n, err := s.ReleaseDue(ctx, t0); err != nil || n != 1 {
		t.Fatalf("ReleaseDue = %d, %v", n, err)
	}
	again := mustNextJob(t, s, store.Runs, "w")
	e.Attempts = 2
	if err := s.FinishDead(ctx, again, ended(e, faaspot.ExecTimeout, 300, 150, 0.0375)); err != nil {
		t.Fatal(err)
	}
	want := faaspot.UsageDay{Date: "2025-03-01", Runs: faaspot.UsageRuns{Timeout: 1},
		WallSeconds: 0.3, CPUSeconds: 0.15, GBSeconds: 0.0375}
	if d := mustUsage(t, s, tn.ID, t0, t0); d[0] != want {
		t.Errorf("usage = %+v, want %+v", d[0], want)
	}
}

// TestUsageDaysAreUTC: a run counts on the UTC day its record is written, whatever the clock's
// zone; days without use are listed; a range backwards or over MaxUsageDays is refused naming "to".
func TestUsageDaysAreUTC(t *testing.T) {
	ctx := context.Background()
	east := time.FixedZone("UTC+5", 5*3600)
	clock := newTestClock(time.Date(2025, 3, 2, 4, 59, 59, 0, east)) // 2025-03-01 23:59:59 UTC
	s := mustOpenStore(t, store.Options{Now: clock.Now})
	tn, _ := mustCreateTenant(t, s, "acme")
	for _, st := range []faaspot.ExecStatus{faaspot.ExecCompleted, faaspot.ExecFailed} {
		e := mustEnqueue(t, s, tn.ID, queued("fn", t0))
		if err := s.FinishRun(ctx, mustNextJob(t, s, store.Runs, "w"), ended(e, st, 1000, 0, 0)); err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Second) // the second ends on 2025-03-02 UTC
	}
	days := mustUsage(t, s, tn.ID, time.Date(2025, 2, 28, 23, 0, 0, 0, time.UTC), time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC))
	want := []faaspot.UsageDay{
		{Date: "2025-02-28"},
		{Date: "2025-03-01", Runs: faaspot.UsageRuns{Completed: 1}, WallSeconds: 1},
		{Date: "2025-03-02", Runs: faaspot.UsageRuns{Failed: 1}, WallSeconds: 1},
		{Date: "2025-03-03"},
	}
	if len(days) != len(want) {
		t.Fatalf("days = %+v, want %+v", days, want)
	}
	for i := range want {
		if days[i] != want[i] {
			t.Errorf("day %d = %+v, want %+v", i, days[i], want[i])
		}
	}
	for _, r := range [][2]time.Time{{t0, t0.AddDate(0, 0, -1)}, {t0, t0.AddDate(0, 0, store.MaxUsageDays)}} {
		_, err := s.Usage(ctx, tn.ID, r[0], r[1])
		var fe *faaspot.Error
		if !errors.As(err, &fe) || fe.Code != faaspot.ECodeInvalid || fe.Field != "to" {
			t.Errorf("Usage(%v, %v) = %v, want invalid naming to", r[0], r[1], err)
		}
	}
	if d := mustUsage(t, s, tn.ID, t0, t0.AddDate(0, 0, store.MaxUsageDays-1)); len(d) != store.MaxUsageDays {
		t.Errorf("a range of MaxUsageDays gave %d days", len(d))
	}
}

// TestUsageOfBuilds: a build that ran counts once, with its time, when its outcome is recorded
// (failed ones also as failed); the outcome of a settled version again, or of a build that never
// ran, counts nothing.
func TestUsageOfBuilds(t *testing.T) {
	clock := newTestClock(t0)
	s := mustOpenStore(t, store.Options{Now: clock.Now})
	tn, _ := mustCreateTenant(t, s, "acme")
	mustPut(t, s, tn.ID, spec("fn", "v1", nil))
	job := mustNextJob(t, s, store.Builds, "w")
	mustFinishBuild(t, s, job, store.BuildOutcome{Image: "img:1", Duration: 2 * time.Second})
	mustFinishBuild(t, s, job, store.BuildOutcome{Image: "img:1", Duration: 5 * time.Second})
	mustPut(t, s, tn.ID, spec("fn", "v2", nil))
	mustPut(t, s, tn.ID, spec("fn", "v3", nil))
	mustFinishBuild(t, s, mustNextJob(t, s, store.Builds, "w"), store.BuildOutcome{Error: "superseded by version 3"})
	mustFinishBuild(t, s, mustNextJob(t, s, store.Builds, "w"), store.BuildOutcome{Error: "no main", Duration: 500 * time.Millisecond})
	want := faaspot.UsageDay{Date: "2025-03-01", Builds: 2, BuildsFailed: 1, BuildSeconds: 2.5}
	if d := mustUsage(t, s, tn.ID, t0, t0); d[0] != want {
		t.Errorf("usage = %+v, want %+v", d[0], want)
	}
}

// TestBytesStored: the bytes of the tenant's execution records and summaries, deployment and
// version records, and nothing of another tenant's.
func TestBytesStored(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	other, _ := mustCreateTenant(t, s, "other")
	if n, err := s.BytesStored(ctx, tn.ID); err != nil || n != 0 {
		t.Errorf("BytesStored of a new tenant = %d, %v; want 0", n, err)
	}
	mustPut(t, s, tn.ID, spec("fn", "v1", nil))
	e := mustEnqueue(t, s, tn.ID, queued("fn", t0))
	mustEnqueue(t, s, other.ID, queued("fn", t0))
	p := s.TenantKey(tn.ID, "")
	var want int64
	for _, k := range []string{p + "exec:" + e.ID, p + "sum:" + e.ID, p + "dep:fn"} {
		v, err := s.rdb.StrLen(ctx, k).Result()
		if err != nil || v == 0 {
			t.Fatalf("STRLEN %s = %d, %v", k, v, err)
		}
		want += v
	}
	vers, _ := s.rdb.HVals(ctx, p+"vers:fn").Result()
	for _, v := range vers {
		want += int64(len(v))
	}
	if n, err := s.BytesStored(ctx, tn.ID); err != nil || n != want || len(vers) != 1 {
		t.Errorf("BytesStored = %d, %v; want %d (with %d version records)", n, err, want, len(vers))
	}
}

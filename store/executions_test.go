package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

func queued(dep string, created time.Time) faaspot.Execution {
	return faaspot.Execution{ID: store.NewID(), Deployment: dep, Version: 1, Status: faaspot.ExecQueued,
		Args: json.RawMessage(`{"a":1}`), CreatedAt: created.UTC()}
}

func mustEnqueue(tb testing.TB, s *testStore, tid string, e faaspot.Execution) faaspot.Execution {
	tb.Helper()
	if err := s.EnqueueRun(context.Background(), tid, e, 0, true); err != nil {
		tb.Fatalf("EnqueueRun: %v", err)
	}
	return e
}

func TestRunLifecycle(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{ResultTTL: time.Hour})
	tn, _ := mustCreateTenant(t, s, "acme")
	e := mustEnqueue(t, s, tn.ID, queued("fn", time.Now()))

	got, err := s.GetExecution(ctx, tn.ID, e.ID)
	if err != nil || got.Status != faaspot.ExecQueued || got.Terminal() || string(got.Args) != `{"a":1}` {
		t.Fatalf("queued record = %+v, %v", got, err)
	}
	job := mustNextJob(t, s, store.Runs, "w1")
	if job.Queue != store.Runs || job.Tenant != tn.ID || job.ID != e.ID || job.Enqueued.IsZero() {
		t.Fatalf("run job = %+v", job)
	}
	if job.String() != "run "+tn.ID+"/"+e.ID {
		t.Errorf("job.String() = %q", job.String())
	}

	started := time.Now().UTC()
	got.Status, got.StartedAt = faaspot.ExecRunning, &started
	if err := s.MarkRunning(ctx, tn.ID, got); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.GetExecution(ctx, tn.ID, e.ID); r.Status != faaspot.ExecRunning || r.Terminal() {
		t.Errorf("running record = %+v", r)
	}

	finished := time.Now().UTC()
	code := 0
	got.Status, got.FinishedAt, got.ExitCode = faaspot.ExecCompleted, &finished, &code
	got.Result, got.Stdout = json.RawMessage(`{"x":1}`), "printed\n"

	waited := make(chan bool, 1)
	go func() {
		_, done, err := s.WaitExecution(ctx, tn.ID, e.ID, 5*time.Second)
		if err != nil {
			t.Errorf("WaitExecution: %v", err)
		}
		waited <- done
	}()
	time.Sleep(20 * time.Millisecond) // let the waiter block first (a later waiter is tested below)
	if err := s.FinishRun(ctx, job, got); err != nil {
		t.Fatal(err)
	}
	select {
	case done := <-waited:
		if !done {
			t.Error("WaitExecution reported a timeout")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("FinishRun did not wake the waiter")
	}

	final, err := s.GetExecution(ctx, tn.ID, e.ID)
	if err != nil || !final.Terminal() || final.Status != faaspot.ExecCompleted || string(final.Result) != `{"x":1}` ||
		final.Stdout != "printed\n" || final.ExitCode == nil || *final.ExitCode != 0 {
		t.Errorf("terminal record = %+v, %v", final, err)
	}
	if ttl := s.mr.TTL("fs:t:" + tn.ID + ":exec:" + e.ID); ttl <= 0 || ttl > time.Hour {
		t.Errorf("terminal record TTL = %v, want the result TTL (1h)", ttl)
	}
	if ttl := s.mr.TTL("fs:t:" + tn.ID + ":done:" + e.ID); ttl < 0 {
		t.Errorf("notification TTL = %v, want one set", ttl)
	}
	if p, err := s.rdb.XPending(ctx, "fs:q:runs:"+tn.ID, "workers").Result(); err != nil || p.Count != 0 {
		t.Errorf("pending runs = %+v, %v; want acknowledged", p, err)
	}
	if n, _ := s.QueueDepth(ctx, store.Runs); n != 0 {
		t.Errorf("queue depth = %d, want 0", n)
	}
}

func TestWaitExecution(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	e := mustEnqueue(t, s, tn.ID, queued("fn", time.Now()))
	job := mustNextJob(t, s, store.Runs, "w1")

	t.Run("times out while running", func(t *testing.T) {
		start := time.Now()
		_, done, err := s.WaitExecution(ctx, tn.ID, e.ID, 10*time.Millisecond) // raised to the 1 s minimum
		if done || err != nil {
			t.Errorf("WaitExecution = %v, %v; want false, nil", done, err)
		}
		if d := time.Since(start); d < 900*time.Millisecond {
			t.Errorf("returned after %v, before the 1 s minimum", d)
		}
	})
	t.Run("waiter arriving after the end", func(t *testing.T) {
		e.Status = faaspot.ExecFailed
		e.Error = &faaspot.ExecError{Type: "ValueError", Message: "boom"}
		if err := s.FinishRun(ctx, job, e); err != nil {
			t.Fatal(err)
		}
		_, done, err := s.WaitExecution(ctx, tn.ID, e.ID, time.Second)
		if !done || err != nil {
			t.Errorf("WaitExecution after FinishRun = %v, %v; want true", done, err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, done, err := s.WaitExecution(cctx, tn.ID, "never", 10*time.Second)
		elapsed := time.Since(start)
		// The wait gives up within one slice (1 s) of the cancellation, not after its timeout.
		if elapsed > 1500*time.Millisecond {
			t.Errorf("WaitExecution took %v to notice the cancellation", elapsed)
		}
		if done || !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("WaitExecution with a cancelled context = %v, %v after %v; want context.Canceled", done, err, elapsed)
		}
	})
}

func TestListExecutions(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	t0 := time.Now().Add(-time.Hour)
	e1 := mustEnqueue(t, s, tn.ID, queued("alpha", t0))
	e2 := mustEnqueue(t, s, tn.ID, queued("beta", t0.Add(time.Second)))
	e3 := mustEnqueue(t, s, tn.ID, queued("alpha", t0.Add(2*time.Second)))
	e4 := mustEnqueue(t, s, tn.ID, queued("beta", t0.Add(3*time.Second)))

	tests := []struct {
		name       string
		deployment string
		limit      int
		want       []string
	}{
		{name: "all, newest first", limit: 10, want: []string{e4.ID, e3.ID, e2.ID, e1.ID}},
		{name: "one deployment", deployment: "alpha", limit: 10, want: []string{e3.ID, e1.ID}},
		{name: "other deployment", deployment: "beta", limit: 10, want: []string{e4.ID, e2.ID}},
		{name: "limit", limit: 2, want: []string{e4.ID, e3.ID}},
		{name: "limit with a deployment", deployment: "alpha", limit: 1, want: []string{e3.ID}},
		{name: "unknown deployment", deployment: "gamma", limit: 10, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := s.ListExecutions(ctx, tn.ID, tt.deployment, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if list == nil {
				t.Error("nil list: the API would answer null instead of []")
			}
			ids := []string{}
			for _, e := range list {
				ids = append(ids, e.ID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("ids = %v, want %v", ids, tt.want)
			}
		})
	}

	t.Run("expired records are skipped", func(t *testing.T) {
		s.mr.Del("fs:t:" + tn.ID + ":exec:" + e4.ID)
		list, err := s.ListExecutions(ctx, tn.ID, "", 10)
		if err != nil || len(list) != 3 || list[0].ID != e3.ID {
			t.Errorf("list = %+v, %v", list, err)
		}
	})
}

func TestListExecutionsKeepsOnlyRecent(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{ExecutionsKept: 2})
	tn, _ := mustCreateTenant(t, s, "acme")
	t0 := time.Now()
	var ids []string
	for i := range 4 {
		ids = append(ids, mustEnqueue(t, s, tn.ID, queued("fn", t0.Add(time.Duration(i)*time.Second))).ID)
	}
	list, err := s.ListExecutions(ctx, tn.ID, "", 10)
	if err != nil || len(list) != 2 || list[0].ID != ids[3] || list[1].ID != ids[2] {
		t.Errorf("list = %+v, %v; want the 2 newest", list, err)
	}
	if n, _ := s.rdb.ZCard(ctx, "fs:t:"+tn.ID+":execs").Result(); n != 2 {
		t.Errorf("index holds %d ids, want 2", n)
	}
}

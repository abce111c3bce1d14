package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// finishNext claims the tenant's next run and records it completed.
func finishNext(t *testing.T, s *testStore, e faaspot.Execution) {
	t.Helper()
	job := mustNextJob(t, s, store.Runs, "w")
	if job.ID != e.ID {
		t.Fatalf("claimed %s, want %s", job.ID, e.ID)
	}
	e.Status = faaspot.ExecCompleted
	if err := s.FinishRun(context.Background(), job, e); err != nil {
		t.Fatal(err)
	}
}

// keysOf returns the keys naming the execution id.
func keysOf(s *testStore, id string) []string {
	var out []string
	for _, k := range s.mr.Keys() {
		if strings.Contains(k, id) {
			out = append(out, k)
		}
	}
	return out
}

// TestTrimDeletesRecords: executions dropped from a tenant's index by newer ones are deleted
// with it — record, summary, the notification of their end — not left to wait for their TTL.
func TestTrimDeletesRecords(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{ExecutionsKept: 2})
	tn, _ := mustCreateTenant(t, s, "acme")
	now := time.Now()
	var es []faaspot.Execution
	for i := range 4 {
		e := mustEnqueue(t, s, tn.ID, queued("fn", now.Add(time.Duration(i)*time.Second)))
		finishNext(t, s, e)
		es = append(es, e)
	}
	for _, e := range es[:2] {
		if _, err := s.GetExecution(ctx, tn.ID, e.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("trimmed execution %s: GetExecution = %v, want ErrNotFound", e.ID, err)
		}
		if left := keysOf(s, e.ID); len(left) != 0 {
			t.Errorf("keys of trimmed execution %s remain: %v", e.ID, left)
		}
	}
	for _, e := range es[2:] {
		if _, err := s.GetExecution(ctx, tn.ID, e.ID); err != nil {
			t.Errorf("kept execution %s: %v", e.ID, err)
		}
	}
	if n, _ := s.rdb.ZCard(ctx, s.TenantKey(tn.ID, "execs")).Result(); n != 2 {
		t.Errorf("index holds %d ids, want 2", n)
	}
}

// TestTrimKeepsRunsInFlight: a queued or running execution is never trimmed — its worker would
// write the record again, outside any index — but once it has ended, the next enqueue trims it.
func TestTrimKeepsRunsInFlight(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{ExecutionsKept: 2})
	tn, _ := mustCreateTenant(t, s, "acme")
	now := time.Now()
	at := func(i int) time.Time { return now.Add(time.Duration(i) * time.Second) }
	e1 := mustEnqueue(t, s, tn.ID, queued("fn", at(1)))
	mustEnqueue(t, s, tn.ID, queued("fn", at(2)))
	mustEnqueue(t, s, tn.ID, queued("fn", at(3))) // e1, the oldest, is past the index but queued
	job := mustNextJob(t, s, store.Runs, "w")
	running := e1
	running.Status = faaspot.ExecRunning
	if err := s.MarkRunning(ctx, tn.ID, running); err != nil {
		t.Fatal(err)
	}
	mustEnqueue(t, s, tn.ID, queued("fn", at(4))) // e1 is running
	if got, err := s.GetExecution(ctx, tn.ID, e1.ID); err != nil || got.Status != faaspot.ExecRunning {
		t.Fatalf("running execution past the index: %+v, %v; want kept", got, err)
	}
	list, _, err := s.ListExecutions(ctx, tn.ID, faaspot.ExecutionQuery{Limit: 10})
	if err != nil || len(list) != 4 || list[3].ID != e1.ID || list[3].Status != faaspot.ExecRunning {
		t.Errorf("list = %+v, %v; want the 4 executions in flight, e1 running", list, err)
	}
	e1.Status = faaspot.ExecCompleted
	if err := s.FinishRun(ctx, job, e1); err != nil {
		t.Fatal(err)
	}
	mustEnqueue(t, s, tn.ID, queued("fn", at(5)))
	if _, err := s.GetExecution(ctx, tn.ID, e1.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ended execution past the index: %v, want trimmed", err)
	}
	if left := keysOf(s, e1.ID); len(left) != 0 {
		t.Errorf("keys of trimmed execution remain: %v", left)
	}
	if n, _ := s.rdb.ZCard(ctx, s.TenantKey(tn.ID, "execs")).Result(); n != 4 {
		t.Errorf("index holds %d ids, want the 4 queued", n)
	}
}

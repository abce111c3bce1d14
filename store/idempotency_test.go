package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// TestIdempotencyKey: a run with a key seen for the tenant's deployment within the TTL gives the
// first execution and queues nothing; the key is scoped to the deployment and the tenant, and
// forgotten after the TTL. A keyed run always notifies waiters.
func TestIdempotencyKey(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{IdempotencyTTL: time.Hour})
	a, _ := mustCreateTenant(t, s, "acme")
	b, _ := mustCreateTenant(t, s, "other")
	keyed := func(dep string) faaspot.Execution {
		e := queued(dep, time.Now())
		e.IdempotencyKey = "order-42"
		return e
	}
	first := keyed("fn")
	if err := s.EnqueueRun(ctx, a.ID, first, 0, false); err != nil {
		t.Fatal(err)
	}
	var existing *faaspot.ExistingRunError
	if err := s.EnqueueRun(ctx, a.ID, keyed("fn"), 0, true); !errors.As(err, &existing) || existing.ID != first.ID {
		t.Fatalf("second run with the key = %v, want the first execution %s", err, first.ID)
	}
	if _, err := s.EnqueueOrPark(ctx, a.ID, keyed("fn"), 0, false); !errors.As(err, &existing) || existing.ID != first.ID {
		t.Errorf("EnqueueOrPark with the key = %v, want the first execution", err)
	}
	for _, tc := range []struct {
		name string
		tid  string
		dep  string
	}{{"another deployment", a.ID, "fn2"}, {"another tenant", b.ID, "fn"}} {
		if err := s.EnqueueRun(ctx, tc.tid, keyed(tc.dep), 0, false); err != nil {
			t.Errorf("%s, same key = %v, want a new run", tc.name, err)
		}
	}
	if n, _ := s.QueueDepth(ctx, store.Runs); n != 3 {
		t.Errorf("%d runs queued, want 3: the repeated key queued nothing", n)
	}
	job := mustNextJob(t, s, store.Runs, "w")
	if job.Sync || !job.Notify {
		t.Errorf("a keyed run queued without waiting: sync %v notify %v; want async, notifying waiters", job.Sync, job.Notify)
	}
	s.mr.FastForward(time.Hour + time.Second)
	if err := s.EnqueueRun(ctx, a.ID, keyed("fn"), 0, false); err != nil {
		t.Errorf("the key after its TTL = %v, want a new run", err)
	}
}

package store_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// miniredis measures a pending entry's idle time with its own clock (SetTime), the wall clock
// when none is set; these tests move that clock instead of sleeping.

// TestReclaim: a job is reclaimed at once when its consumer is dead (no heartbeat), or when it
// went untouched for minIdle though its consumer lives (the consumer lost track of it); never a
// job its live consumer touches, nor a finished one.
func TestReclaim(t *testing.T) {
	const minIdle = time.Second
	tests := []struct {
		name      string
		advance   time.Duration // how long the first consumer stays silent
		touch     bool          // whether it touches the job just before the reclaim
		acked     bool          // whether it finished the job
		dead      bool          // whether its heartbeat is gone
		reclaimed bool
	}{
		{name: "not idle long enough", advance: minIdle / 2},
		{name: "dead consumer, at once", dead: true, reclaimed: true},
		{name: "untouched by its live consumer", advance: 2 * minIdle, reclaimed: true},
		{name: "touched by a live consumer", advance: 2 * minIdle, touch: true},
		{name: "finished", advance: 2 * minIdle, acked: true},
		{name: "finished by a dead consumer", dead: true, acked: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := mustOpenStore(t, store.Options{})
			tn, _ := mustCreateTenant(t, s, "acme")
			now := time.Now()
			s.mr.SetTime(now)
			e := mustEnqueue(t, s, tn.ID, queued("fn", now))
			job := mustNextJob(t, s, store.Runs, "dead")

			mustHeartbeat(t, s, "alive")
			s.mr.SetTime(now.Add(tt.advance))
			if tt.dead {
				if err := s.Leave(ctx, "dead"); err != nil {
					t.Fatal(err)
				}
			}
			if tt.touch {
				if err := s.Touch(ctx, job, "dead"); err != nil {
					t.Fatalf("Touch: %v", err)
				}
			}
			if tt.acked {
				e.Status = faaspot.ExecCompleted
				if err := s.FinishRun(ctx, job, e); err != nil {
					t.Fatal(err)
				}
			}
			jobs, err := s.Reclaim(ctx, store.Runs, "alive", minIdle, 16)
			if err != nil {
				t.Fatalf("Reclaim: %v", err)
			}
			if !tt.reclaimed {
				if len(jobs) != 0 {
					t.Errorf("Reclaim = %+v, want none", jobs)
				}
				return
			}
			if len(jobs) != 1 || jobs[0].ID != e.ID || jobs[0].Tenant != tn.ID || jobs[0].EntryID != job.EntryID {
				t.Fatalf("Reclaim = %+v, want the job %+v", jobs, job)
			}
			// The dead consumer, come back, cannot take the job back.
			if err := s.Touch(ctx, job, "dead"); !errors.Is(err, store.ErrLost) {
				t.Errorf("Touch by the former owner = %v, want ErrLost", err)
			}
			if err := s.Touch(ctx, jobs[0], "alive"); err != nil {
				t.Errorf("Touch by the new owner = %v", err)
			}
			// Now delivered to "alive": a second reclaim right away finds nothing.
			if again, _ := s.Reclaim(ctx, store.Runs, "other", minIdle, 16); len(again) != 0 {
				t.Errorf("second Reclaim = %+v, want none", again)
			}
			// The new owner finishes it.
			e.Status = faaspot.ExecCompleted
			if err := s.FinishRun(ctx, jobs[0], e); err != nil {
				t.Fatal(err)
			}
			if p, _ := s.rdb.XPending(ctx, s.QueueKey("runs:")+tn.ID, "workers").Result(); p.Count != 0 {
				t.Errorf("pending after the reclaimed job finished = %d", p.Count)
			}
		})
	}
}

func TestReclaimBuilds(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	now := time.Now()
	s.mr.SetTime(now)
	mustPut(t, s, tn.ID, spec("fn", "code", nil))
	job := mustNextJob(t, s, store.Builds, "dead")
	s.mr.SetTime(now.Add(time.Minute))
	jobs, err := s.Reclaim(ctx, store.Builds, "alive", 30*time.Second, 16)
	if err != nil || len(jobs) != 1 || jobs[0].Name != "fn" || jobs[0].Version != 1 || jobs[0].EntryID != job.EntryID {
		t.Fatalf("Reclaim(builds) = %+v, %v", jobs, err)
	}
	if runs, _ := s.Reclaim(ctx, store.Runs, "alive", 30*time.Second, 16); len(runs) != 0 {
		t.Errorf("Reclaim(runs) = %+v: queues mixed", runs)
	}
}

func TestQueueDepth(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	depth := func(q store.Queue) int64 {
		t.Helper()
		n, err := s.QueueDepth(ctx, q)
		if err != nil {
			t.Fatalf("QueueDepth(%v): %v", q, err)
		}
		return n
	}
	if n := depth(store.Runs); n != 0 {
		t.Errorf("empty queue depth = %d", n)
	}
	var es []faaspot.Execution
	for range 3 {
		es = append(es, mustEnqueue(t, s, tn.ID, queued("fn", time.Now())))
	}
	steps := []struct {
		name string
		do   func()
		want int64
	}{
		{name: "three queued", do: func() {}, want: 3},
		{name: "one delivered", do: func() { mustNextJob(t, s, store.Runs, "w1") }, want: 2},
		{name: "another delivered and finished", do: func() {
			j := mustNextJob(t, s, store.Runs, "w2")
			if err := s.FinishRun(ctx, j, es[1]); err != nil {
				t.Fatal(err)
			}
		}, want: 1},
		{name: "builds are another queue", do: func() { mustPut(t, s, tn.ID, spec("fn", "c", nil)) }, want: 1},
	}
	for _, st := range steps {
		st.do()
		if n := depth(store.Runs); n != st.want {
			t.Errorf("%s: run queue depth = %d, want %d", st.name, n, st.want)
		}
	}
	if n := depth(store.Builds); n != 1 {
		t.Errorf("build queue depth = %d, want 1", n)
	}
}

func TestAck(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	mustEnqueue(t, s, tn.ID, queued("fn", time.Now()))
	job := mustNextJob(t, s, store.Runs, "w1")
	if err := s.Ack(ctx, job); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.rdb.XLen(ctx, s.QueueKey("runs:")+tn.ID).Result(); n != 0 {
		t.Errorf("stream length after Ack = %d, want the entry deleted", n)
	}
	if p, _ := s.rdb.XPending(ctx, s.QueueKey("runs:")+tn.ID, "workers").Result(); p.Count != 0 {
		t.Errorf("pending after Ack = %d", p.Count)
	}
}

// TestNextJobTimesOut runs in a synctest bubble: the block passes on its clock.
func TestNextJobTimesOut(t *testing.T) {
	for _, q := range []store.Queue{store.Builds, store.Runs} {
		t.Run(q.String(), func(t *testing.T) {
			skipOnCluster(t, bubbleReason)
			synctest.Test(t, func(t *testing.T) {
				s := mustOpenStore(t, store.Options{})
				start := time.Now()
				j, err := s.NextJob(t.Context(), q, "w1", 50*time.Millisecond)
				if j != nil || err != nil {
					t.Errorf("NextJob on an empty queue = %+v, %v; want nil, nil", j, err)
				}
				// Blocking pops count in whole seconds: a run claim may wait up to 1 s.
				if d := time.Since(start); d < 50*time.Millisecond || d > time.Second {
					t.Errorf("NextJob blocked %v, want from 50 ms to 1 s", d)
				}
			})
		})
	}
}

package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/sandbox"
	"github.com/faaspot/faaspot/store"
)

// blockingRun makes the next Run signal started and wait for release or the end of its context.
func blockingRun(tw *testWorkers) (started, release chan struct{}) {
	started, release = make(chan struct{}), make(chan struct{})
	tw.runner.results = append(tw.runner.results, func(ctx context.Context, _ sandbox.Request) (sandbox.Result, error) {
		close(started)
		select {
		case <-release:
			return sandbox.Result{Outcome: sandbox.Completed}, nil
		case <-ctx.Done():
			return sandbox.Result{}, fmt.Errorf("%w: %w", sandbox.ErrEngine, ctx.Err())
		}
	})
	return started, release
}

func TestHandleKeepsJobAlive(t *testing.T) {
	tests := []struct {
		name     string
		touchErr error
		finished bool
	}{
		{name: "touched while it runs", finished: true},
		{name: "touch failing transiently keeps it", touchErr: fmt.Errorf("%w: timeout", faaspot.ErrUnavailable), finished: true},
		{name: "reclaimed by another worker: abandoned here", touchErr: fmt.Errorf("run t1/e1: %w", store.ErrLost)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			withRun(tw)
			tw.store.touchErr = tt.touchErr
			tw.store.touched = make(chan struct{})
			started, release := blockingRun(tw)
			done := make(chan struct{})
			go func() { defer close(done); tw.handle(runJob("e1")) }()
			await(t, started, "the run to start")
			every := tw.set.reclaimIdle / 4
			tw.clock.waitFor(t, every)
			tw.clock.Advance(every)
			await(t, tw.store.touched, "a touch")
			if tt.finished {
				// The run goes on: the next tick touches it again, then it finishes.
				tw.clock.Advance(every)
				await(t, tw.store.touched, "a second touch")
				close(release)
			}
			await(t, done, "the job to end")
			acked, _, finished := tw.store.snapshot()
			if tt.finished != (len(finished) == 1) || tt.finished != (len(acked) == 1) {
				t.Errorf("records %d, acked %d; want finished %v", len(finished), len(acked), tt.finished)
			}
			wantTouches := 1
			if tt.finished {
				wantTouches = 2
			}
			if n := tw.calls.count("store.Touch"); n != wantTouches {
				t.Errorf("touched %d times, want %d", n, wantTouches)
			}
			if lines := tw.logs.lines(`msg="job failed; left pending for retry"`); len(lines) != 0 {
				t.Errorf("logged %q: neither a finished job nor one abandoned to another worker failed", lines)
			}
		})
	}
}

func TestHandleObservesQueueWait(t *testing.T) {
	tests := []struct {
		name   string
		job    func(now time.Time) store.Job
		queue  string
		waited float64
	}{
		{name: "run", queue: "runs", waited: 3, job: func(now time.Time) store.Job {
			j := runJob("e1")
			j.Enqueued = now.Add(-3 * time.Second)
			return j
		}},
		{name: "build", queue: "builds", waited: 0.5, job: func(now time.Time) store.Job {
			j := buildJob(2)
			j.Enqueued = now.Add(-500 * time.Millisecond)
			return j
		}},
		{name: "unknown enqueue time is not observed", queue: "runs", job: func(time.Time) store.Job { return runJob("e1") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			withRun(tw)
			withBuild(tw)
			tw.store.deps["fn"] = faaspot.Deployment{ID: "d1", Name: "fn", Version: 2, ReadyVersion: 1, Image: "img/d1:v1"}
			tw.handle(tt.job(tw.clock.Now()))
			got := tw.metric(t, "faaspot_queue_wait_seconds", tt.queue)
			wantCount := uint64(1)
			if tt.waited == 0 {
				wantCount = 0
			}
			if got.count != wantCount || got.sum != tt.waited {
				t.Errorf("queue_wait{%s} = %+v, want %d of %v s", tt.queue, got, wantCount, tt.waited)
			}
			if acked, _, _ := tw.store.snapshot(); len(acked) != 1 {
				t.Errorf("acked %d jobs, want 1", len(acked))
			}
		})
	}
}

func TestHandleLogsJobLeftPending(t *testing.T) {
	tests := []struct {
		name   string
		job    store.Job
		setup  func(tw *testWorkers)
		logged string // the job's name in the failure logged, "" for none
	}{
		{name: "build whose deployment cannot be read", job: buildJob(2), logged: `job="build t1/fn v2"`,
			setup: func(tw *testWorkers) {
				withBuild(tw)
				tw.store.getErr = fmt.Errorf("get deployment: %w", faaspot.ErrUnavailable)
			}},
		{name: "run recorded: nothing logged", job: runJob("e1"), setup: withRun},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			tt.setup(tw)
			tw.handle(tt.job)
			acked, _, _ := tw.store.snapshot()
			if (len(acked) == 0) != (tt.logged != "") {
				t.Errorf("acked %d jobs; want the job pending exactly when it failed", len(acked))
			}
			lines := tw.logs.lines("level=ERROR", `msg="job failed; left pending for retry"`)
			if tt.logged == "" {
				if len(lines) != 0 {
					t.Errorf("logged %q for a job that succeeded", lines)
				}
				return
			}
			if len(lines) != 1 || !strings.Contains(lines[0], tt.logged) || !strings.Contains(lines[0], faaspot.ErrUnavailable.Error()) {
				t.Errorf("logged %q; want one failure naming %s and the store's error", lines, tt.logged)
			}
		})
	}
}

func TestLoopRetriesAfterReadError(t *testing.T) {
	tw := newTestWorkers(t)
	withRun(tw)
	tw.store.next = make(chan nextJob)
	soft, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); tw.loop(soft, store.Runs) }()

	tw.store.next <- nextJob{err: fmt.Errorf("%w: connection refused", faaspot.ErrUnavailable)}
	tw.clock.waitFor(t, readRetry) // backs off rather than spin on a broken store
	tw.clock.Advance(readRetry)
	job := runJob("e1")
	tw.store.next <- nextJob{job: &job}
	tw.store.next <- nextJob{} // taken only once the job is handled: one job at a time
	if _, _, finished := tw.store.snapshot(); len(finished) != 1 || finished[0].Status != faaspot.ExecCompleted {
		t.Errorf("records = %+v, want the job run", finished)
	}
	stop()
	await(t, done, "the loop to stop")
	if n := tw.calls.count("store.NextJob"); n < 3 {
		t.Errorf("NextJob called %d times, want at least 3", n)
	}
}

func TestReclaimLoop(t *testing.T) {
	tw := newTestWorkers(t)
	withRun(tw)
	tw.store.reclaims[store.Runs] = []store.Job{runJob("e1")}
	soft, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	var inflight sync.WaitGroup
	go func() { defer close(done); tw.reclaimLoop(soft, &inflight); inflight.Wait() }()

	every := tw.set.reclaimIdle / 3
	tw.clock.waitFor(t, every)
	if n := tw.calls.count("store.Reclaim runs"); n != 0 {
		t.Fatalf("reclaimed before the first wait: %s", tw.calls)
	}
	tw.clock.Advance(every)
	tw.clock.waitFor(t, every) // the pass is over: the loop waits again
	stop()
	await(t, done, "the loop to stop")
	if i, j := tw.calls.index("store.Reclaim builds"), tw.calls.index("store.Reclaim runs"); i < 0 || j < i {
		t.Errorf("want builds then runs reclaimed: %s", tw.calls)
	}
	if !slices.Equal(tw.store.minIdle, []time.Duration{tw.set.reclaimIdle, tw.set.reclaimIdle}) {
		t.Errorf("reclaimed jobs idle for %v, want %v", tw.store.minIdle, tw.set.reclaimIdle)
	}
	if !slices.Equal(tw.store.counts, []int64{2, 8}) {
		t.Errorf("reclaimed up to %v jobs, want the free slots of builds and runs [2 8]", tw.store.counts)
	}
	if _, _, finished := tw.store.snapshot(); len(finished) != 1 || finished[0].ID != "e1" {
		t.Errorf("records = %+v, want the reclaimed job run", finished)
	}
}

func TestReclaimLoopGoesOnAfterFailure(t *testing.T) {
	tests := []struct {
		name  string
		fails store.Queue // the queue whose reclaim fails
		setup func(tw *testWorkers)
		run   bool // the other queue's job is a run (else a build)
	}{
		{name: "builds queue fails: runs still reclaimed", fails: store.Builds, run: true, setup: func(tw *testWorkers) {
			withRun(tw)
			tw.store.reclaims[store.Runs] = []store.Job{runJob("e1")}
		}},
		{name: "runs queue fails: builds still reclaimed", fails: store.Runs, setup: func(tw *testWorkers) {
			withBuild(tw)
			tw.store.reclaims[store.Builds] = []store.Job{buildJob(2)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			tt.setup(tw)
			tw.store.reclaimErr = map[store.Queue]error{tt.fails: fmt.Errorf("%w: timeout", faaspot.ErrUnavailable)}
			soft, stop := context.WithCancel(t.Context())
			done := make(chan struct{})
			var inflight sync.WaitGroup
			go func() { defer close(done); tw.reclaimLoop(soft, &inflight); inflight.Wait() }()
			every := tw.set.reclaimIdle / 3
			tw.clock.waitFor(t, every)
			tw.clock.Advance(every)
			tw.clock.waitFor(t, every) // the pass is over: the loop waits again
			stop()
			await(t, done, "the loop to stop")
			if tw.calls.count("store.Reclaim builds") != 1 || tw.calls.count("store.Reclaim runs") != 1 {
				t.Errorf("want each queue reclaimed once: %s", tw.calls)
			}
			_, outcomes, finished := tw.store.snapshot()
			if (tt.run && (len(finished) != 1 || finished[0].ID != "e1")) || (!tt.run && len(outcomes) != 1) {
				t.Errorf("records %+v, build outcomes %+v; want the other queue's job done", finished, outcomes)
			}
			warned := tw.logs.lines("level=WARN", "msg=reclaim", "queue="+tt.fails.String(), "store unavailable")
			if len(warned) != 1 || len(tw.logs.lines("msg=reclaim")) != 1 {
				t.Errorf("want one failure logged, for the %s queue:\n%s", tt.fails, tw.logs)
			}
		})
	}
}

func TestStartStopsWithGrace(t *testing.T) {
	tests := []struct {
		name     string
		finishes bool // the in-flight run ends within the grace period
	}{
		{name: "in-flight run finishes within the grace period", finishes: true},
		{name: "in-flight run past the grace period is left pending"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			withRun(tw)
			tw.set.runWorkers, tw.set.buildWorkers = 2, 1
			tw.builder.sweeps = make(chan struct{}, 1)
			tw.store.next = make(chan nextJob)
			started, release := blockingRun(tw)
			soft, stop := context.WithCancel(t.Context())
			done := tw.start(soft)
			<-tw.builder.sweeps // the janitor's first pass
			job := runJob("e1")
			tw.store.next <- nextJob{job: &job}
			await(t, started, "the run to start")
			stop()
			tw.clock.waitFor(t, tw.set.stopGrace)
			select {
			case <-done:
				t.Fatal("workers stopped with a run in flight")
			default:
			}
			if tt.finishes {
				close(release)
			} else {
				tw.clock.Advance(tw.set.stopGrace)
			}
			await(t, done, "the workers to stop")
			acked, _, finished := tw.store.snapshot()
			if tt.finishes != (len(finished) == 1) || tt.finishes != (len(acked) == 1) {
				t.Errorf("records %d, acked %d; want finished %v", len(finished), len(acked), tt.finishes)
			}
			if tw.hard.Err() == nil {
				t.Error("the hard context outlived the workers")
			}
		})
	}
}

func TestStartWithoutJanitor(t *testing.T) {
	tw := newTestWorkers(t)
	tw.set.janitorInterval = 0
	tw.store.next = make(chan nextJob)
	soft, stop := context.WithCancel(t.Context())
	done := tw.start(soft)
	tw.clock.waitFor(t, tw.set.reclaimIdle/3)
	stop()
	await(t, done, "the workers to stop")
	if n := tw.calls.count("builder.Owned"); n != 0 {
		t.Errorf("janitor ran %d passes with no interval set", n)
	}
	if !errors.Is(tw.hard.Err(), context.Canceled) {
		t.Errorf("hard context = %v after stop, want cancelled", tw.hard.Err())
	}
}

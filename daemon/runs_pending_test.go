package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/sandbox"
)

func TestRunLeftPending(t *testing.T) {
	unavailable := func(what string) error { return fmt.Errorf("%s: %w", what, faaspot.ErrUnavailable) }
	tests := []struct {
		name    string
		setup   func(tw *testWorkers, started chan<- struct{})
		want    error
		reached string // the call that failed (or was cut short)
		runs    int    // sandbox runs
	}{
		{name: "shutdown mid-run", want: context.Canceled, reached: "sandbox.Run", runs: 1,
			setup: func(tw *testWorkers, started chan<- struct{}) {
				tw.runner.results = append(tw.runner.results, func(ctx context.Context, _ sandbox.Request) (sandbox.Result, error) {
					close(started)
					<-ctx.Done()
					return sandbox.Result{}, fmt.Errorf("wait: %w: %w", sandbox.ErrEngine, ctx.Err())
				})
			}},
		{name: "store unavailable", want: faaspot.ErrUnavailable, reached: "store.RunInputs",
			setup: func(tw *testWorkers, started chan<- struct{}) {
				tw.store.inputsErr = unavailable("load run")
				close(started)
			}},
		{name: "store unavailable loading the context: not a ContextUnavailable run", want: faaspot.ErrUnavailable,
			reached: "store.LoadContext", setup: func(tw *testWorkers, started chan<- struct{}) {
				tw.store.contextErr = unavailable("load context")
				close(started)
			}},
		{name: "store unavailable reloading the deployment of a dropped context", want: faaspot.ErrUnavailable,
			reached: "store.RunTarget", setup: func(tw *testWorkers, started chan<- struct{}) {
				delete(tw.store.contexts, 1) // replaced by a redeploy: the reload finds the new version
				tw.store.getErr = unavailable("get deployment")
				close(started)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			withRun(tw)
			started := make(chan struct{})
			tt.setup(tw, started)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- tw.run(ctx, runJob("e1")) }()
			await(t, started, "the run to start")
			if errors.Is(tt.want, context.Canceled) {
				cancel()
			}
			err := await(t, errc, "the run to end")
			if !errors.Is(err, tt.want) || !strings.HasPrefix(err.Error(), "run t1/e1: ") {
				t.Fatalf("run = %v, want %v naming the job", err, tt.want)
			}
			acked, _, finished := tw.store.snapshot()
			if len(acked) != 0 || len(finished) != 0 {
				t.Errorf("acked %d, wrote %d records: the job must stay pending", len(acked), len(finished))
			}
			if tw.calls.count(tt.reached) == 0 || tw.calls.count("sandbox.Run") != tt.runs {
				t.Errorf("calls %s; want %s reached and %d runs", tw.calls, tt.reached, tt.runs)
			}
			if lines := tw.logs.lines(`msg="context unavailable"`); len(lines) != 0 {
				t.Errorf("a store failure was taken for an unreadable context: %q", lines)
			}
			for _, status := range []faaspot.ExecStatus{faaspot.ExecCompleted, faaspot.ExecFailed} {
				if got := tw.metric(t, "faaspot_executions_total", string(status)).value; got != 0 {
					t.Errorf("executions{%s} = %v for a run left pending", status, got)
				}
			}
		})
	}
}

func TestMarkRunningLater(t *testing.T) {
	tests := []struct {
		name    string
		slow    bool
		markErr error
	}{
		{name: "a slow run is marked running before its terminal record", slow: true},
		{name: "a fast run is never marked running"},
		{name: "marking running fails: the run completes all the same", slow: true,
			markErr: fmt.Errorf("mark running: %w", faaspot.ErrUnavailable)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			withRun(tw)
			tw.store.markErr = tt.markErr
			started, release := make(chan struct{}), make(chan struct{})
			tw.runner.results = append(tw.runner.results, func(ctx context.Context, _ sandbox.Request) (sandbox.Result, error) {
				close(started)
				select {
				case <-release:
					return sandbox.Result{Outcome: sandbox.Completed}, nil
				case <-ctx.Done():
					return sandbox.Result{}, ctx.Err()
				}
			})
			errc := make(chan error, 1)
			go func() { errc <- tw.run(t.Context(), runJob("e1")) }()
			await(t, started, "the run to start")
			tw.clock.waitFor(t, markRunningAfter)
			if tt.slow {
				tw.clock.Advance(markRunningAfter) // MarkRunning is called, and answered, here
			}
			close(release)
			if err := await(t, errc, "the run to end"); err != nil {
				t.Fatalf("run = %v", err)
			}
			tw.clock.Advance(time.Second) // the run is over: the timer must not write any more
			e := onlyRecord(t, tw)
			if e.Status != faaspot.ExecCompleted {
				t.Errorf("terminal record status %q, want completed", e.Status)
			}
			if !tt.slow {
				if n := tw.calls.count("store.MarkRunning"); n != 0 || tw.clock.pending(markRunningAfter) {
					t.Errorf("a fast run was marked running (%d)", n)
				}
				return
			}
			if n := tw.calls.count("store.MarkRunning"); n != 1 || tw.calls.index("store.MarkRunning") > tw.calls.index("store.FinishRun") {
				t.Errorf("want one MarkRunning before the terminal record: %s", tw.calls)
			}
			failed := tw.logs.lines("level=DEBUG", `msg="mark running"`, "execution=e1", "store unavailable")
			if tt.markErr != nil {
				if len(tw.store.marked) != 0 || len(failed) != 1 {
					t.Errorf("marked %+v, logged %q; want nothing marked and the failure logged once", tw.store.marked, failed)
				}
				return
			}
			if len(tw.store.marked) != 1 || len(failed) != 0 {
				t.Fatalf("marked running %d times (failures logged: %q), want 1", len(tw.store.marked), failed)
			}
			m := tw.store.marked[0]
			if m.Status != faaspot.ExecRunning || m.Version != 1 || m.StartedAt == nil || m.FinishedAt != nil {
				t.Errorf("running record = %+v", m)
			}
		})
	}
}

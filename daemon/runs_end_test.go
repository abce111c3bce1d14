package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/sandbox"
	"github.com/faaspot/faaspot/store"
)

// errImageMissing is the sandbox's error for an image missing on this node's engine.
var errImageMissing = fmt.Errorf("create container: %w: %w", sandbox.ErrEngine, cerrdefs.ErrNotFound)

// refusingStore is the fake store with a store's limit on records: FinishRun refuses, writing
// nothing, a record that refuse says is too large or invalid (as store.FinishRun does).
type refusingStore struct {
	*fakeStore
	refuse func(e faaspot.Execution) error
}

func (s *refusingStore) FinishRun(ctx context.Context, job store.Job, e faaspot.Execution) error {
	if err := s.refuse(e); err != nil {
		s.log.add("store.FinishRun refused")
		return fmt.Errorf("encode execution: %w", err)
	}
	return s.fakeStore.FinishRun(ctx, job, e)
}

// tooLargeOver refuses records whose JSON is over n bytes.
func tooLargeOver(n int) func(faaspot.Execution) error {
	return func(e faaspot.Execution) error {
		if b, _ := json.Marshal(e); len(b) > n {
			return store.ErrRecordTooLarge
		}
		return nil
	}
}

// TestRunOutcomeTooLargeToStore (issue 9, item 3): when the store refuses the terminal record,
// the worker records a smaller failure in its place (RecordTooLarge, or StoreError for a record
// that cannot be encoded), dropping the result, output and error, the arguments too when even
// that is refused; the job is acknowledged by it. A store that cannot be reached leaves the job
// pending, nothing written.
func TestRunOutcomeTooLargeToStore(t *testing.T) {
	huge := strings.Repeat("E", 100_000)
	tests := []struct {
		name     string
		res      sandbox.Result
		refuse   func(faaspot.Execution) error
		errType  string // "" when nothing may be written
		message  string
		attempts int
		noArgs   bool
	}{
		{name: "huge exception", res: sandbox.Result{Outcome: sandbox.Failed, Stdout: "printed",
			Error: &sandbox.FuncError{Type: "ValueError", Message: huge, Traceback: huge}},
			refuse: tooLargeOver(10_000), errType: errTypeRecordTooLarge, message: "the run ended (failed with ValueError)", attempts: 2},
		{name: "huge result", res: sandbox.Result{Outcome: sandbox.Completed, Value: json.RawMessage(`"` + huge + `"`)},
			refuse: tooLargeOver(10_000), errType: errTypeRecordTooLarge, message: "the run ended (completed)", attempts: 2},
		{name: "record not encodable", res: sandbox.Result{Outcome: sandbox.Completed, Value: json.RawMessage(`{bad`)},
			refuse: func(e faaspot.Execution) error {
				if e.Result != nil && !json.Valid(e.Result) {
					return store.ErrRecordInvalid
				}
				return nil
			}, errType: errTypeStoreError, message: "could not be encoded", attempts: 2},
		{name: "even the smaller record refused: the arguments go too", res: sandbox.Result{Outcome: sandbox.Completed},
			refuse: func(e faaspot.Execution) error {
				if e.Args != nil {
					return store.ErrRecordTooLarge
				}
				return nil
			}, errType: errTypeRecordTooLarge, attempts: 3, noArgs: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			withRun(tw)
			tw.runs = &refusingStore{fakeStore: tw.store, refuse: tt.refuse}
			tw.runner.results = append(tw.runner.results, result(tt.res))
			err := tw.run(t.Context(), runJob("e1"))
			if n := tw.calls.count("store.FinishRun refused") + tw.calls.count("store.FinishRun"); n != tt.attempts {
				t.Errorf("%d attempts to store the outcome, want %d (calls: %s)", n, tt.attempts, tw.calls)
			}
			if tt.errType == "" {
				acked, _, finished := tw.store.snapshot()
				if err == nil || len(finished)+len(acked) != 0 {
					t.Errorf("run = %v with %d records, %d acks; want an error, the job left pending", err, len(finished), len(acked))
				}
				return
			}
			if err != nil {
				t.Fatalf("run = %v", err)
			}
			e := onlyRecord(t, tw)
			if e.Status != faaspot.ExecFailed || e.Error == nil || e.Error.Type != tt.errType || !strings.Contains(e.Error.Message, tt.message) {
				t.Fatalf("record %s, error %+v; want failed %s %q", e.Status, e.Error, tt.errType, tt.message)
			}
			if e.Result != nil || e.Stdout != "" || e.Error.Traceback != "" || e.FinishedAt == nil || e.StdoutTruncated != (tt.res.Stdout != "") {
				t.Errorf("record = %+v; want the result, output and traceback dropped, the output flagged", e)
			}
			if (e.Args == nil) != tt.noArgs {
				t.Errorf("args = %s, dropped: want %v", e.Args, tt.noArgs)
			}
			if len(tw.logs.lines("level=ERROR", "could not be stored")) == 0 {
				t.Error("the refused record is not logged")
			}
		})
	}
}

// TestRunErrorFlagsReachTheRecord: the sandbox's truncation flags of an error are recorded.
func TestRunErrorFlagsReachTheRecord(t *testing.T) {
	tw := newTestWorkers(t)
	withRun(tw)
	tw.runner.results = append(tw.runner.results, result(sandbox.Result{Outcome: sandbox.Failed,
		Error: &sandbox.FuncError{Type: "ValueError", Message: "EEE", Traceback: "T", MessageTruncated: true, TracebackTruncated: true}}))
	if err := tw.run(t.Context(), runJob("e1")); err != nil {
		t.Fatalf("run = %v", err)
	}
	if e := onlyRecord(t, tw); e.Error == nil || !e.Error.MessageTruncated || !e.Error.TracebackTruncated {
		t.Errorf("error = %+v, want both truncation flags", e.Error)
	}
}

// TestRunAlwaysEnds (issue 9, item 3): a sandbox that does not return within the run's timeout
// plus runGrace is cancelled and the run recorded failed (EngineTimeout); one that ignores the
// cancellation is abandoned abandonAfter later, the run recorded all the same. A run whose job
// ends meanwhile (shutdown) is left pending.
func TestRunAlwaysEnds(t *testing.T) {
	timeout := time.Duration(DefaultConfig().DefaultTimeout) * time.Second
	tests := []struct {
		name      string
		honoursCx bool
		shutdown  bool
	}{
		{name: "sandbox stuck, honours its context", honoursCx: true},
		{name: "sandbox stuck, ignores its context"},
		{name: "worker shutting down", honoursCx: true, shutdown: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			withRun(tw)
			stuck := make(chan struct{})
			t.Cleanup(func() { close(stuck) })
			tw.runner.results = append(tw.runner.results, func(ctx context.Context, _ sandbox.Request) (sandbox.Result, error) {
				if tt.honoursCx {
					select {
					case <-ctx.Done():
						return sandbox.Result{}, ctx.Err()
					case <-stuck:
					}
				}
				<-stuck
				return sandbox.Result{}, errors.New("released")
			})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- tw.run(ctx, runJob("e1")) }()
			tw.clock.waitFor(t, timeout+runGrace)
			if tt.shutdown {
				cancel()
				if err := await(t, done, "the run"); !errors.Is(err, context.Canceled) {
					t.Fatalf("run = %v, want the job left pending", err)
				}
				if _, _, finished := tw.store.snapshot(); len(finished) != 0 {
					t.Errorf("wrote %d records, want none", len(finished))
				}
				return
			}
			tw.clock.Advance(timeout + runGrace)
			if !tt.honoursCx {
				tw.clock.waitFor(t, abandonAfter)
				tw.clock.Advance(abandonAfter)
			}
			if err := await(t, done, "the run"); err != nil {
				t.Fatalf("run = %v", err)
			}
			e := onlyRecord(t, tw)
			if e.Status != faaspot.ExecFailed || e.Error == nil || e.Error.Type != errTypeEngineTimeout || e.Error.Message != msgRunOverdue {
				t.Errorf("record %s, error %+v; want failed EngineTimeout", e.Status, e.Error)
			}
		})
	}
}

// TestFinishRetries: a terminal record the store cannot take for a passing failure is written
// again with backoff until it is taken (the function ran once, one record, the job acknowledged);
// a node that stops meanwhile leaves the job pending.
func TestFinishRetries(t *testing.T) {
	for _, stops := range []bool{false, true} {
		t.Run(fmt.Sprintf("node stops %v", stops), func(t *testing.T) {
			tw := newTestWorkers(t)
			withRun(tw)
			hard, stop := context.WithCancel(t.Context())
			defer stop()
			tw.workers.hard = hard
			tw.store.finishErr, tw.store.finishFails = fmt.Errorf("finish run: %w", faaspot.ErrUnavailable), 3
			errc := make(chan error, 1)
			go func() { errc <- tw.run(t.Context(), runJob("e1")) }()
			for _, wait := range []time.Duration{finishRetryFirst, 2 * finishRetryFirst, 4 * finishRetryFirst} {
				tw.clock.waitFor(t, wait) // backs off, doubling
				if stops {
					stop()
					break
				}
				tw.clock.Advance(wait)
			}
			err := await(t, errc, "the run to end")
			acked, _, finished := tw.store.snapshot()
			if stops {
				if err == nil || len(acked) != 0 {
					t.Errorf("run = %v, acked %d; want an error and the job pending", err, len(acked))
				}
				return
			}
			if err != nil || len(finished) != 1 || len(acked) != 1 || tw.calls.count("sandbox.Run") != 1 {
				t.Errorf("run = %v, %d records, %d acks, %d runs; want one of each", err, len(finished), len(acked), tw.calls.count("sandbox.Run"))
			}
			if n := tw.calls.count("store.FinishRun"); n != 4 {
				t.Errorf("%d attempts to record, want 4", n)
			}
			if lines := tw.logs.lines("level=WARN", "retrying until it does", "attempt=1"); len(lines) != 1 {
				t.Errorf("want the first failure logged once:\n%s", tw.logs)
			}
		})
	}
}

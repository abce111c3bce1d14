package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// TestFinishRunBoundsRecords: a terminal record over store.MaxExecutionBytes, or one that is not
// JSON, is refused (ErrRecordTooLarge, ErrRecordInvalid) with nothing written and the job left
// pending, so that the worker can store a smaller one, which acknowledges it.
func TestFinishRunBoundsRecords(t *testing.T) {
	big := strings.Repeat("E", store.MaxExecutionBytes)
	tests := []struct {
		name    string
		mutate  func(e *faaspot.Execution)
		wantErr error
	}{
		{name: "error message over the limit", wantErr: store.ErrRecordTooLarge,
			mutate: func(e *faaspot.Execution) { e.Error = &faaspot.ExecError{Type: "ValueError", Message: big} }},
		{name: "output over the limit", wantErr: store.ErrRecordTooLarge,
			mutate: func(e *faaspot.Execution) {
				e.Stdout, e.Stderr = big[:store.MaxExecutionBytes/2], big[:store.MaxExecutionBytes/2]
			}},
		{name: "result not JSON", wantErr: store.ErrRecordInvalid,
			mutate: func(e *faaspot.Execution) { e.Result = json.RawMessage(`{bad`) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := mustOpenStore(t, store.Options{})
			tn, _ := mustCreateTenant(t, s, "acme")
			e := mustEnqueue(t, s, tn.ID, queued("fn", t0))
			job := mustNextJob(t, s, store.Runs, "w1")
			e.Status = faaspot.ExecFailed
			tt.mutate(&e)
			err := s.FinishRun(ctx, job, e)
			got, gerr := s.GetExecution(ctx, tn.ID, e.ID)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("FinishRun = %v, want %v", err, tt.wantErr)
			}
			if gerr != nil || got.Status != faaspot.ExecQueued {
				t.Errorf("the refused record replaced the stored one: %v, %v", got.Status, gerr)
			}
			// The job is still pending: the smaller record the worker writes next acknowledges it.
			small := e
			small.Result, small.Stdout, small.Stderr = nil, "", ""
			small.Error = &faaspot.ExecError{Type: "RecordTooLarge", Message: "dropped"}
			if err := s.FinishRun(ctx, job, small); err != nil {
				t.Fatalf("FinishRun of the smaller record = %v", err)
			}
			if got, err := s.GetExecution(ctx, tn.ID, e.ID); err != nil || got.Error == nil || got.Error.Type != "RecordTooLarge" {
				t.Errorf("stored %+v, %v", got, err)
			}
		})
	}
}

// TestStoredRecordsNeverExceedTheLimit: every stored execution record, whatever wrote it, is
// within store.MaxExecutionBytes.
func TestStoredRecordsNeverExceedTheLimit(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	e := mustEnqueue(t, s, tn.ID, queued("fn", t0))
	e.Status, e.Stdout = faaspot.ExecRunning, strings.Repeat("x", store.MaxExecutionBytes)
	if err := s.MarkRunning(ctx, tn.ID, e); !errors.Is(err, store.ErrRecordTooLarge) {
		t.Errorf("MarkRunning of a huge record = %v, want ErrRecordTooLarge", err)
	}
	for _, k := range s.mr.Keys() {
		if v, err := s.mr.Get(k); err == nil && len(v) > store.MaxExecutionBytes {
			t.Errorf("%s holds %d bytes", k, len(v))
		}
	}
}

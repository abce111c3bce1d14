package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/metrics"
	"github.com/faaspot/faaspot/sandbox"
	"github.com/faaspot/faaspot/store"
)

// fakeDirect is a directQueue: it claims for the offering consumer unless claim is false, and
// records what was queued which way; with err set it refuses every run with it.
type fakeDirect struct {
	claim           bool
	err             error
	queued, claimed []string
}

func (f *fakeDirect) EnqueueRun(_ context.Context, _ string, e faaspot.Execution, _ int, sync bool) error {
	if f.err != nil {
		return f.err
	}
	f.queued = append(f.queued, e.ID)
	return nil
}

func (f *fakeDirect) EnqueueDirect(_ context.Context, tid string, e faaspot.Execution, _ int, consumer string) (*store.Job, error) {
	if f.err != nil {
		return nil, f.err
	}
	if !f.claim {
		f.queued = append(f.queued, e.ID)
		return nil, nil
	}
	f.claimed = append(f.claimed, e.ID+"@"+consumer)
	return &store.Job{Queue: store.Runs, EntryID: "9-0", Tenant: tid, ID: e.ID, Deployment: e.Deployment, Sync: true}, nil
}

// TestRunDirect: with an idle warm container of the ready version and a free worker, a sync run
// is claimed and run here, its terminal record handed back on a channel (and written,
// acknowledging the job, with no read of its inputs); without an idle container, a free
// worker, or when the store would not let it jump the queue, it is queued and left to wait.
func TestRunDirect(t *testing.T) {
	for _, tc := range []struct {
		name               string
		idle, slotsBusy    int
		claim, newerExists bool
		ran                bool
	}{
		{name: "runs here", idle: 1, claim: true, ran: true},
		{name: "no idle container", idle: 0, claim: true},
		{name: "no free worker", idle: 1, slotsBusy: 8, claim: true},
		{name: "the store queues it", idle: 1, claim: false},
		{name: "a newer version builds", idle: 1, claim: true, newerExists: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			withRun(tw)
			fd := &fakeDirect{claim: tc.claim}
			tw.direct, tw.soft = fd, t.Context()
			var asked []string
			tw.idle = func(key string) int { asked = append(asked, key); return tc.idle }
			for range tc.slotsBusy {
				tw.runSlots.tryAcquire()
			}
			tw.runner.results = append(tw.runner.results, result(sandbox.Result{Outcome: sandbox.Completed, Value: json.RawMessage(`7`)}))
			d := tw.store.deps["fn"]
			if tc.newerExists {
				d.Version = 2
			}
			e := tw.store.execs["e1"]
			ch, err := tw.RunDirect(t.Context(), testTenant, d, e, 0)
			if err != nil {
				t.Fatal(err)
			}
			if runs, _, _ := tw.runner.snapshot(); !tc.ran {
				if ch != nil || len(fd.queued) != 1 || len(fd.claimed) != 0 || len(runs) != 0 {
					t.Fatalf("direct %v; queued %v claimed %v; runs %d: want queued, not run", ch, fd.queued, fd.claimed, len(runs))
				}
				return
			}
			got, recorded := <-ch
			if _, more := <-ch; !recorded || more {
				t.Fatalf("the channel gave %v then more %v; want the record once, then closed", recorded, more)
			}
			if got.Status != faaspot.ExecCompleted || string(got.Result) != "7" || len(fd.claimed) != 1 || fd.claimed[0] != "e1@test" {
				t.Fatalf("got %+v, claimed %v; want the completed record, claimed by this node", got, fd.claimed)
			}
			if rec := onlyRecord(t, tw); rec.ID != "e1" || rec.Status != faaspot.ExecCompleted {
				t.Fatalf("terminal record %+v", rec)
			}
			if strings.Contains(tw.calls.String(), "store.RunInputs") {
				t.Errorf("a direct run read its inputs again: %s", tw.calls)
			}
			if len(asked) != 1 || asked[0] != versionKey(testTenant, "d1", 1) {
				t.Errorf("idle asked for %v", asked)
			}
			if free := tw.runSlots.free(); free != 8 {
				t.Errorf("%d run slots free after the run, want all 8", free)
			}
		})
	}
}

// TestRunDirectCounted: faaspot_sync_dispatch_total counts each sync run offered to direct
// dispatch once, by the path it took; a run the store refuses is not counted.
func TestRunDirectCounted(t *testing.T) {
	quota := &faaspot.QuotaError{What: "queued runs", Limit: 1}
	for _, tc := range []struct {
		name           string
		idle           int
		claim          bool
		err            error
		direct, queued float64
	}{
		{name: "direct", idle: 1, claim: true, direct: 1},
		{name: "no idle container", idle: 0, claim: true, queued: 1},
		{name: "the store queues it", idle: 1, claim: false, queued: 1},
		{name: "refused before the claim", idle: 0, err: quota},
		{name: "refused at the claim", idle: 1, claim: true, err: quota},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			withRun(tw)
			tw.direct, tw.soft = &fakeDirect{claim: tc.claim, err: tc.err}, t.Context()
			tw.idle = func(string) int { return tc.idle }
			tw.runner.results = append(tw.runner.results, result(sandbox.Result{Outcome: sandbox.Completed, Value: json.RawMessage(`7`)}))
			const name = "faaspot_sync_dispatch_total"
			ch, err := tw.RunDirect(t.Context(), testTenant, tw.store.deps["fn"], tw.store.execs["e1"], 0)
			if !errors.Is(err, tc.err) {
				t.Fatalf("RunDirect: %v, want %v", err, tc.err)
			}
			if ch != nil {
				<-ch // the direct run ends before the test does
			}
			direct, queued := tw.metric(t, name, metrics.DispatchDirect).value, tw.metric(t, name, metrics.DispatchQueued).value
			if direct != tc.direct || queued != tc.queued {
				t.Errorf("counted direct %v queued %v, want %v and %v", direct, queued, tc.direct, tc.queued)
			}
		})
	}
}

package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/imagebuilder"
	"github.com/faaspot/faaspot/sandbox"
	"github.com/faaspot/faaspot/store"
)

func runJob(id string) store.Job {
	return store.Job{Queue: store.Runs, EntryID: "2-0", Tenant: testTenant, ID: id, Deployment: "fn"}
}

// withRun sets the store up for execution e1 of "fn", whose version 1 is ready, queued 2 s ago.
func withRun(tw *testWorkers) {
	tw.store.deps["fn"] = faaspot.Deployment{ID: "d1", Name: "fn", Version: 1, Status: faaspot.StatusReady,
		ReadyVersion: 1, Image: "img/d1:v1"}
	tw.store.contexts[1] = json.RawMessage(`{"k":"v1"}`)
	tw.store.versions[1] = faaspot.Version{Deployment: "fn", Number: 1, Source: faaspot.Source{Code: "v1"}}
	tw.store.execs["e1"] = faaspot.Execution{ID: "e1", Deployment: "fn", Status: faaspot.ExecQueued,
		Args: json.RawMessage(`{"a":1}`), CreatedAt: tw.clock.Now().Add(-2 * time.Second)}
}

// result answers a Run with res.
func result(res sandbox.Result) func(context.Context, sandbox.Request) (sandbox.Result, error) {
	return func(context.Context, sandbox.Request) (sandbox.Result, error) { return res, nil }
}

// fails answers a Run with err.
func fails(err error) func(context.Context, sandbox.Request) (sandbox.Result, error) {
	return func(context.Context, sandbox.Request) (sandbox.Result, error) { return sandbox.Result{}, err }
}

// onlyRecord returns the one terminal record written, failing the test otherwise.
func onlyRecord(t *testing.T, tw *testWorkers) faaspot.Execution {
	t.Helper()
	acked, _, finished := tw.store.snapshot()
	if len(finished) != 1 || len(acked) != 1 {
		t.Fatalf("wrote %d terminal records and acked %d jobs, want 1 and 1 (calls: %s)", len(finished), len(acked), tw.calls)
	}
	return finished[0]
}

func TestRunOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		res     sandbox.Result
		status  faaspot.ExecStatus
		errType string
		mode    string
		cold    float64
	}{
		{name: "completed warm", status: faaspot.ExecCompleted, mode: "warm",
			res: sandbox.Result{Outcome: sandbox.Completed, Value: json.RawMessage(`42`), Duration: 3 * time.Millisecond, Acquire: time.Millisecond}},
		{name: "completed cold", status: faaspot.ExecCompleted, mode: "cold", cold: 1,
			res: sandbox.Result{Outcome: sandbox.Completed, Value: json.RawMessage(`42`), ColdStart: true, Acquire: 800 * time.Millisecond}},
		{name: "function raised", status: faaspot.ExecFailed, errType: "ValueError", mode: "warm",
			res: sandbox.Result{Outcome: sandbox.Failed, Error: &sandbox.FuncError{Type: "ValueError", Message: "bad"}}},
		{name: "timed out", status: faaspot.ExecTimeout, errType: sandbox.ErrTypeTimeout, mode: "cold", cold: 1,
			res: sandbox.Result{Outcome: sandbox.Timeout, ColdStart: true, ExitCode: 137, Error: &sandbox.FuncError{Type: sandbox.ErrTypeTimeout}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			withRun(tw)
			tw.runner.results = append(tw.runner.results, result(tt.res))
			if err := tw.run(t.Context(), runJob("e1")); err != nil {
				t.Fatalf("run = %v", err)
			}
			e := onlyRecord(t, tw)
			if e.Status != tt.status || e.Version != 1 || (e.Error == nil) != (tt.errType == "") ||
				(e.Error != nil && e.Error.Type != tt.errType) || string(e.Result) != string(tt.res.Value) {
				t.Errorf("record = %+v (error %+v)", e, e.Error)
			}
			if e.StartedAt == nil || e.FinishedAt == nil || e.QueueMS != 2000 {
				t.Errorf("started %v finished %v queue %v ms, want times and 2000 ms", e.StartedAt, e.FinishedAt, e.QueueMS)
			}
			runs, _, _ := tw.runner.snapshot()
			want := sandbox.Request{Image: "img/d1:v1", TenantID: testTenant, ExecutionID: "e1", Key: "t1/d1/1/"}
			if len(runs) != 1 || runs[0].Image != want.Image || runs[0].TenantID != want.TenantID || runs[0].Key != want.Key || runs[0].ExecutionID != want.ExecutionID ||
				string(runs[0].Context) != `{"k":"v1"}` || string(runs[0].Args) != `{"a":1}` || runs[0].Policy.MaxIdle != 8 || // the default: as many as the workers
				runs[0].Limits.MemoryBytes != 256<<20 {
				t.Errorf("sandbox requests = %+v", runs)
			}
			if got := tw.metric(t, "faaspot_executions_total", string(tt.status)).value; got != 1 {
				t.Errorf("executions{%s} = %v, want 1", tt.status, got)
			}
			if got := tw.metric(t, "faaspot_run_duration_seconds", string(tt.status)); got.count != 1 || got.sum != tt.res.Duration.Seconds() {
				t.Errorf("run_duration{%s} = %+v, want one of %v", tt.status, got, tt.res.Duration.Seconds())
			}
			if got := tw.metric(t, "faaspot_container_acquire_seconds", tt.mode); got.count != 1 || got.sum != tt.res.Acquire.Seconds() {
				t.Errorf("container_acquire{%s} = %+v", tt.mode, got)
			}
			if got := tw.metric(t, "faaspot_cold_starts_total", "").value; got != tt.cold {
				t.Errorf("cold_starts = %v, want %v", got, tt.cold)
			}
		})
	}
}

func TestRunAcknowledgesWithoutRunning(t *testing.T) {
	tests := []struct {
		name  string
		setup func(tw *testWorkers)
	}{
		{name: "execution expired or never written", setup: func(tw *testWorkers) { delete(tw.store.execs, "e1") }},
		{name: "execution already terminal", setup: func(tw *testWorkers) {
			e := tw.store.execs["e1"]
			e.Status = faaspot.ExecCompleted
			tw.store.execs["e1"] = e
		}},
		{name: "execution terminal and deployment gone", setup: func(tw *testWorkers) {
			e := tw.store.execs["e1"]
			e.Status = faaspot.ExecTimeout
			tw.store.execs["e1"] = e
			delete(tw.store.deps, "fn")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			withRun(tw)
			tt.setup(tw)
			if err := tw.run(t.Context(), runJob("e1")); err != nil {
				t.Fatalf("run = %v", err)
			}
			acked, _, finished := tw.store.snapshot()
			if len(acked) != 1 || len(finished) != 0 || tw.calls.count("sandbox.Run") != 0 {
				t.Errorf("acked %d, wrote %d records; calls %s; want the job acked, nothing run or written", len(acked), len(finished), tw.calls)
			}
			if tw.metric(t, "faaspot_executions_total", string(faaspot.ExecCompleted)).value != 0 {
				t.Error("an execution not run was counted")
			}
		})
	}
}

func TestRunFailsBeforeRunning(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(tw *testWorkers)
		errType  string
		message  string
		contexts int // LoadContext calls
	}{
		{name: "deployment deleted", errType: "DeploymentNotFound", message: `deployment "fn" no longer exists`,
			setup: func(tw *testWorkers) { delete(tw.store.deps, "fn") }},
		{name: "parked while the first build failed", errType: "BuildFailed",
			message: `deployment "fn" failed to build: ModuleNotFoundError: No module named 'nope'`,
			setup: func(tw *testWorkers) {
				d := tw.store.deps["fn"]
				d.ReadyVersion, d.Image, d.Status, d.Error = 0, "", faaspot.StatusFailed, "ModuleNotFoundError: No module named 'nope'"
				tw.store.deps["fn"] = d
			}},
		{name: "deployment never ready (deleted and created again)", errType: "DeploymentNotFound", message: `deployment "fn" no longer exists`,
			setup: func(tw *testWorkers) {
				d := tw.store.deps["fn"]
				d.ReadyVersion, d.Image, d.Status = 0, "", faaspot.StatusBuilding
				tw.store.deps["fn"] = d
			}},
		{name: "context sealed under another key", errType: "ContextUnavailable", message: msgContextUnavailable, contexts: 1,
			setup: func(tw *testWorkers) { tw.store.contextErr = fmt.Errorf("context of fn v1: %w", store.ErrSecretKey) }},
		{name: "context gone even after reloading the deployment", errType: "ContextUnavailable", message: msgContextUnavailable, contexts: 2,
			setup: func(tw *testWorkers) { delete(tw.store.contexts, 1) }},
		{name: "pinned version dropped while queued", errType: errTypeVersionUnavailable,
			message: `version 3 of deployment "fn" is not kept`, setup: func(tw *testWorkers) { pin(tw, 3) }},
		{name: "pinned version's context gone: no other version's instead", errType: "ContextUnavailable",
			message: msgContextUnavailable, contexts: 1, setup: func(tw *testWorkers) {
				pin(tw, 1)
				tw.store.kept[1] = faaspot.VersionInfo{Version: 1, Image: "img/d1:v1"}
				delete(tw.store.contexts, 1)
				tw.store.contexts[2] = json.RawMessage(`{"k":"v2"}`)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			withRun(tw)
			tt.setup(tw)
			if err := tw.run(t.Context(), runJob("e1")); err != nil {
				t.Fatalf("run = %v", err)
			}
			e := onlyRecord(t, tw)
			if e.Status != faaspot.ExecFailed || e.Error == nil || e.Error.Type != tt.errType || e.Error.Message != tt.message || e.FinishedAt == nil {
				t.Errorf("record = %+v, error %+v; want failed %s %q", e, e.Error, tt.errType, tt.message)
			}
			if n := tw.calls.count("sandbox.Run"); n != 0 {
				t.Errorf("ran %d times, want none", n)
			}
			if n := tw.calls.count("store.LoadContext"); n != tt.contexts {
				t.Errorf("LoadContext called %d times, want %d", n, tt.contexts)
			}
			if got := tw.metric(t, "faaspot_executions_total", "failed").value; got != 1 {
				t.Errorf("executions{failed} = %v, want 1", got)
			}
		})
	}
}

func TestRunEngineFailures(t *testing.T) {
	missing := fmt.Errorf("create container: %w: %w", sandbox.ErrEngine, cerrdefs.ErrNotFound)
	tests := []struct {
		name    string
		setup   func(tw *testWorkers)
		status  faaspot.ExecStatus
		errType string
		runs    []string // images run
		builds  int
	}{
		{name: "engine error", status: faaspot.ExecFailed, errType: "EngineError", runs: []string{"img/d1:v1"},
			setup: func(tw *testWorkers) {
				tw.runner.results = append(tw.runner.results, fails(fmt.Errorf("%w: connection reset", sandbox.ErrEngine)))
			}},
		{name: "image missing here is rebuilt from the ready version and run", status: faaspot.ExecCompleted,
			runs: []string{"img/d1:v1", "img/d1:rebuilt"}, builds: 1,
			setup: func(tw *testWorkers) {
				tw.builder.build = func(_ context.Context, s imagebuilder.Spec) (string, string, error) {
					return "img/" + s.DeploymentID + ":rebuilt", "", nil
				}
				tw.runner.results = append(tw.runner.results, fails(missing), result(sandbox.Result{Outcome: sandbox.Completed}))
			}},
		{name: "image missing and its source gone", status: faaspot.ExecFailed, errType: "ImageUnavailable",
			runs: []string{"img/d1:v1"}, setup: func(tw *testWorkers) {
				delete(tw.store.versions, 1)
				tw.runner.results = append(tw.runner.results, fails(missing))
			}},
		{name: "image missing and the rebuild fails", status: faaspot.ExecFailed, errType: "ImageUnavailable",
			runs: []string{"img/d1:v1"}, builds: 1, setup: func(tw *testWorkers) {
				tw.builder.build = func(context.Context, imagebuilder.Spec) (string, string, error) {
					return "", "", errors.New("base image not found")
				}
				tw.runner.results = append(tw.runner.results, fails(missing))
			}},
		{name: "rebuilt image fails in the engine", status: faaspot.ExecFailed, errType: "EngineError",
			runs: []string{"img/d1:v1", "img/d1:v1"}, builds: 1, setup: func(tw *testWorkers) {
				tw.runner.results = append(tw.runner.results, fails(missing), fails(sandbox.ErrEngine))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorkers(t)
			withRun(tw)
			tt.setup(tw)
			if err := tw.run(t.Context(), runJob("e1")); err != nil {
				t.Fatalf("run = %v", err)
			}
			e := onlyRecord(t, tw)
			if e.Status != tt.status || (e.Error == nil) != (tt.errType == "") || (e.Error != nil && e.Error.Type != tt.errType) {
				t.Errorf("record status %q error %+v, want %q %q", e.Status, e.Error, tt.status, tt.errType)
			}
			runs, _, _ := tw.runner.snapshot()
			var images []string
			for _, r := range runs {
				images = append(images, r.Image)
			}
			if fmt.Sprint(images) != fmt.Sprint(tt.runs) {
				t.Errorf("ran images %q, want %q", images, tt.runs)
			}
			if len(tw.builder.specs) != tt.builds {
				t.Fatalf("built %d times, want %d", len(tw.builder.specs), tt.builds)
			}
			if tt.builds > 0 && (tw.builder.specs[0].Code != "v1" || tw.builder.specs[0].DeploymentID != "d1") {
				t.Errorf("rebuilt %+v, want the ready version's source", tw.builder.specs[0])
			}
		})
	}
}

func TestRunReloadsDeploymentForContext(t *testing.T) {
	tw := newTestWorkers(t)
	withRun(tw)
	// Version 2 became ready between the run's inputs and its context: version 1's was dropped.
	delete(tw.store.contexts, 1)
	tw.store.contexts[2] = json.RawMessage(`{"k":"v2"}`)
	tw.store.reloaded = &faaspot.Deployment{ID: "d1", Name: "fn", Version: 2, ReadyVersion: 2, Image: "img/d1:v2"}
	if err := tw.run(t.Context(), runJob("e1")); err != nil {
		t.Fatalf("run = %v", err)
	}
	if e := onlyRecord(t, tw); e.Version != 2 || e.Status != faaspot.ExecCompleted {
		t.Errorf("record version %d status %q, want 2 completed", e.Version, e.Status)
	}
	runs, _, _ := tw.runner.snapshot()
	if len(runs) != 1 || runs[0].Image != "img/d1:v2" || runs[0].Key != "t1/d1/2/" || string(runs[0].Context) != `{"k":"v2"}` {
		t.Fatalf("sandbox requests = %+v, want version 2's", runs)
	}

	// The next run of version 2 takes its context from the cache.
	tw.store.execs["e2"] = faaspot.Execution{ID: "e2", Deployment: "fn", Status: faaspot.ExecQueued}
	loads := tw.calls.count("store.LoadContext")
	if err := tw.run(t.Context(), runJob("e2")); err != nil {
		t.Fatalf("second run = %v", err)
	}
	if n := tw.calls.count("store.LoadContext"); n != loads {
		t.Errorf("LoadContext called again (%d → %d) for a cached version", loads, n)
	}
}

// pin makes the run e1 pinned to version v.
func pin(tw *testWorkers, v int) {
	e := tw.store.execs["e1"]
	e.Version, e.Pinned = v, true
	tw.store.execs["e1"] = e
}

// TestRunPinned: a run pinned to a kept version runs that version's image, limits and context,
// in that version's containers, whatever the ready version.
func TestRunPinned(t *testing.T) {
	tw := newTestWorkers(t)
	withRun(tw)
	tw.store.deps["fn"] = faaspot.Deployment{ID: "d1", Name: "fn", Version: 3, Status: faaspot.StatusReady,
		ReadyVersion: 3, Image: "img/d1:v3", Limits: faaspot.Limits{MemoryMB: 512}}
	tw.store.kept[2] = faaspot.VersionInfo{Version: 2, Image: "img/d1:v2", Limits: faaspot.Limits{MemoryMB: 256}}
	tw.store.contexts[2] = json.RawMessage(`{"k":"v2"}`)
	pin(tw, 2)
	if err := tw.run(t.Context(), runJob("e1")); err != nil {
		t.Fatalf("run = %v", err)
	}
	if e := onlyRecord(t, tw); e.Version != 2 || !e.Pinned || e.Status != faaspot.ExecCompleted {
		t.Errorf("record version %d pinned %v status %q, want 2 pinned completed", e.Version, e.Pinned, e.Status)
	}
	runs, _, _ := tw.runner.snapshot()
	if len(runs) != 1 || runs[0].Image != "img/d1:v2" || runs[0].Key != "t1/d1/2/" || string(runs[0].Context) != `{"k":"v2"}` ||
		runs[0].Limits.MemoryBytes != 256<<20 {
		t.Fatalf("sandbox requests = %+v, want version 2's image, key, context and memory", runs)
	}
}

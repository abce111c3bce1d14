package daemon

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/faaspot/faaspot/metrics"
	"github.com/faaspot/faaspot/sandbox"
)

// TestRunsInFlight: faaspot_runs_in_flight counts a run while the sandbox runs it, and not after.
func TestRunsInFlight(t *testing.T) {
	tw := newTestWorkers(t)
	withRun(tw)
	var during float64
	tw.runner.results = append(tw.runner.results, func(context.Context, sandbox.Request) (sandbox.Result, error) {
		during = valueOf(t, tw.metrics.RunsInFlight)
		return sandbox.Result{Outcome: sandbox.Completed}, nil
	})
	if err := tw.run(t.Context(), runJob("e1")); err != nil {
		t.Fatalf("run = %v", err)
	}
	if after := valueOf(t, tw.metrics.RunsInFlight); during != 1 || after != 0 {
		t.Errorf("in flight during the run = %v, after = %v; want 1 and 0", during, after)
	}
}

// TestExecutionsTenantLabel: with the operator's option, a finished run is counted under its
// tenant's id; without it (newTestWorkers), under its status only (see TestRunOutcomes).
func TestExecutionsTenantLabel(t *testing.T) {
	tw := newTestWorkers(t)
	tw.reg = prometheus.NewRegistry()
	tw.metrics = metrics.NewWithOptions(tw.reg, metrics.Options{TenantLabel: true, TenantLimit: 1})
	withRun(tw)
	if err := tw.run(t.Context(), runJob("e1")); err != nil {
		t.Fatalf("run = %v", err)
	}
	got := valueOf(t, tw.metrics.Executions.WithLabelValues("completed", testTenant))
	if got != 1 {
		t.Errorf(`executions{status="completed",tenant=%q} = %v, want 1`, testTenant, got)
	}
	if n := len(tw.seriesOf(t, "faaspot_executions_total")); n != 1 {
		t.Errorf("executions series = %d, want 1", n)
	}
}

// TestPoolCounts: the sandbox's counts become the metric's, mode by mode.
func TestPoolCounts(t *testing.T) {
	got := poolCounts([]sandbox.ModeCount{{Mode: sandbox.ModeProcess, Idle: 2, Busy: 1}, {Mode: sandbox.ModeFork, Busy: 3}})
	want := []metrics.PoolCount{{Mode: "process", Idle: 2, Busy: 1}, {Mode: "fork", Busy: 3}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("poolCounts = %+v, want %+v", got, want)
	}
}

// valueOf reads a gauge's or a counter's value.
func valueOf(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetGauge().GetValue() + out.GetCounter().GetValue()
}

// seriesOf returns the series of family name in the workers' registry.
func (tw *testWorkers) seriesOf(t *testing.T, name string) []*dto.Metric {
	t.Helper()
	fams, err := tw.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f.GetMetric()
		}
	}
	return nil
}

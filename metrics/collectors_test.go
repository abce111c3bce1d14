package metrics

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// values gathers reg and returns each series' value keyed by name{label=value,...} (labels in
// the order Gather sorts them), gauges and counters only.
func values(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			out[f.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return out
}

func TestWarmPool(t *testing.T) {
	reg := prometheus.NewRegistry()
	counts := []PoolCount{{Mode: "process", Idle: 3, Busy: 1}, {Mode: "fork", Idle: 0, Busy: 2}}
	RegisterWarmPool(reg, func() []PoolCount { return counts })
	got := values(t, reg)
	want := map[string]float64{
		"faaspot_warm_containers{mode=process,state=idle}": 3, "faaspot_warm_containers{mode=process,state=busy}": 1,
		"faaspot_warm_containers{mode=fork,state=idle}": 0, "faaspot_warm_containers{mode=fork,state=busy}": 2,
	}
	if len(got) != len(want) {
		t.Errorf("series = %v, want %v", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}

func TestQueueAge(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 10, 0, time.UTC)
	reg := prometheus.NewRegistry()
	RegisterQueueAge(reg, func(_ context.Context, q string) (time.Time, bool, error) {
		switch q {
		case "runs":
			return now.Add(-4 * time.Second), true, nil
		case "builds":
			return time.Time{}, false, nil
		}
		return time.Time{}, false, errors.New("redis away")
	}, func() time.Time { return now }, "runs", "builds", "broken")
	got := values(t, reg)
	if got["faaspot_queue_oldest_age_seconds{queue=runs}"] != 4 {
		t.Errorf("runs age = %v, want 4", got)
	}
	if v, ok := got["faaspot_queue_oldest_age_seconds{queue=builds}"]; !ok || v != 0 {
		t.Errorf("builds age = %v %v, want 0 (none waits)", v, ok)
	}
	if _, ok := got["faaspot_queue_oldest_age_seconds{queue=broken}"]; ok {
		t.Error("a queue whose store failed is reported")
	}
}

func TestUp(t *testing.T) {
	reg := prometheus.NewRegistry()
	RegisterUp(reg, "faaspot_redis_up", "Redis answers.", func(context.Context) error { return nil })
	RegisterUp(reg, "faaspot_engine_up", "Engine answers.", func(ctx context.Context) error {
		<-ctx.Done() // an engine that hangs: the scrape still answers, after scrapeTimeout
		return ctx.Err()
	})
	got := values(t, reg)
	if got["faaspot_redis_up{}"] != 1 {
		t.Errorf("redis up = %v, want 1", got)
	}
	if v, ok := got["faaspot_engine_up{}"]; !ok || v != 0 {
		t.Errorf("engine up = %v %v, want 0", v, ok)
	}
}

func TestBuildInfo(t *testing.T) {
	reg := prometheus.NewRegistry()
	RegisterBuildInfo(reg, "v1.2.3")
	key := "faaspot_build_info{goversion=" + runtime.Version() + ",version=v1.2.3}"
	if got := values(t, reg); got[key] != 1 || len(got) != 1 {
		t.Errorf("build info = %v, want %s at 1", got, key)
	}
}

func TestTenantLabel(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewWithOptions(reg, Options{TenantLabel: true, TenantLimit: 2})
	for _, tenant := range []string{"t1", "t2", "t3", "t1", "t4", "other", ""} {
		m.CountExecution(tenant, "completed")
	}
	got := values(t, reg)
	want := map[string]float64{"t1": 2, "t2": 1, TenantOther: 4}
	n := 0
	for k, v := range got {
		if !strings.HasPrefix(k, "faaspot_executions_total{") {
			continue
		}
		n++
		tenant := strings.TrimSuffix(strings.SplitN(k, "tenant=", 2)[1], "}")
		if want[tenant] != v {
			t.Errorf("%s = %v, want %v", k, v, want[tenant])
		}
	}
	if n != len(want) {
		t.Errorf("executions series = %d, want %d (the first 2 tenants and %q)", n, len(want), TenantOther)
	}
	// Without the option the counter has no tenant label.
	reg2 := prometheus.NewRegistry()
	New(reg2).CountExecution("t1", "failed")
	if got := values(t, reg2); got["faaspot_executions_total{status=failed}"] != 1 {
		t.Errorf("without the option: %v", got)
	}
}

func TestQuotaRejected(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	for _, what := range []string{"requests per second", "queued runs", "queued builds", "deployments",
		QuotaAdminLockout, "cosmic rays", QuotaRate} {
		m.QuotaRejected(what)
	}
	got := values(t, reg)
	want := map[string]float64{QuotaRate: 2, QuotaQueuedRuns: 1, QuotaQueuedBuilds: 1, QuotaDeployments: 1,
		QuotaAdminLockout: 1, QuotaOther: 1}
	for kind, v := range want {
		if g := got["faaspot_quota_rejections_total{kind="+kind+"}"]; g != v {
			t.Errorf("kind %s = %v, want %v", kind, g, v)
		}
	}
}

// TestPromtoolCheckMetrics: a scrape of every collector passes `promtool check metrics` (names,
// units, help, types). Skipped without promtool unless FAASPOT_TEST_PROMETHEUS=required.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("FAASPOT_TEST_PROMETHEUS") == "required" {
			t.Fatal("promtool not found and FAASPOT_TEST_PROMETHEUS=required")
		}
		t.Skip("promtool not found (apt-get install prometheus); set FAASPOT_TEST_PROMETHEUS=required to fail instead")
	}
	reg := prometheus.NewRegistry()
	m := NewWithOptions(reg, Options{TenantLabel: true})
	m.ObserveHTTP("/v1/deployments", "GET", 200, time.Millisecond)
	m.CountExecution("t1", "completed")
	m.RunsInFlight.Set(2)
	m.QuotaRejected(QuotaRate)
	for _, vec := range []*prometheus.HistogramVec{m.BuildDuration, m.QueueWait, m.RunDuration, m.SyncLatency, m.ContainerAcquire} {
		vec.WithLabelValues("x").Observe(0.1)
	}
	m.Callbacks.WithLabelValues("delivered").Inc()
	RegisterQueueDepth(reg, func(context.Context, string) (int64, error) { return 3, nil }, "runs")
	RegisterQueueAge(reg, func(context.Context, string) (time.Time, bool, error) { return time.Now(), true, nil }, nil, "runs")
	RegisterWarmPool(reg, func() []PoolCount { return []PoolCount{{Mode: "process", Idle: 1}} })
	RegisterUp(reg, "faaspot_redis_up", "Redis answers.", func(context.Context) error { return nil })
	RegisterBuildInfo(reg, "v0")
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestImagePullsStartAtZero: the three results of faaspot_image_pulls_total exist from the
// start, at 0, on the registry given.
func TestImagePullsStartAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	got := values(t, reg)
	for _, r := range []string{PullPulled, PullMissing, PullError} {
		if v, ok := got["faaspot_image_pulls_total{result="+r+"}"]; !ok || v != 0 {
			t.Errorf("faaspot_image_pulls_total{result=%s} = %v (present %v), want 0", r, v, ok)
		}
	}
	m.ImagePulls.WithLabelValues(PullPulled).Inc()
	if v := values(t, reg)["faaspot_image_pulls_total{result=pulled}"]; v != 1 {
		t.Errorf("pulled = %v after one pull, want 1", v)
	}
}

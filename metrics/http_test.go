package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMethodLabel(t *testing.T) {
	tests := []struct{ method, want string }{
		{"GET", "GET"}, {"POST", "POST"}, {"PUT", "PUT"}, {"DELETE", "DELETE"},
		{"HEAD", "HEAD"}, {"OPTIONS", "OPTIONS"}, {"PATCH", "PATCH"},
		{"get", MethodOther}, {"CONNECT", MethodOther}, {"TRACE", MethodOther}, {"", MethodOther},
		{strings.Repeat("X", 2048), MethodOther},
	}
	for _, tt := range tests {
		if got := MethodLabel(tt.method); got != tt.want {
			t.Errorf("MethodLabel(%.20q) = %q, want %q", tt.method, got, tt.want)
		}
	}
}

func TestObserveHTTPBoundsLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	for i := range 100 {
		m.ObserveHTTP(RouteUnmatched, strings.Repeat("M", i+1), 404+i, time.Millisecond)
	}
	// Methods all map to "other"; codes 404..503 are valid statuses and stay apart.
	series := seriesOf(t, reg)
	if n := series["faaspot_http_requests_total"]; n != 100 {
		t.Errorf("request series = %d, want 100 (one per status code)", n)
	}
	if n := series["faaspot_http_request_duration_seconds"]; n != 1 {
		t.Errorf("duration series = %d, want 1", n)
	}
	m.ObserveHTTP(RouteUnmatched, "GET", 1000, time.Millisecond)
	m.ObserveHTTP(RouteUnmatched, "GET", -1, time.Millisecond)
	if n := seriesOf(t, reg)["faaspot_http_requests_total"]; n != 101 {
		t.Errorf("request series = %d after two invalid codes, want 101 (both under %q)", n, MethodOther)
	}
}

// seriesOf counts the series of each metric family gathered from reg.
func seriesOf(t *testing.T, reg *prometheus.Registry) map[string]int {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, f := range fams {
		out[f.GetName()] = len(f.GetMetric())
	}
	return out
}

// TestSyncDispatchSeries: faaspot_sync_dispatch_total has its two series, direct and queued, from
// the start (a scrape shows 0 before the first run), and no other.
func TestSyncDispatchSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.SyncDispatch.WithLabelValues(DispatchDirect).Add(3)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "faaspot_sync_dispatch_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				got[l.GetName()+"="+l.GetValue()] = s.GetCounter().GetValue()
			}
		}
	}
	if _, ok := got["path=queued"]; len(got) != 2 || got["path=direct"] != 3 || !ok || got["path=queued"] != 0 {
		t.Errorf("series %v, want exactly path=direct at 3 and path=queued at 0", got)
	}
}

package bench

import (
	"slices"
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	text := `# HELP faaspot_cold_starts_total Runs that started a fresh container.
# TYPE faaspot_cold_starts_total counter
faaspot_cold_starts_total 12
faaspot_executions_total{status="completed"} 4.5e+03
faaspot_executions_total{status="failed"} 3
go_gc_duration_seconds{quantile="0.5"} NaN
broken_line
`
	got := parseMetrics(text)
	if got[metricColdStarts] != 12 || got[metricCompleted] != 4500 || got[metricFailed] != 3 {
		t.Errorf("got %v", got)
	}
	if _, ok := got["broken_line"]; ok {
		t.Errorf("a line without a value was read: %v", got)
	}
}

func TestInfoField(t *testing.T) {
	info := "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nused_memory_rss:2000000\r\n"
	if v, err := infoField(info, "used_memory"); err != nil || v != 1048576 {
		t.Errorf("used_memory = %d, %v", v, err)
	}
	if _, err := infoField(info, "maxmemory"); err == nil {
		t.Errorf("a missing field: want an error")
	}
}

func TestPprofTable(t *testing.T) {
	out := `File: faaspotd
Type: cpu
Time: 2026-12-04 17:08:55 UTC
Duration: 2s, Total samples = 270ms (13.50%)
Showing nodes accounting for 270ms, 100% of 270ms total
Dropped 12 nodes (cum <= 1.35ms)
Showing top 15 nodes out of 153
      flat  flat%   sum%        cum   cum%
     110ms 40.74% 40.74%      110ms 40.74%  internal/runtime/syscall/linux.Syscall6
`
	got := pprofTable(out)
	want := []string{"Duration: 2s, Total samples = 270ms (13.50%)", "Showing nodes accounting for 270ms, 100% of 270ms total",
		"Showing top 15 nodes out of 153", "      flat  flat%   sum%        cum   cum%",
		"     110ms 40.74% 40.74%      110ms 40.74%  internal/runtime/syscall/linux.Syscall6"}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParsePhases(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "", want: AllPhases},
		{in: "all", want: AllPhases},
		{in: "list, sync", want: []string{"sync", "list"}}, // the order of AllPhases
		{in: "sync,sync", want: []string{"sync"}},
		{in: "sync,throughput", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParsePhases(tt.in)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("ParsePhases(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestNodeVars: a node gets its own prefix, node id and admin token, the bench's Redis, the raised
// quotas, and the phase's variables over them; the environment of its process has each of them
// once, replacing the bench's own.
func TestNodeVars(t *testing.T) {
	e := &benchEnv{redis: &benchRedis{URL: "redis://127.0.0.1:6390"}, baseImage: "img"}
	a := e.nodeVars("fork", 4000, map[string]string{"FAASPOT_WARM": "false", "FAASPOT_MAX_QUEUED_RUNS": "5"})
	b := e.nodeVars("fork", 4001, nil)
	if a["FAASPOT_KEY_PREFIX"] == b["FAASPOT_KEY_PREFIX"] || a["FAASPOT_NODE_ID"] == b["FAASPOT_NODE_ID"] ||
		a["FAASPOT_ADMIN_TOKEN"] == b["FAASPOT_ADMIN_TOKEN"] || len(a["FAASPOT_ADMIN_TOKEN"]) < 32 {
		t.Errorf("nodes share an identity: %v / %v", a, b)
	}
	for k, want := range map[string]string{"FAASPOT_LISTEN": "127.0.0.1:4000", "FAASPOT_REDIS_URL": "redis://127.0.0.1:6390",
		"FAASPOT_BASE_IMAGE": "img", "FAASPOT_WARM": "false", "FAASPOT_MAX_QUEUED_RUNS": "5",
		"FAASPOT_REQUESTS_PER_SECOND": quotaVars["FAASPOT_REQUESTS_PER_SECOND"], "FAASPOT_DEV_TENANT": ""} {
		if got, ok := a[k]; !ok || got != want {
			t.Errorf("%s = %q (set %v), want %q", k, got, ok, want)
		}
	}
	env := childEnv([]string{"PATH=/bin", "FAASPOT_DEV_TENANT=me", "FAASPOT_RUNTIME=runsc"}, a)
	count := map[string]int{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		count[k]++
	}
	if !slices.Contains(env, "FAASPOT_DEV_TENANT=") || !slices.Contains(env, "FAASPOT_RUNTIME=runsc") || !slices.Contains(env, "PATH=/bin") {
		t.Errorf("env %v", env)
	}
	for k, n := range count {
		if n != 1 {
			t.Errorf("%s set %d times", k, n)
		}
	}
}

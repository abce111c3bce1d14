package bench

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestParseWrk reads the lines the script prints from wrk's real output (sync: every answer
// expected; async: unexpected statuses and socket errors), and refuses output without them.
func TestParseWrk(t *testing.T) {
	tests := []struct {
		name     string
		out      string
		want     wrkOutcome
		statuses map[string]int64
		wantErr  string
	}{
		{name: "sync, 16 connections", out: readTestdata(t, "wrk-sync.txt"),
			want: wrkOutcome{requests: 541, durationUS: 2011034, ok: 541, minUS: 8307, meanUS: 164078.1, maxUS: 1918675,
				p50US: 44764, p90US: 519401, p95US: 1013208, p99US: 1616321, p999US: 1918675},
			statuses: map[string]int64{"200": 541}},
		{name: "async with errors", out: readTestdata(t, "wrk-async-errors.txt"),
			want: wrkOutcome{requests: 26600, durationUS: 5000412, ok: 26480, bad: 120, read: 3, status: 120, timeout: 2,
				minUS: 310, meanUS: 12010.4, maxUS: 80520, p50US: 11500, p90US: 17200, p95US: 19950, p99US: 25310, p999US: 60100},
			statuses: map[string]int64{"202": 26480, "429": 100, "503": 20}},
		{name: "no summary (script not run)", out: "Running 5s test @ http://127.0.0.1:1/\n  unable to connect to 127.0.0.1:1 Connection refused\n",
			wantErr: "no summary"},
		{name: "latency line missing", out: "faaspot-wrk: requests=1 duration_us=1 ok=1 bad=0 connect=0 read=0 write=0 status=0 timeout=0\nfaaspot-wrk-statuses: 200=1\n",
			wantErr: "no summary"},
		{name: "a count missing", out: "faaspot-wrk: requests=1 duration_us=1 ok=1\n", wantErr: "3 of 9 values"},
		{name: "a bad number", out: "faaspot-wrk-latency-us: min=x mean=1 max=1 p50=1 p90=1 p95=1 p99=1 p999=1\n", wantErr: "min"},
		{name: "a bad status count", out: "faaspot-wrk-statuses: 200=many\n", wantErr: "200=many"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWrk(tt.out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got.statuses, tt.statuses) {
				t.Errorf("statuses %v, want %v", got.statuses, tt.statuses)
			}
			got.statuses, got.output = nil, ""
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestWrkResultOf: the rate counts only the expected answers; latencies turn into ms; errors
// are the unexpected answers and the socket errors.
func TestWrkResultOf(t *testing.T) {
	o, err := parseWrk(readTestdata(t, "wrk-async-errors.txt"))
	if err != nil {
		t.Fatal(err)
	}
	r := wrkResultOf(o)
	if r.OK != 26480 || r.Answers != 26600 || r.errors() != 125 {
		t.Errorf("ok %d answers %d errors %d, want 26480, 26600, 125", r.OK, r.Answers, r.errors())
	}
	if want := 26480 / 5.000412; r.PerS < want-0.01 || r.PerS > want+0.01 {
		t.Errorf("rate %.2f, want %.2f", r.PerS, want)
	}
	if r.LatencyMS.P50 != 11.5 || r.LatencyMS.P99 != 25.31 || r.LatencyMS.Max != 80.52 || r.LatencyMS.N != 26600 {
		t.Errorf("latency %+v", r.LatencyMS)
	}
}

// TestWrkScript: the rendered script holds the request and Lua's own format verbs, and no
// verb Go's fmt failed to fill.
func TestWrkScript(t *testing.T) {
	s := fmt.Sprintf(wrkScript, `{"name": "bench"}`, "tok123", 200, "bench", "POST")
	for _, want := range []string{`wrk.method = "POST"`, `wrk.body = '{"name": "bench"}'`, `"Token tok123"`, `local expect, want = 200, "bench"`,
		"requests=%d duration_us=%d", "p999=%d", `string.format("%d=%d", k, v)`} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "%!") {
		t.Errorf("script has an unfilled verb:\n%s", s)
	}
}

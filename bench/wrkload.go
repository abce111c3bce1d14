package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// echoCode is the trivial function of the wrk loads: it returns its arguments.
const echoCode = "def main(args, context):\n    return args\n"

// wrkResult is one wrk load against a node: warm sync runs or async accepts of the echo function.
type wrkResult struct {
	What         string           `json:"what"` // "sync" or "async"
	Role         string           `json:"role"`
	Mode         string           `json:"mode"`
	Connections  int              `json:"connections"`
	Threads      int              `json:"threads"`
	DurationS    float64          `json:"duration_s"`
	Answers      int64            `json:"answers"`
	OK           int64            `json:"ok"`                 // the expected status (and body)
	Unexpected   int64            `json:"unexpected_answers"` // any other answer
	SocketErrors int64            `json:"socket_errors"`      // connect, read, write errors and timeouts
	Statuses     map[string]int64 `json:"statuses"`
	PerS         float64          `json:"ok_per_s"`
	LatencyMS    summary          `json:"latency_ms"`
	// From the daemon's /metrics, the difference over the load: containers started for a run,
	// and executions that ended completed or otherwise.
	ColdStarts float64 `json:"cold_starts"`
	Completed  float64 `json:"executions_completed"`
	NotOK      float64 `json:"executions_failed_or_timeout"`
}

// errors counts the answers that were not what the load expects, and the socket errors.
func (r wrkResult) errors() int64 { return r.Unexpected + r.SocketErrors }

// wrkResultOf turns wrk's report into a result.
func wrkResultOf(o wrkOutcome) wrkResult {
	us := func(v float64) float64 { return v / 1000 }
	r := wrkResult{DurationS: float64(o.durationUS) / 1e6, Answers: o.requests, OK: o.ok, Unexpected: o.bad,
		SocketErrors: o.connect + o.read + o.write + o.timeout, Statuses: o.statuses,
		LatencyMS: summary{N: int(o.requests), P50: us(o.p50US), P95: us(o.p95US), P99: us(o.p99US),
			Min: us(o.minUS), Max: us(o.maxUS), Mean: us(o.meanUS)}}
	if r.DurationS > 0 {
		r.PerS = float64(o.ok) / r.DurationS
	}
	return r
}

// loadSpec is the wrk load of kind "sync" (POST a warm sync run of the echo deployment, expect
// 200 and the echo), "async" (POST an async run, expect 202) or "healthz" (GET /healthz, the
// floor of the daemon's HTTP serving: no authentication, no Redis, no run) on n.
func loadSpec(n *node, kind string, conns int, dur time.Duration) wrkSpec {
	s := wrkSpec{name: fmt.Sprintf("%s-%s-%d", n.name, kind, conns), method: http.MethodPost, token: n.token,
		body: `{"name": "bench"}`, conns: conns, threads: 2, dur: dur}
	switch kind {
	case "sync":
		s.url, s.expect, s.want = n.url+"/v1/sync/deployments/echo/rpc/", http.StatusOK, "bench"
	case "async":
		s.url, s.expect = n.url+"/v1/deployments/echo/rpc/", http.StatusAccepted
	default:
		s.method, s.body, s.url, s.expect = http.MethodGet, "", n.url+"/healthz", http.StatusOK
	}
	return s
}

// wrkLoad runs one load on n. With cpu, it samples the CPU time of every part of the system
// around it and returns the breakdown per completed run.
func (e *benchEnv) wrkLoad(ctx context.Context, n *node, spec wrkSpec, kind string, cpu bool) (wrkResult, *cpuBreakdown, error) {
	m0, err := n.counters(ctx)
	if err != nil {
		return wrkResult{}, nil, err
	}
	var before cpuSample
	if cpu {
		before = e.sampleCPU(ctx, n.cfg.NodeID, true)
	}
	o, ps, err := e.runWrk(ctx, spec)
	if err != nil {
		return wrkResult{}, nil, err
	}
	var b *cpuBreakdown
	if cpu {
		after := e.sampleCPU(ctx, n.cfg.NodeID, false)
		bd := breakdown(before, after, cpuWho{daemonPID: n.pid(), redisPID: e.redis.pid()}, ps, o.ok, e.cpus())
		bd.Kind, bd.Load = kind, fmt.Sprintf("warm sync runs, %s node, %d connections", n.cfg.Role, spec.conns)
		if kind == "async" {
			bd.Load = fmt.Sprintf("async accepts, %s node, %d connections", n.cfg.Role, spec.conns)
		}
		b = &bd
	}
	m1, err := n.counters(ctx)
	if err != nil {
		return wrkResult{}, nil, err
	}
	r := wrkResultOf(o)
	r.What, r.Role, r.Mode, r.Connections, r.Threads = kind, string(n.cfg.Role), string(n.cfg.WarmMode), spec.conns, max(1, min(spec.threads, spec.conns))
	r.ColdStarts = m1[metricColdStarts] - m0[metricColdStarts]
	r.Completed = m1[metricCompleted] - m0[metricCompleted]
	r.NotOK = m1[metricFailed] + m1[metricTimeout] - m0[metricFailed] - m0[metricTimeout]
	return r, b, nil
}

// The counters of the daemon's /metrics that the loads read.
const (
	metricColdStarts = "faaspot_cold_starts_total"
	metricCompleted  = `faaspot_executions_total{status="completed"}`
	metricFailed     = `faaspot_executions_total{status="failed"}`
	metricTimeout    = `faaspot_executions_total{status="timeout"}`
)

// counters reads the daemon's /metrics.
func (n *node) counters(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.url+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics of %s: %w", n.name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics of %s: %d %v", n.name, resp.StatusCode, err)
	}
	return parseMetrics(string(b)), nil
}

// parseMetrics reads the samples of Prometheus's text format: "name{labels} value" → value.
// Comments and lines it cannot read are skipped.
func parseMetrics(text string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i <= 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[strings.TrimSpace(line[:i])] = v
		}
	}
	return out
}

// cpus is the number of CPUs the machine has.
func (e *benchEnv) cpus() int { return runtime.NumCPU() }

// profileLoad runs a sync load of seconds+2 s on n while fetching a CPU profile of the daemon
// for seconds from its pprof listener; it saves the profile in the log directory and lists the
// top functions, flat and cumulative (`go tool pprof -top`).
func (e *benchEnv) profileLoad(ctx context.Context, n *node, conns, seconds int) (profileResult, error) {
	spec := loadSpec(n, "sync", conns, time.Duration(seconds+2)*time.Second)
	spec.name += "-profiled"
	done := make(chan error, 1)
	go func() { _, _, err := e.runWrk(ctx, spec); done <- err }()
	time.Sleep(time.Second)
	p, perr := e.fetchProfile(ctx, n, seconds, fmt.Sprintf("faaspotd-sync-%d", conns))
	if err := <-done; err != nil {
		return p, err
	}
	p.Load = fmt.Sprintf("warm sync runs, %d connections (wrk)", conns)
	return p, perr
}

// redisPID is the redis-server the bench started (0: an external one).
func (r *benchRedis) pid() int {
	if r.cmd != nil && r.cmd.Process != nil {
		return r.cmd.Process.Pid
	}
	return 0
}

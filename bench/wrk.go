package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// wrk (Debian's package) is the load generator of the throughput phases: a C event loop, far
// from being the bottleneck, whose Lua script checks every answer and prints, when it is done,
// one line of counts, one of latencies and one of statuses, which parseWrk reads.

// wrkInstall says how to get wrk when it is missing.
const wrkInstall = "wrk is not on PATH: apt-get install wrk (Debian's package)"

// wrkScript is the Lua script of one load: %[1]s the body, %[2]s the token, %[3]d the expected
// status, %[4]q a string the expected answer's body must hold ("" for any), %[5]s the method.
const wrkScript = `wrk.method = "%[5]s"
wrk.body = '%[1]s'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Token %[2]s"
local expect, want = %[3]d, %[4]q
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok, bad, codes = 0, 0, {} end
function response(status, headers, body)
  if status == expect and (want == "" or string.find(body, want, 1, true)) then ok = ok + 1 else bad = bad + 1 end
  codes[status] = (codes[status] or 0) + 1
end
function done(summary, latency, requests)
  local okn, badn, codes = 0, 0, {}
  for _, t in ipairs(threads) do
    okn, badn = okn + t:get("ok"), badn + t:get("bad")
    for k, v in pairs(t:get("codes")) do codes[k] = (codes[k] or 0) + v end
  end
  local e = summary.errors
  io.write(string.format("faaspot-wrk: requests=%%d duration_us=%%d ok=%%d bad=%%d connect=%%d read=%%d write=%%d status=%%d timeout=%%d\n",
    summary.requests, summary.duration, okn, badn, e.connect, e.read, e.write, e.status, e.timeout))
  io.write(string.format("faaspot-wrk-latency-us: min=%%d mean=%%.1f max=%%d p50=%%d p90=%%d p95=%%d p99=%%d p999=%%d\n",
    latency.min, latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(95), latency:percentile(99), latency:percentile(99.9)))
  local parts = {}
  for k, v in pairs(codes) do table.insert(parts, string.format("%%d=%%d", k, v)) end
  io.write("faaspot-wrk-statuses: " .. table.concat(parts, " ") .. "\n")
end
`

// wrkSpec is one wrk load.
type wrkSpec struct {
	name    string // names the script and the saved output
	method  string
	url     string
	token   string
	body    string // a JSON body without single quotes
	expect  int
	want    string
	conns   int
	threads int
	dur     time.Duration // whole seconds
}

// wrkOutcome is what wrk reported.
type wrkOutcome struct {
	requests, durationUS, ok, bad         int64
	connect, read, write, status, timeout int64
	minUS, meanUS, maxUS, p50US, p90US    float64
	p95US, p99US, p999US                  float64
	statuses                              map[string]int64
	output                                string
}

// parseWrk reads the three lines the script prints; the rest of wrk's output is ignored.
func parseWrk(out string) (wrkOutcome, error) {
	o := wrkOutcome{statuses: map[string]int64{}, output: out}
	var seen int
	for _, line := range strings.Split(out, "\n") {
		label, rest, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if !ok {
			continue
		}
		var err error
		switch label {
		case "faaspot-wrk":
			seen |= 1
			err = setInts(rest, map[string]*int64{"requests": &o.requests, "duration_us": &o.durationUS, "ok": &o.ok, "bad": &o.bad,
				"connect": &o.connect, "read": &o.read, "write": &o.write, "status": &o.status, "timeout": &o.timeout})
		case "faaspot-wrk-latency-us":
			seen |= 2
			err = setFloats(rest, map[string]*float64{"min": &o.minUS, "mean": &o.meanUS, "max": &o.maxUS, "p50": &o.p50US,
				"p90": &o.p90US, "p95": &o.p95US, "p99": &o.p99US, "p999": &o.p999US})
		case "faaspot-wrk-statuses":
			seen |= 4
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				n, perr := strconv.ParseInt(v, 10, 64)
				if perr != nil {
					return o, fmt.Errorf("wrk statuses: %q: %w", kv, perr)
				}
				o.statuses[k] += n
			}
		}
		if err != nil {
			return o, fmt.Errorf("wrk %s: %w", label, err)
		}
	}
	if seen != 7 {
		return o, fmt.Errorf("wrk printed no summary of its script (lines seen: %03b):\n%s", seen, tail(out, 1500))
	}
	return o, nil
}

// setInts and setFloats parse "k=v k=v" into the named values; each name must be there.
func setInts(s string, into map[string]*int64) error {
	return setEach(s, len(into), func(k, v string) error {
		p, ok := into[k]
		if !ok {
			return nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		*p = n
		return err
	})
}

func setFloats(s string, into map[string]*float64) error {
	return setEach(s, len(into), func(k, v string) error {
		p, ok := into[k]
		if !ok {
			return nil
		}
		n, err := strconv.ParseFloat(v, 64)
		*p = n
		return err
	})
}

func setEach(s string, want int, set func(k, v string) error) error {
	seen := map[string]bool{}
	for _, kv := range strings.Fields(s) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("%q is not key=value", kv)
		}
		if err := set(k, v); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		seen[k] = true
	}
	if len(seen) < want {
		return fmt.Errorf("%d of %d values in %q", len(seen), want, s)
	}
	return nil
}

// tail is the end of s, at most n bytes.
func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// runWrk runs one load and returns what wrk reported and its process state (for its CPU time).
// The script and wrk's whole output are kept in the log directory.
func (e *benchEnv) runWrk(ctx context.Context, s wrkSpec) (wrkOutcome, *os.ProcessState, error) {
	bin, err := exec.LookPath("wrk")
	if err != nil {
		return wrkOutcome{}, nil, errors.New(wrkInstall)
	}
	script := filepath.Join(e.tmp, s.name+".lua")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(wrkScript, s.body, s.token, s.expect, s.want, s.method)), 0o600); err != nil {
		return wrkOutcome{}, nil, err
	}
	threads := max(1, min(s.threads, s.conns))
	cmd := exec.CommandContext(ctx, bin, "-t", fmt.Sprint(threads), "-c", fmt.Sprint(s.conns),
		"-d", fmt.Sprintf("%ds", max(1, int(s.dur.Seconds()))), "--timeout", "30s", "--latency", "-s", script, s.url)
	out, err := cmd.CombinedOutput()
	if e.logDir != "" {
		_ = os.WriteFile(filepath.Join(e.logDir, "wrk-"+s.name+".txt"), out, 0o644)
	}
	if err != nil {
		return wrkOutcome{}, cmd.ProcessState, fmt.Errorf("wrk %s: %w\n%s", s.name, err, tail(string(out), 1500))
	}
	o, err := parseWrk(string(out))
	return o, cmd.ProcessState, err
}

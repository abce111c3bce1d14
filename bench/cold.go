package bench

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/faaspot/faaspot/sandbox"
)

// requestLine is what the daemon sends a serve-mode runner for one run of the hello function.
const requestLine = `{"args":{"name":"bench"},"context":{},"output_limit":262144,"result_limit":1048576}` + "\n"

// coldResult compares a cold synchronous run over HTTP (a daemon with the warm pool off) with a
// bare `docker run` of the same image answering the same request line, interleaved.
type coldResult struct {
	Samples     int     `json:"samples"`
	Warmup      int     `json:"warmup_pairs"`
	Image       string  `json:"image"`
	BareMS      summary `json:"bare_docker_run_ms"`
	FaaspotMS   summary `json:"faaspot_cold_sync_run_ms"`
	RatioP50    float64 `json:"ratio_p50"`
	RatioP95    float64 `json:"ratio_p95"`
	ColdStarts  int     `json:"faaspot_runs_recorded_cold"`
	QueueMS     summary `json:"faaspot_record_queue_ms"`
	AcquireMS   summary `json:"faaspot_record_acquire_ms"`
	DurationMS  summary `json:"faaspot_record_duration_ms"`
	FirstBuildS float64 `json:"first_build_s"`
}

// benchCold runs bare, faaspot, bare, faaspot... on a daemon with Warm=false, so every faaspot
// run starts a fresh container. After each faaspot run it waits until the daemon's background
// removal of the container is over, so that the next bare run does not compete with it.
func (e *benchEnv) benchCold(ctx context.Context, samples, warmup int) (coldResult, error) {
	n, err := e.startNode(ctx, "cold", map[string]string{"FAASPOT_WARM": "false"})
	if err != nil {
		return coldResult{}, err
	}
	defer n.close()
	dep, built, err := n.deploy(ctx, "hello", helloCode(0))
	if err != nil {
		return coldResult{}, err
	}
	res := coldResult{Samples: samples, Warmup: warmup, Image: dep.Image, FirstBuildS: built.Seconds()}
	var bare, fs, queue, acquire, dur []time.Duration
	for i := range warmup + samples {
		b, err := e.bareDockerRun(ctx, dep.Image, n.cfg.WarmMode)
		if err != nil {
			return res, err
		}
		r, err := n.syncRun(ctx, "hello")
		if err != nil {
			return res, err
		}
		if i < warmup {
			e.waitNoSandboxes(ctx, n.cfg.NodeID, 10*time.Second)
			continue
		}
		bare, fs = append(bare, b), append(fs, r.took)
		if rec, err := n.c.GetExecution(ctx, r.execID); err == nil {
			if rec.ColdStart {
				res.ColdStarts++
			}
			queue = append(queue, msDur(rec.QueueMS))
			acquire = append(acquire, msDur(rec.AcquireMS))
			dur = append(dur, msDur(rec.DurationMS))
		}
		e.waitNoSandboxes(ctx, n.cfg.NodeID, 10*time.Second)
	}
	res.BareMS, res.FaaspotMS = summarize(bare), summarize(fs)
	res.QueueMS, res.AcquireMS, res.DurationMS = summarize(queue), summarize(acquire), summarize(dur)
	res.RatioP50, res.RatioP95 = ratio(res.FaaspotMS.P50, res.BareMS.P50), ratio(res.FaaspotMS.P95, res.BareMS.P95)
	return res, nil
}

// bareDockerRun is the floor: the Docker CLI runs the same image, same runner mode, same
// request line on stdin, under the daemons' runtime (FAASPOT_RUNTIME), no faaspot; closing stdin
// ends the runner.
func (e *benchEnv) bareDockerRun(ctx context.Context, image string, mode sandbox.Mode) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	args := []string{"run", "--rm", "-i", "--network", "none", "--label", labelBenchRun + "=" + e.runID}
	if rt := e.getenv("FAASPOT_RUNTIME"); rt != "" {
		args = append(args, "--runtime", rt)
	}
	cmd := exec.CommandContext(ctx, "docker", append(args, image, "--serve", string(mode))...)
	cmd.Stdin = strings.NewReader(requestLine)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	d := time.Since(start)
	if err != nil || !strings.Contains(string(out), `"ok": true`) {
		return 0, fmt.Errorf("bare docker run: %v: %s %s", err, out, stderr.String())
	}
	return d, nil
}

func msDur(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// helloCode is the hello-world function; variant changes the code (not its behaviour).
func helloCode(variant int) string {
	return fmt.Sprintf("# variant %d\ndef main(args, context):\n    return 'hello ' + args.get('name', 'world')\n", variant)
}

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/faaspot/faaspot/sandbox"
)

// memoryResult compares idle warm pool containers with bare idle containers of the same image
// (the runner in fork mode, stdin open, after its ready line). Figures are the cgroup's memory
// usage minus inactive file pages, as `docker stats` shows it; the containerd shim outside the
// cgroup (the same for both) is not counted.
type memoryResult struct {
	WarmContainers int       `json:"warm_idle_containers"`
	WarmMB         float64   `json:"warm_idle_median_mb"`
	WarmSamplesMB  []float64 `json:"warm_idle_samples_mb"`
	WarmRSSMB      float64   `json:"warm_idle_median_rss_mb"`
	WarmRawMB      float64   `json:"warm_idle_median_raw_usage_mb"`
	BareContainers int       `json:"bare_idle_containers"`
	BareMB         float64   `json:"bare_idle_median_mb"`
	BareSamplesMB  []float64 `json:"bare_idle_samples_mb"`
	BareRSSMB      float64   `json:"bare_idle_median_rss_mb"`
	BareRawMB      float64   `json:"bare_idle_median_raw_usage_mb"`
	// Ratio is the judged one (usage minus inactive file pages); the RSS and raw usage ratios
	// show how much of the difference is page cache of the image's files (shared, reclaimable).
	Ratio    float64 `json:"ratio_warm_to_bare"`
	RatioRSS float64 `json:"ratio_rss_warm_to_bare"`
	RatioRaw float64 `json:"ratio_raw_usage_warm_to_bare"`
	Counted  string  `json:"counted"`
}

type memSample struct{ usage, rss, raw float64 }

// benchMemory reads up to maxWarm idle pool containers of node n (none may be running a function:
// call it between phases) and bareN bare idle containers it starts and removes.
func (e *benchEnv) benchMemory(ctx context.Context, n *node, image string, maxWarm, bareN int) (memoryResult, error) {
	var res memoryResult
	cs, err := e.sandboxes(ctx, n.cfg.NodeID, false)
	if err != nil {
		return res, err
	}
	var warm []memSample
	for _, c := range cs[:min(len(cs), maxWarm)] {
		s, how, err := e.memoryOf(ctx, c.ID)
		if err != nil {
			return res, err
		}
		warm, res.Counted = append(warm, s), how
	}
	var bare []memSample
	for range bareN {
		s, err := e.bareIdle(ctx, image, n.cfg.WarmMode)
		if err != nil {
			return res, err
		}
		bare = append(bare, s)
	}
	res.WarmContainers, res.BareContainers = len(warm), len(bare)
	res.WarmMB, res.WarmRSSMB, res.WarmRawMB, res.WarmSamplesMB = medians(warm)
	res.BareMB, res.BareRSSMB, res.BareRawMB, res.BareSamplesMB = medians(bare)
	res.Ratio, res.RatioRSS, res.RatioRaw = ratio(res.WarmMB, res.BareMB), ratio(res.WarmRSSMB, res.BareRSSMB), ratio(res.WarmRawMB, res.BareRawMB)
	return res, nil
}

// bareIdle starts `docker run -d -i --network none IMAGE --serve MODE` (stdin open: the runner
// idles after its ready line), waits for the ready line, reads its memory and removes it.
func (e *benchEnv) bareIdle(ctx context.Context, image string, mode sandbox.Mode) (memSample, error) {
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(rctx, "docker", "run", "-d", "-i", "--network", "none",
		"--label", labelBenchRun+"="+e.runID, image, "--serve", string(mode)).Output()
	if err != nil {
		return memSample{}, fmt.Errorf("start bare idle container: %w", err)
	}
	id := strings.TrimSpace(string(out))
	defer func() {
		_ = e.docker.ContainerRemove(context.Background(), id, container.RemoveOptions{Force: true})
	}()
	if err := e.waitReady(rctx, id); err != nil {
		return memSample{}, err
	}
	time.Sleep(500 * time.Millisecond) // settle, as the pool's containers have
	s, _, err := e.memoryOf(ctx, id)
	return s, err
}

// waitReady polls a container's log for the runner's ready line.
func (e *benchEnv) waitReady(ctx context.Context, id string) error {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		rc, err := e.docker.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true})
		if err != nil {
			return fmt.Errorf("logs of bare container: %w", err)
		}
		b, _ := io.ReadAll(io.LimitReader(rc, 1<<16))
		rc.Close()
		if strings.Contains(string(b), `"ready": true`) {
			return nil
		}
	}
	return fmt.Errorf("bare container %s never wrote its ready line", id[:12])
}

// memoryOf reads one container's memory from the Engine's stats (one shot).
func (e *benchEnv) memoryOf(ctx context.Context, id string) (memSample, string, error) {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r, err := e.docker.ContainerStatsOneShot(sctx, id)
	if err != nil {
		return memSample{}, "", fmt.Errorf("stats of %s: %w", id[:12], err)
	}
	defer r.Body.Close()
	var st container.StatsResponse
	if err := json.NewDecoder(r.Body).Decode(&st); err != nil {
		return memSample{}, "", fmt.Errorf("stats of %s: %w", id[:12], err)
	}
	m := st.MemoryStats
	if m.Usage == 0 {
		return memSample{}, "", fmt.Errorf("stats of %s: no memory usage reported", id[:12])
	}
	usage, how := m.Usage, "usage"
	for _, k := range []string{"total_inactive_file", "inactive_file", "cache"} { // cgroup v1, v2, old engines
		if v, ok := m.Stats[k]; ok && v < usage {
			usage, how = usage-v, "usage - "+k
			break
		}
	}
	rss := m.Stats["total_rss"]
	if rss == 0 {
		rss = m.Stats["anon"]
	}
	return memSample{usage: mb(usage), rss: mb(rss), raw: mb(m.Usage)}, how, nil
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

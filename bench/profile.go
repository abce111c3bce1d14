package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// profileResult is a CPU profile of faaspotd under load, taken from its opt-in pprof listener
// (FAASPOT_PPROF_LISTEN), with its top functions.
type profileResult struct {
	Load    string   `json:"load"`
	Seconds int      `json:"seconds"`
	Path    string   `json:"path"`
	TopFlat []string `json:"top_flat"` // `go tool pprof -top -nodecount=15`
	TopCum  []string `json:"top_cum"`  // the same with -cum
	Error   string   `json:"error,omitempty"`
}

// topN is how many functions the profile's tops list.
const topN = 15

// fetchProfile fetches a CPU profile of n for seconds and saves it as name.pprof in the log
// directory (the temp dir when there is none), then reads its tops.
func (e *benchEnv) fetchProfile(ctx context.Context, n *node, seconds int, name string) (profileResult, error) {
	p := profileResult{Seconds: seconds}
	if n.pprof == "" {
		return p, fmt.Errorf("node %s has no pprof listener", n.name)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(seconds+30)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", n.pprof, seconds), nil)
	if err != nil {
		return p, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return p, fmt.Errorf("profile of %s: %w", n.name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return p, fmt.Errorf("profile of %s: %d %v %s", n.name, resp.StatusCode, err, tail(string(b), 300))
	}
	dir := e.logDir
	if dir == "" {
		dir = e.tmp
	}
	p.Path = filepath.Join(dir, name+".pprof")
	if err := os.WriteFile(p.Path, b, 0o644); err != nil {
		return p, err
	}
	if p.TopFlat, err = e.pprofTop(ctx, p.Path, false); err != nil {
		return p, err
	}
	p.TopCum, err = e.pprofTop(ctx, p.Path, true)
	return p, err
}

// pprofTop runs `go tool pprof -top` on a profile of the bench's faaspotd binary and returns
// its table (the header line and topN functions).
func (e *benchEnv) pprofTop(ctx context.Context, path string, cum bool) ([]string, error) {
	args := []string{"tool", "pprof", "-top", fmt.Sprintf("-nodecount=%d", topN)}
	if cum {
		args = append(args, "-cum")
	}
	out, err := exec.CommandContext(ctx, "go", append(args, e.binary, path)...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go tool pprof: %w: %s", err, tail(string(out), 500))
	}
	return pprofTable(string(out)), nil
}

// pprofTable keeps the lines of `pprof -top` from the "Showing nodes" summary on, and the
// total sampled ("Duration: ..., Total samples = ...").
func pprofTable(out string) []string {
	var keep []string
	on := false
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "Duration:"):
			keep = append(keep, strings.TrimSpace(line))
		case strings.HasPrefix(line, "Showing nodes"):
			on = true
			keep = append(keep, strings.TrimSpace(line))
		case on && !strings.HasPrefix(line, "Dropped"):
			keep = append(keep, line)
		}
	}
	return keep
}

package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/docker/docker/client"

	"github.com/faaspot/faaspot"
)

// benchEnv is what every phase shares: Redis, the Docker engine, the base image, the faaspotd
// binary, the daemons started so far, and the label that marks the bench's own bare containers.
type benchEnv struct {
	redis     *benchRedis
	docker    *client.Client
	baseImage string
	runID     string // value of labelBenchRun on every bare container this run starts
	tmp       string
	logDir    string // daemon logs, wrk outputs and profiles; empty: logs discarded
	getenv    func(string) string
	progress  io.Writer // progress lines and warnings, never the results
	binary    string    // faaspotd built for this run

	mu      sync.Mutex
	nodes   []*node
	nodeIDs []string
	prefixs []string
}

// labelBenchRun marks the bare containers the bench starts, so that it removes only those.
const labelBenchRun = "io.faaspot.bench.run"

// newEnv checks the base image and the Docker engine and starts (or reaches) Redis. On error it
// may return an environment to close along with it.
func newEnv(ctx context.Context, o Options, progress io.Writer) (*benchEnv, error) {
	e := &benchEnv{runID: faaspot.NewID()[:12], getenv: o.Getenv, progress: progress, logDir: o.LogDir}
	if e.getenv == nil {
		e.getenv = func(string) string { return "" }
	}
	e.baseImage = e.getenv("FAASPOT_BASE_IMAGE")
	if e.baseImage == "" {
		return nil, fmt.Errorf("FAASPOT_BASE_IMAGE is not set: run `make bench`, or set it to the base image (scripts/images.sh base)")
	}
	var err error
	if e.tmp, err = os.MkdirTemp("", "faaspot-bench-"); err != nil {
		return e, err
	}
	if e.logDir != "" {
		if err := os.MkdirAll(e.logDir, 0o755); err != nil {
			return e, err
		}
	}
	if e.docker, err = client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation()); err != nil {
		return e, fmt.Errorf("docker client: %w", err)
	}
	if _, err := e.docker.Ping(ctx); err != nil {
		return e, fmt.Errorf("docker engine does not answer: %w", err)
	}
	if _, err := e.docker.ImageInspect(ctx, e.baseImage); err != nil {
		return e, fmt.Errorf("base image %s: %w (run scripts/images.sh base)", e.baseImage, err)
	}
	if e.redis, err = startRedis(ctx, e.getenv("FAASPOT_REDIS_URL")); err != nil {
		return e, err
	}
	return e, nil
}

// track remembers a daemon's node id and key prefix before it opens, for the final sweep.
func (e *benchEnv) track(nodeID, prefix string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.nodeIDs = append(e.nodeIDs, nodeID)
	e.prefixs = append(e.prefixs, prefix)
}

// daemonBinary builds cmd/faaspotd of this module into the bench's temp dir, once.
func (e *benchEnv) daemonBinary(ctx context.Context) (string, error) {
	if e.binary != "" {
		return e.binary, nil
	}
	fmt.Fprintln(e.progress, "bench: building faaspotd")
	out := filepath.Join(e.tmp, "faaspotd")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/faaspot/faaspot/cmd/faaspotd")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build faaspotd: %w\n%s", err, b)
	}
	e.binary = out
	return out, nil
}

// close stops every daemon still open, removes every container the bench started and stops Redis.
func (e *benchEnv) close() {
	for _, n := range e.nodes {
		n.close()
	}
	if e.docker != nil {
		for _, id := range e.nodeIDs {
			e.sweepNode(id)
		}
		e.sweepBare()
	}
	if e.redis != nil {
		for _, p := range e.prefixs {
			e.redis.forget(p)
		}
		e.redis.stop()
	}
	if e.docker != nil {
		e.docker.Close()
	}
	os.RemoveAll(e.tmp)
}

// machine describes this machine and its Docker engine, as far as the engine answers.
func (e *benchEnv) machine(ctx context.Context) machine {
	m := machine{CPUs: runtime.NumCPU()}
	if info, err := e.docker.Info(ctx); err == nil {
		m.DockerVersion, m.CgroupVersion, m.StorageDriver = info.ServerVersion, info.CgroupVersion, info.Driver
		if info.NCPU > 0 {
			m.CPUs = info.NCPU
		}
	}
	return m
}

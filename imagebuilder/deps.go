package imagebuilder

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/docker/docker/api/types/container"

	"github.com/faaspot/faaspot/hardening"
)

// depsScript runs the build stages (see deps/deps.py for its protocol).
//
//go:embed deps/deps.py
var depsScript string

// BuildPrefix starts the line a build stage prints when it fails, with the user-facing message.
const BuildPrefix = "FAASPOT-BUILD: "

// DefaultDiskBytes sizes a build stage's /tmp when Config.DiskBytes is zero.
const DefaultDiskBytes = 1 << 30

// The requirements of a deployment are installed in two build stages, each a throwaway container
// of the base image run as the tenant's user, confined as a run (hardening.StageHostConfig:
// non-root, no capabilities, read-only root, pids, memory, CPU and /tmp limits), its output
// streamed back as a tar:
//
//   - fetch: the only step of a build with a network (Config.Network) and the index
//     (Config.PipIndexURL, given on stdin: never in a container's or image's configuration).
//     It downloads wheels with pip and, when source builds are allowed, the source distributions
//     of requirements without a wheel, without running any code of theirs.
//   - install: no network, no index. It installs from the fetched files into the site
//     directory, building source distributions (their code runs here) when they were allowed.
//
// The dependencies image is then built with the site directory in its build context (one COPY
// step; the build has no network and runs only the runner's compileall). The Engine's classic
// builder applies one network to every step of a build, and build arguments show in the image's
// history: hence stages, not build steps.

// stageJob is the first line of a stage's stdin.
type stageJob struct {
	Phase        string `json:"phase"`
	Requirements string `json:"requirements"`
	Source       bool   `json:"source"`
	IndexURL     string `json:"index_url,omitempty"`
}

// installRequirements runs the fetch and install stages of spec's requirements and returns the
// installed site directory as a tar in a temporary file (the caller closes and removes it,
// see removeTemp) and the stages' log, its credentials not yet redacted. A failure of the
// requirements (no wheel, a failed build, output over Config.DiskBytes) is a *BuildError.
func (b *Builder) installRequirements(ctx context.Context, spec Spec) (*os.File, string, error) {
	stageLog := &tailWriter{limit: b.cfg.LogLimit}
	dist, err := os.CreateTemp("", "faaspot-dist-*.tar")
	if err != nil {
		return nil, "", fmt.Errorf("requirements: %w", err)
	}
	defer removeTemp(dist)
	job := stageJob{Phase: "fetch", Requirements: spec.Requirements, Source: b.cfg.AllowSourceBuilds,
		IndexURL: b.cfg.PipIndexURL}
	if err := b.runStage(ctx, spec.TenantID, b.fetchNetwork(), job, nil, dist, stageLog); err != nil {
		return nil, stageLog.String(), err
	}
	if _, err := dist.Seek(0, io.SeekStart); err != nil {
		return nil, stageLog.String(), fmt.Errorf("requirements: %w", err)
	}
	site, err := os.CreateTemp("", "faaspot-site-*.tar")
	if err != nil {
		return nil, stageLog.String(), fmt.Errorf("requirements: %w", err)
	}
	job.Phase, job.IndexURL = "install", ""
	if err := b.runStage(ctx, spec.TenantID, "none", job, dist, site, stageLog); err != nil {
		removeTemp(site)
		return nil, stageLog.String(), err
	}
	if _, err := site.Seek(0, io.SeekStart); err != nil {
		removeTemp(site)
		return nil, stageLog.String(), fmt.Errorf("requirements: %w", err)
	}
	return site, stageLog.String(), nil
}

// removeTemp closes and removes a temporary file.
func removeTemp(f *os.File) {
	_ = f.Close()
	_ = os.Remove(f.Name())
}

// fetchNetwork is the network of the fetch stage: Config.Network, or the engine's default.
func (b *Builder) fetchNetwork() string {
	if b.cfg.Network == "" {
		return "default"
	}
	return b.cfg.Network
}

// runStage runs one build stage of tenant's job with network: input (after the job line) on
// its stdin, its stdout (at most Config.DiskBytes) to out, its stderr to stageLog. A stage that
// fails returns a *BuildError with the message it printed after BuildPrefix.
func (b *Builder) runStage(ctx context.Context, tenant, network string, job stageJob, input io.Reader,
	out io.Writer, stageLog *tailWriter) error {
	cc, hc, err := b.stageContainer(tenant, network)
	if err != nil {
		return err
	}
	line, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("%s stage: %w", job.Phase, err)
	}
	stdin := io.Reader(strings.NewReader(string(line) + "\n"))
	if input != nil {
		stdin = io.MultiReader(stdin, input)
	}
	if job.Phase == "fetch" {
		fmt.Fprintln(stageLog, "--- fetching the requirements")
	} else {
		fmt.Fprintln(stageLog, "--- installing the requirements (no network)")
	}
	status, err := b.runContainer(ctx, cc, hc, stdin, &capWriter{w: out, limit: b.cfg.DiskBytes}, stageLog)
	switch {
	case errors.Is(err, errOutputLimit):
		return &BuildError{Kind: ErrBuildFailed, Log: stageLog.String(),
			Message: fmt.Sprintf("installing the requirements failed: they take more than %d bytes", b.cfg.DiskBytes)}
	case err != nil:
		return fmt.Errorf("%s stage: %w", job.Phase, err)
	case status != 0:
		return stageFailure(job.Phase, status, stageLog.String())
	}
	return nil
}

// stageFailure is the *BuildError of a stage that exited with status: "installing the
// requirements failed: " and the message the stage printed after BuildPrefix, or one naming
// the stage and the status.
func stageFailure(phase string, status int64, stageLog string) *BuildError {
	msg := fmt.Sprintf("the %s stage exited with status %d", phase, status)
	for _, line := range strings.Split(stageLog, "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), BuildPrefix); ok {
			msg = m
		}
	}
	return &BuildError{Kind: ErrBuildFailed, Message: "installing the requirements failed: " + msg, Log: stageLog}
}

// stageContainer renders the configuration of a build stage of tenant with network: the base
// image running depsScript, the tenant's user, hardening.StageHostConfig with Config.MemoryBytes,
// Config.CPUs and Config.DiskBytes. It refuses a root user (wrapping hardening.ErrRootUser).
func (b *Builder) stageContainer(tenant, network string) (*container.Config, *container.HostConfig, error) {
	sb := b.buildHardening().ForTenant(tenant)
	sb.Network = network
	if err := sb.Validate(); err != nil {
		return nil, nil, fmt.Errorf("build stage container: %w", err)
	}
	cc := hardening.ContainerConfig(sb, hardening.RoleBuild)
	cc.Image = b.cfg.BaseImage
	cc.Entrypoint, cc.Cmd = []string{"python3", "-I", "-c", depsScript}, nil
	cc.Env = []string{"HOME=/tmp", "TMPDIR=/tmp"}
	cc.OpenStdin, cc.StdinOnce = true, true
	cc.AttachStdin, cc.AttachStdout, cc.AttachStderr = true, true, true
	res := hardening.Resources{MemoryBytes: b.cfg.MemoryBytes, NanoCPUs: int64(b.cfg.CPUs * 1e9)}
	return cc, hardening.StageHostConfig(sb, res, b.cfg.DiskBytes), nil
}

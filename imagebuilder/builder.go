// Package imagebuilder turns a deployment's code and requirements into a Docker image through the
// Engine API: it renders the Dockerfile itself, streams a build context, validates at build time
// that the code defines main(args, context), and keeps the build log.
package imagebuilder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/faaspot/faaspot/hardening"
	"github.com/faaspot/faaspot/registry"
)

// LabelManaged marks every image (and so every container) the builder makes.
const LabelManaged = hardening.LabelManaged

var (
	// ErrInvalidFunction means the code does not define a usable main(args, context) or does not parse.
	ErrInvalidFunction = errors.New("invalid function")
	// ErrBuildFailed means the image build failed for another reason (e.g. pip could not install).
	ErrBuildFailed = errors.New("build failed")
)

// BuildError carries the message meant for the user and the build log of a failed build.
// It wraps ErrInvalidFunction or ErrBuildFailed.
type BuildError struct {
	Kind    error
	Message string
	Log     string
}

func (e *BuildError) Error() string { return e.Message }
func (e *BuildError) Unwrap() error { return e.Kind }

// Config is the operator's build settings.
type Config struct {
	// BaseImage must provide python3 (with pip when requirements are used).
	BaseImage string
	// PipIndexURL, when set, is the index requirements are downloaded from (pip's default,
	// PyPI, otherwise). Credentials in it (https://user:password@host/simple) reach only the
	// fetch stage, on its stdin: never a build log (see RedactURL), an image's history or
	// environment, or a container's configuration.
	PipIndexURL string
	// Network is the network mode of the fetch stage ("" for the engine's default, "host", …),
	// the one build step with a network: it runs no code of the requirements. The image build
	// and the install stage have none.
	Network string
	// AllowSourceBuilds lets a requirement without a wheel be built from its source
	// distribution (its setup.py or build backend: code of the tenant's choosing), in the
	// install stage: no network, the tenant's non-root user, the stage limits (MemoryBytes,
	// CPUs, DiskBytes, the build pids limit). Off (the default): wheels only, and a requirement
	// without one fails the build with a message naming it.
	AllowSourceBuilds bool
	// Labels are put on every image built, besides LabelManaged and Sandbox.Node's LabelNode
	// (the daemon puts its node id and its store's, so that it cleans up only what it made: see
	// Owned).
	Labels map[string]string
	// Sandbox is the operator's container hardening, the sandbox's (package hardening): the
	// check containers run under it, with no network whatever its Network says (a check needs
	// none), labelled with its Node; build steps get what the build API can enforce of it (see
	// dockerBuild). Its zero value is hardened: non-root, no network, the default limits.
	Sandbox hardening.Config
	// LogLimit bounds the kept build log (its tail), in bytes.
	LogLimit int
	// Timeout bounds one build (requirements included); MemoryBytes and CPUs bound its steps
	// and stages (1 GiB and 1 CPU by default); DiskBytes sizes each stage's /tmp, which holds
	// the downloads and the installed requirements (DefaultDiskBytes by default) and counts
	// against its memory as well.
	Timeout     time.Duration
	MemoryBytes int64
	CPUs        float64
	DiskBytes   int64
	// ImportTimeout bounds the check of a version's code, its import with its requirements
	// included (DefaultImportTimeout when zero): past it the build fails, saying so.
	ImportTimeout time.Duration
	// Registry, when set, names every deployment image in it and has every build push it there
	// (see registry.go), logged in with RegistryCredentials; the zero Address keeps images local.
	Registry            registry.Address
	RegistryCredentials registry.Credentials
}

// DefaultImportTimeout is Config.ImportTimeout's default.
const DefaultImportTimeout = 60 * time.Second

// Spec is one deployment version to build.
type Spec struct {
	TenantID     string
	DeploymentID string
	Code         string
	Requirements string
}

// dockerAPI holds the Engine calls the builder makes; *client.Client satisfies it.
type dockerAPI interface {
	ImageBuild(ctx context.Context, buildContext io.Reader, options build.ImageBuildOptions) (build.ImageBuildResponse, error)
	ImageInspect(ctx context.Context, imageID string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImageList(ctx context.Context, options image.ListOptions) ([]image.Summary, error)
	ImageLoad(ctx context.Context, input io.Reader, opts ...client.ImageLoadOption) (image.LoadResponse, error)
	ImageRemove(ctx context.Context, imageID string, options image.RemoveOptions) ([]image.DeleteResponse, error)
	ImagePush(ctx context.Context, ref string, options image.PushOptions) (io.ReadCloser, error)
	ImagePull(ctx context.Context, ref string, options image.PullOptions) (io.ReadCloser, error)
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (container.CreateResponse, error)
	ContainerAttach(ctx context.Context, container string, options container.AttachOptions) (types.HijackedResponse, error)
	ContainerStart(ctx context.Context, container string, options container.StartOptions) error
	ContainerWait(ctx context.Context, container string, condition container.WaitCondition) (<-chan container.WaitResponse, <-chan error)
	ContainerRemove(ctx context.Context, container string, options container.RemoveOptions) error
}

// Builder builds deployment images. It is safe for concurrent use.
type Builder struct {
	docker dockerAPI
	cfg    Config
	labels map[string]string // of every image it makes: hardening's image labels and cfg.Labels
	log    *slog.Logger
	// depsLocks: one build of a missing dependencies image at a time, none removed while used.
	depsLocks depsLocks
	// regAuth is the X-Registry-Auth of pushes and pulls; manifests deletes from the registry
	// (nil without one), and noDeletes says once that the registry refuses it.
	regAuth   string
	manifests manifestDeleter
	noDeletes sync.Once
}

// DefaultTimeout bounds a build when Config.Timeout is zero (the daemon waits as long for a
// build when a create asks to wait).
const DefaultTimeout = 10 * time.Minute

// New returns a Builder. Zero fields of cfg take their defaults.
func New(docker dockerAPI, cfg Config, log *slog.Logger) *Builder {
	if cfg.LogLimit <= 0 {
		cfg.LogLimit = 64 << 10
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MemoryBytes <= 0 {
		cfg.MemoryBytes = 1 << 30
	}
	if cfg.CPUs <= 0 {
		cfg.CPUs = 1
	}
	if cfg.DiskBytes <= 0 {
		cfg.DiskBytes = DefaultDiskBytes
	}
	if cfg.ImportTimeout <= 0 {
		cfg.ImportTimeout = DefaultImportTimeout
	}
	labels := hardening.ImageLabels(cfg.Sandbox)
	maps.Copy(labels, cfg.Labels)
	b := &Builder{docker: docker, cfg: cfg, labels: labels, log: log.With("component", "imagebuilder")}
	if !cfg.Registry.IsZero() {
		b.regAuth, _ = cfg.RegistryCredentials.Header(cfg.Registry) // marshalling strings cannot fail
		b.manifests = registry.NewClient(cfg.Registry, cfg.RegistryCredentials, nil)
	}
	return b
}

// Build builds the image of spec and returns its tag and log. An image with the same content
// address is reused without building. A failure of the user's making returns a *BuildError;
// other errors (engine unreachable) are returned wrapped. With a registry (Config.Registry) the
// image is pushed there once built, or found built already; a push that fails returns a
// *PushError (the image is on the engine). Neither the log nor a *BuildError carries the
// index's credentials.
func (b *Builder) Build(ctx context.Context, spec Spec) (tag, buildLog string, err error) {
	if err := ValidateRequirements(spec.Requirements); err != nil {
		return "", "", &BuildError{Kind: ErrBuildFailed, Message: err.Error()}
	}
	tag = imageTag(spec, b.cfg)
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	tag, buildLog, err = b.build(ctx, spec, tag)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = &BuildError{Kind: ErrBuildFailed, Log: buildLog,
			Message: fmt.Sprintf("the build took longer than %s and was stopped", b.cfg.Timeout)}
	}
	if err == nil && !b.cfg.Registry.IsZero() {
		if perr := b.push(ctx, tag); perr != nil {
			err = &PushError{Image: tag, Err: perr}
		}
	}
	red := newRedactor(b.cfg.PipIndexURL)
	if err != nil {
		return "", red.text(buildLog), red.buildError(err)
	}
	return tag, red.text(buildLog), nil
}

// build makes the image tag in two parts: the dependencies image (base, runner, requirements;
// built from our Dockerfile, or found already built) and, on top of it, the code layer, loaded
// directly (layer.go). The check of main(args, context) runs meanwhile in a container of the
// dependencies image. When that fast path cannot run (an engine that refuses the load, a
// dependencies image removed meanwhile) the code is added by a build step on the dependencies
// image instead, and checked.
func (b *Builder) build(ctx context.Context, spec Spec, tag string) (string, string, error) {
	if _, err := b.docker.ImageInspect(ctx, tag); err == nil {
		return tag, "image is up to date\n", nil
	}
	deps := depsTag(spec, b.cfg)
	defer b.depsLocks.use(deps)()
	depsInfo, buildLog, err := b.buildDeps(ctx, spec, deps)
	if err != nil {
		return "", buildLog, err
	}
	msg, err := b.checkAndLoad(ctx, depsInfo, deps, tag, spec)
	switch {
	case msg != "": // the code fails the check: nothing to build, whatever the load did
		err = nil
	case err == nil:
		buildLog += "code layer added\n"
	}
	if err != nil && ctx.Err() == nil {
		b.log.Warn("the code layer could not be loaded; adding it by a build step instead", "image", tag, "err", err)
		full, err2 := b.buildCode(ctx, spec, deps, tag)
		buildLog += full
		if err2 != nil {
			return "", buildLog, err2
		}
		if msg, err = b.check(ctx, tag, spec.Code, spec.TenantID); err != nil || msg != "" {
			_, _ = b.docker.ImageRemove(context.WithoutCancel(ctx), tag, image.RemoveOptions{Force: true, PruneChildren: true})
		}
	}
	if err != nil {
		return "", buildLog, err
	}
	if msg != "" {
		buildLog += CheckPrefix + msg + "\n"
		return "", buildLog, &BuildError{Kind: ErrInvalidFunction, Message: msg, Log: buildLog}
	}
	b.log.Info("image built", "tenant", spec.TenantID, "deployment", spec.DeploymentID, "image", tag)
	return tag, buildLog, nil
}

// checkAndLoad checks spec's code in a container of the dependencies image deps while it loads
// the image tag (deps plus the code layer). It returns the check's message for code that fails
// it, an error when either step could not run; in both cases no image tag is left behind.
func (b *Builder) checkAndLoad(ctx context.Context, depsInfo image.InspectResponse, deps, tag string, spec Spec) (string, error) {
	type verdict struct {
		msg string
		err error
	}
	checked := make(chan verdict, 1)
	go func() {
		msg, err := b.check(ctx, deps, spec.Code, spec.TenantID)
		checked <- verdict{msg, err}
	}()
	loadErr := b.loadCode(ctx, depsInfo, deps, tag, spec.Code)
	v := <-checked
	if loadErr == nil && (v.err != nil || v.msg != "") {
		_, _ = b.docker.ImageRemove(context.WithoutCancel(ctx), tag, image.RemoveOptions{Force: true, PruneChildren: true})
	}
	return v.msg, errors.Join(v.err, loadErr)
}

// buildDeps makes sure the dependencies image deps exists, building it when it does not (the
// requirements installed by the build stages first, see deps.go), and returns its inspection
// and the build log. Builds needing the same deps take turns: one builds it, the next finds it.
func (b *Builder) buildDeps(ctx context.Context, spec Spec, deps string) (image.InspectResponse, string, error) {
	defer b.depsLocks.building(deps)()
	if info, err := b.docker.ImageInspect(ctx, deps); err == nil {
		return info, "dependencies image is up to date\n", nil
	}
	files := map[string]string{"runner.py": Runner}
	var site io.Reader
	var buildLog string
	hasReq := strings.TrimSpace(spec.Requirements) != ""
	if hasReq {
		f, stageLog, err := b.installRequirements(ctx, spec)
		buildLog = stageLog
		if err != nil {
			return image.InspectResponse{}, buildLog, err
		}
		defer removeTemp(f)
		site = f
	}
	files["Dockerfile"] = renderDockerfile(dockerfileSpec{BaseImage: b.cfg.BaseImage, HasRequirements: hasReq})
	imageLog, err := b.dockerBuild(ctx, deps, files, site, b.labels)
	buildLog += imageLog
	if err != nil {
		return image.InspectResponse{}, buildLog, err
	}
	info, err := b.docker.ImageInspect(ctx, deps)
	if err != nil {
		return image.InspectResponse{}, buildLog, fmt.Errorf("inspect %s: %w", deps, err)
	}
	return info, buildLog, nil
}

// buildCode builds the image tag as the dependencies image deps (built again if it was removed
// meanwhile) plus spec's code, by a build step, labelled as the loaded images are (LabelDeps).
// It returns the build log.
func (b *Builder) buildCode(ctx context.Context, spec Spec, deps, tag string) (string, error) {
	if _, buildLog, err := b.buildDeps(ctx, spec, deps); err != nil {
		return buildLog, err
	}
	labels := maps.Clone(b.labels)
	labels[LabelDeps] = deps
	files := map[string]string{"Dockerfile": renderCodeDockerfile(deps), "main.py": spec.Code}
	return b.dockerBuild(ctx, tag, files, nil, labels)
}

// dockerBuild builds the context of files and site (see buildContext) into the image tag,
// labelled labels, and returns the build log.
func (b *Builder) dockerBuild(ctx context.Context, tag string, files map[string]string, site io.Reader,
	labels map[string]string) (string, error) {
	buildCtx := buildContext(files, site)
	defer buildCtx.Close()
	opts := b.buildOptions(tag)
	opts.Labels = labels
	resp, err := b.docker.ImageBuild(ctx, buildCtx, opts)
	if err != nil {
		return "", fmt.Errorf("build image %s: %w", tag, err)
	}
	defer resp.Body.Close()
	buildLog, buildErr, err := readBuildStream(resp.Body, b.cfg.LogLimit)
	if err != nil {
		return buildLog, fmt.Errorf("read build output of %s: %w", tag, err)
	}
	if buildErr != "" {
		b.removeSteps(ctx, buildLog)
		return buildLog, classify(buildErr, buildLog)
	}
	return buildLog, nil
}

// buildOptions renders the options of the build of tag: the classic builder, the images' labels,
// no network (no step needs one: the requirements come installed by the build stages), no build
// arguments (they would show in the image's history), and the limits of a run as far as the
// build API enforces them (see buildHardening and hardening.BuildOptions).
func (b *Builder) buildOptions(tag string) build.ImageBuildOptions {
	opts := hardening.BuildOptions(b.buildHardening(), hardening.Resources{MemoryBytes: b.cfg.MemoryBytes,
		NanoCPUs: int64(b.cfg.CPUs * 1e9)})
	opts.Tags = []string{tag}
	opts.Labels = b.labels
	opts.Remove, opts.ForceRemove = true, true
	opts.NetworkMode = "none"
	opts.Version = build.BuilderV1
	return opts
}

// buildProcesses is the pids limit of the build stages (compilers and build backends run many
// processes) and stands in for the image build's: the build API enforces it as an nproc ulimit,
// which counts every process of the step's uid on the host, so it is larger than a run's.
const buildProcesses = 1024

// buildHardening is the hardening of build steps and stages: the sandbox's, with buildProcesses
// processes. The network is set apart (the fetch stage's is Config.Network).
func (b *Builder) buildHardening() hardening.Config {
	cfg := b.cfg.Sandbox
	cfg.PidsLimit = buildProcesses
	return cfg
}

// stepImage matches the log line naming the image a build step made.
var stepImage = regexp.MustCompile(`(?m)^ ---> ([0-9a-f]{12})$`)

// removeSteps removes the untagged images the steps of a failed build made (the classic builder
// keeps them), from the last one up to the first image something else still uses or tags: the
// steps shared with other builds stay, as their cache.
func (b *Builder) removeSteps(ctx context.Context, buildLog string) {
	ids := stepImage.FindAllStringSubmatch(buildLog, -1)
	if len(ids) == 0 {
		return
	}
	last := ids[len(ids)-1][1]
	info, err := b.docker.ImageInspect(context.WithoutCancel(ctx), last)
	if err != nil || len(info.RepoTags) > 0 {
		return
	}
	if _, err := b.docker.ImageRemove(context.WithoutCancel(ctx), last, image.RemoveOptions{PruneChildren: true}); err != nil {
		b.log.Debug("steps of a failed build kept", "image", last, "err", err)
	}
}

// loadCode makes the image tag from the dependencies image deps (inspected as info) and the code
// layer.
func (b *Builder) loadCode(ctx context.Context, info image.InspectResponse, deps, tag, code string) error {
	archive, err := codeImageArchive(info, deps, tag, code, b.labels, time.Now())
	if err != nil {
		return err
	}
	resp, err := b.docker.ImageLoad(ctx, bytes.NewReader(archive), client.ImageLoadWithQuiet(true))
	if err != nil {
		return fmt.Errorf("load %s: %w", tag, err)
	}
	defer resp.Body.Close()
	if !resp.JSON {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	out, loadErr, err := readBuildStream(resp.Body, 4<<10)
	switch {
	case err != nil:
		return fmt.Errorf("read load output of %s: %w", tag, err)
	case loadErr != "":
		return fmt.Errorf("load %s: %s (%s)", tag, loadErr, strings.TrimSpace(out))
	}
	return nil
}

// classify turns a failed build into the message a user can act on.
func classify(buildErr, buildLog string) *BuildError {
	var pipErrors []string
	for _, line := range strings.Split(buildLog, "\n") {
		if msg, ok := strings.CutPrefix(strings.TrimSpace(line), CheckPrefix); ok {
			return &BuildError{Kind: ErrInvalidFunction, Message: msg, Log: buildLog}
		}
		if strings.HasPrefix(strings.TrimSpace(line), "ERROR:") {
			pipErrors = append(pipErrors, strings.TrimSpace(line))
		}
	}
	if len(pipErrors) > 0 {
		return &BuildError{Kind: ErrBuildFailed, Log: buildLog,
			Message: "installing the requirements failed: " + strings.Join(pipErrors, " ")}
	}
	return &BuildError{Kind: ErrBuildFailed, Message: "image build failed: " + buildErr, Log: buildLog}
}

// Package imagebuilder turns a deployment's code and requirements into a Docker image through the
// Engine API: it renders the Dockerfile itself, streams a build context, validates at build time
// that the code defines main(args, context), and keeps the build log.
package imagebuilder

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// LabelManaged marks every image (and so every container) the builder makes.
const LabelManaged = "io.faaspot.managed"

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
	// PipIndexURL, when set, is the index pip installs from.
	PipIndexURL string
	// Network is the network mode of build containers ("" for the engine's default, "host", …).
	Network string
	// Labels are put on every image built, besides LabelManaged (the daemon puts its node id,
	// so that it cleans up only what it made: see Owned).
	Labels map[string]string
	// LogLimit bounds the kept build log (its tail), in bytes.
	LogLimit int
	// Timeout bounds one build (requirements included); MemoryBytes and CPUs bound its steps.
	Timeout     time.Duration
	MemoryBytes int64
	CPUs        float64
}

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
	log    *slog.Logger
}

// New returns a Builder.
func New(docker dockerAPI, cfg Config, log *slog.Logger) *Builder {
	if cfg.LogLimit <= 0 {
		cfg.LogLimit = 64 << 10
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	if cfg.MemoryBytes <= 0 {
		cfg.MemoryBytes = 1 << 30
	}
	if cfg.CPUs <= 0 {
		cfg.CPUs = 1
	}
	return &Builder{docker: docker, cfg: cfg, log: log.With("component", "imagebuilder")}
}

// Build builds the image of spec and returns its tag and log. An image with the same content
// address is reused without building. A failure of the user's making returns a *BuildError;
// other errors (engine unreachable) are returned wrapped.
func (b *Builder) Build(ctx context.Context, spec Spec) (tag, buildLog string, err error) {
	if err := ValidateRequirements(spec.Requirements); err != nil {
		return "", "", &BuildError{Kind: ErrBuildFailed, Message: err.Error()}
	}
	tag = imageTag(spec, b.cfg)
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	tag, buildLog, err = b.build(ctx, spec, tag)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "", buildLog, &BuildError{Kind: ErrBuildFailed, Log: buildLog,
			Message: fmt.Sprintf("the build took longer than %s and was stopped", b.cfg.Timeout)}
	}
	return tag, buildLog, err
}

// build makes the image tag in two parts: the dependencies image (base, runner, requirements;
// built from our Dockerfile, or found already built) and, on top of it, the code layer, loaded
// directly (layer.go). The check of main(args, context) runs meanwhile in a container of the
// dependencies image. When that fast path cannot run (an engine that refuses the load, a
// dependencies image removed meanwhile) the whole Dockerfile is built and checked instead.
func (b *Builder) build(ctx context.Context, spec Spec, tag string) (string, string, error) {
	if _, err := b.docker.ImageInspect(ctx, tag); err == nil {
		return tag, "image " + tag + " is up to date\n", nil
	}
	deps := depsTag(spec, b.cfg)
	depsInfo, buildLog, err := b.buildDeps(ctx, spec, deps)
	if err != nil {
		return "", buildLog, err
	}
	msg, err := b.checkAndLoad(ctx, depsInfo, deps, tag, spec.Code)
	switch {
	case msg != "": // the code fails the check: nothing to build, whatever the load did
		err = nil
	case err == nil:
		buildLog += "code layer added: " + tag + "\n"
	}
	if err != nil && ctx.Err() == nil {
		b.log.Warn("the code layer could not be added; building the whole image instead", "image", tag, "err", err)
		full, err2 := b.dockerBuild(ctx, spec, tag, true)
		buildLog += full
		if err2 != nil {
			return "", buildLog, err2
		}
		if msg, err = b.check(ctx, tag, spec.Code); err != nil || msg != "" {
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

// checkAndLoad checks code in a container of the dependencies image deps while it loads the
// image tag (deps plus the code layer). It returns the check's message for code that fails it,
// an error when either step could not run; in both cases no image tag is left behind.
func (b *Builder) checkAndLoad(ctx context.Context, depsInfo image.InspectResponse, deps, tag, code string) (string, error) {
	type verdict struct {
		msg string
		err error
	}
	checked := make(chan verdict, 1)
	go func() {
		msg, err := b.check(ctx, deps, code)
		checked <- verdict{msg, err}
	}()
	loadErr := b.loadCode(ctx, depsInfo, deps, tag, code)
	v := <-checked
	if loadErr == nil && (v.err != nil || v.msg != "") {
		_, _ = b.docker.ImageRemove(context.WithoutCancel(ctx), tag, image.RemoveOptions{Force: true, PruneChildren: true})
	}
	return v.msg, errors.Join(v.err, loadErr)
}

// buildDeps makes sure the dependencies image deps exists, building it when it does not, and
// returns its inspection and the build log.
func (b *Builder) buildDeps(ctx context.Context, spec Spec, deps string) (image.InspectResponse, string, error) {
	if info, err := b.docker.ImageInspect(ctx, deps); err == nil {
		return info, "dependencies image " + deps + " is up to date\n", nil
	}
	buildLog, err := b.dockerBuild(ctx, spec, deps, false)
	if err != nil {
		return image.InspectResponse{}, buildLog, err
	}
	info, err := b.docker.ImageInspect(ctx, deps)
	if err != nil {
		return image.InspectResponse{}, buildLog, fmt.Errorf("inspect %s: %w", deps, err)
	}
	return info, buildLog, nil
}

// dockerBuild builds our Dockerfile for spec, with the code (the whole deployment image) or
// without it (the dependencies image), tagged tag. It returns the build log.
func (b *Builder) dockerBuild(ctx context.Context, spec Spec, tag string, withCode bool) (string, error) {
	hasReq := strings.TrimSpace(spec.Requirements) != ""
	df := renderDockerfile(dockerfileSpec{BaseImage: b.cfg.BaseImage, HasRequirements: hasReq,
		PipIndex: b.cfg.PipIndexURL != "", Code: withCode})
	files := map[string]string{"Dockerfile": df, "runner.py": Runner}
	if withCode {
		files["main.py"] = spec.Code
	}
	if hasReq {
		files["requirements.txt"] = spec.Requirements
	}
	tarball, err := tarFiles(files)
	if err != nil {
		return "", fmt.Errorf("build context: %w", err)
	}
	opts := build.ImageBuildOptions{
		Tags:        []string{tag},
		Labels:      b.cfg.Labels,
		Remove:      true,
		ForceRemove: true,
		NetworkMode: b.cfg.Network,
		Version:     build.BuilderV1,
		// A requirement's install code runs in these steps: bound it like a run.
		Memory:     b.cfg.MemoryBytes,
		MemorySwap: b.cfg.MemoryBytes,
		CPUPeriod:  100000,
		CPUQuota:   int64(b.cfg.CPUs * 100000),
		Ulimits:    []*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 1024}, {Name: "nproc", Soft: 1024, Hard: 1024}},
	}
	if b.cfg.PipIndexURL != "" {
		u := b.cfg.PipIndexURL
		opts.BuildArgs = map[string]*string{"PIP_INDEX_URL": &u}
	}
	resp, err := b.docker.ImageBuild(ctx, tarball, opts)
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
	archive, err := codeImageArchive(info, deps, tag, code, b.cfg.Labels, time.Now())
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

// RemoveImage removes one deployment image, unless a container still uses it, and then its
// dependencies image when no other image of the deployment is built on it.
func (b *Builder) RemoveImage(ctx context.Context, tag string) error {
	var deps string
	if info, err := b.docker.ImageInspect(ctx, tag); err == nil && info.Config != nil {
		deps = info.Config.Labels[LabelDeps]
	}
	if _, err := b.docker.ImageRemove(ctx, tag, image.RemoveOptions{PruneChildren: true}); err != nil {
		return fmt.Errorf("remove image %s: %w", tag, err)
	}
	if deps == "" {
		return nil
	}
	users, err := b.docker.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelDeps+"="+deps))})
	if err != nil {
		return fmt.Errorf("list users of %s: %w", deps, err)
	}
	if len(users) > 0 {
		return nil
	}
	// A build of this deployment that still reaches for deps falls back to the whole Dockerfile.
	if _, err := b.docker.ImageRemove(ctx, deps, image.RemoveOptions{PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove dependencies image %s: %w", deps, err)
	}
	return nil
}

// Remove deletes every image of the deployment (by repository), its deployment images before
// their dependencies images. Images still used by a container are skipped and reported; the
// janitor removes them once unused.
func (b *Builder) Remove(ctx context.Context, tenantID, deploymentID string) error {
	_, err := b.Prune(ctx, Ref{TenantID: tenantID, DeploymentID: deploymentID}, "", 0)
	return err
}

// Ref names one deployment by its server-side ids.
type Ref struct{ TenantID, DeploymentID string }

// Owned lists the deployments that have images carrying every one of the builder's labels.
func (b *Builder) Owned(ctx context.Context) ([]Ref, error) {
	f := filters.NewArgs(filters.Arg("label", LabelManaged+"=true"))
	for k, v := range b.cfg.Labels {
		f.Add("label", k+"="+v)
	}
	imgs, err := b.docker.ImageList(ctx, image.ListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	seen := map[Ref]bool{}
	var refs []Ref
	for _, img := range imgs {
		for _, tag := range img.RepoTags {
			if r, ok := parseRepository(tag); ok && !seen[r] {
				seen[r] = true
				refs = append(refs, r)
			}
		}
	}
	return refs, nil
}

// RemoveOwned removes the images of every deployment that Owned lists (all a node built, when
// the node is retired or a test ends); images in use stay. A builder without labels refuses: it
// would own every deployment image on the engine.
func (b *Builder) RemoveOwned(ctx context.Context) error {
	if len(b.cfg.Labels) == 0 {
		return errors.New("remove owned images: the builder has no labels")
	}
	refs, err := b.Owned(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range refs {
		errs = append(errs, b.Remove(ctx, r.TenantID, r.DeploymentID))
	}
	return errors.Join(errs...)
}

// parseRepository reads the ids back from a tag made by repository.
func parseRepository(tag string) (Ref, bool) {
	repo, _, _ := strings.Cut(tag, ":")
	rest, ok := strings.CutPrefix(repo, "faaspot/t-")
	if !ok {
		return Ref{}, false
	}
	tid, did, ok := strings.Cut(rest, "/d-")
	if !ok || tid == "" || did == "" || strings.Contains(did, "/") {
		return Ref{}, false
	}
	return Ref{TenantID: tid, DeploymentID: did}, true
}

// Prune removes the images of deployment r other than keep and the dependencies image keep is
// built on, when they are older than minAge (younger ones may belong to a build in progress);
// images a container still uses stay. It returns how many tags it removed.
func (b *Builder) Prune(ctx context.Context, r Ref, keep string, minAge time.Duration) (int, error) {
	imgs, err := b.docker.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(
		filters.Arg("reference", repository(r.TenantID, r.DeploymentID)))})
	if err != nil {
		return 0, fmt.Errorf("list images of %s: %w", r.DeploymentID, err)
	}
	keepDeps := ""
	for _, img := range imgs {
		if keep != "" && slices.Contains(img.RepoTags, keep) {
			keepDeps = img.Labels[LabelDeps]
		}
	}
	// Deployment images first, so that their dependencies images are free to go after them.
	slices.SortStableFunc(imgs, func(a, b image.Summary) int {
		return cmp.Compare(len(b.Labels[LabelDeps]), len(a.Labels[LabelDeps]))
	})
	removed := 0
	var errs []error
	for _, img := range imgs {
		if time.Since(time.Unix(img.Created, 0)) < minAge {
			continue
		}
		for _, tag := range img.RepoTags {
			if tag == keep || tag == keepDeps {
				continue
			}
			if _, err := b.docker.ImageRemove(ctx, tag, image.RemoveOptions{PruneChildren: true}); err != nil {
				if !cerrdefs.IsNotFound(err) {
					errs = append(errs, fmt.Errorf("remove image %s: %w", tag, err))
				}
				continue
			}
			removed++
		}
	}
	return removed, errors.Join(errs...)
}

package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/daemon"
	"github.com/faaspot/faaspot/imagebuilder"
	"github.com/faaspot/faaspot/sandbox"
)

// TestCodeLayerImages follows a deployment's images through the fast code-only path: the code is
// one layer loaded on a dependencies image (base, runner, requirements) that versions differing
// only in code share; a requirements change makes a new dependencies image and the old one goes
// with its last version; code failing the check leaves no image; delete leaves nothing.
func TestCodeLayerImages(t *testing.T) {
	n := startNode(t, func(c *daemon.Config) { c.VersionsKept = 1 }) // a replaced version's image goes
	ctx := context.Background()
	code := func(v int) string {
		return "import faaspot_testpkg\n\ndef main(args, context):\n    return [" + string(rune('0'+v)) + ", faaspot_testpkg.hello()]\n"
	}
	req := faaspot.DeploymentRequest{Name: "layers", Code: code(1), Requirements: testPkg + "==" + testVersion + "\n"}
	d1 := n.deploy(t, req)
	deps1, layers1 := depsOf(t, d1.Image)

	req.Code = code(2)
	d2 := n.deploy(t, req)
	deps2, layers2 := depsOf(t, d2.Image)
	if deps2 != deps1 {
		t.Errorf("a code-only redeploy made a new dependencies image: %s, then %s", deps1, deps2)
	}
	depsLayers := imageLayers(t, deps1)
	if !slices.Equal(layers2[:len(layers2)-1], depsLayers) || len(layers2) != len(depsLayers)+1 {
		t.Errorf("version 2 layers %v, want the dependencies' %v and one code layer", layers2, depsLayers)
	}
	if slices.Equal(layers1, layers2) {
		t.Error("two versions with different code have the same layers")
	}
	if v, _, err := n.c.RunSync(ctx, "layers", nil); err != nil || string(v) != `[2,"hello from a wheel"]` {
		t.Fatalf("run of version 2 = %s, %v; want the new code with its requirement", v, err)
	}
	waitGone(t, d1.Image)
	if _, err := env.docker.ImageInspect(ctx, deps1); err != nil {
		t.Errorf("the dependencies image went with version 1 while version 2 uses it: %v", err)
	}

	// Code that fails the check: the deployment fails, no image of that version is left.
	before := repositoryTags(t, d2.Image)
	req.Code = "def handler(event):\n    return 1\n"
	bad, err := n.c.CreateDeployment(ctx, req, true)
	if err == nil || bad.Status != faaspot.StatusFailed || !strings.Contains(bad.Error, "main(args, context)") {
		t.Fatalf("code without main = %+v, %v; want failed with the check's message", bad, err)
	}
	if after := repositoryTags(t, d2.Image); !slices.Equal(after, before) {
		t.Errorf("images after a failed check %v, want %v", after, before)
	}
	if v, _, err := n.c.RunSync(ctx, "layers", nil); err != nil || string(v) != `[2,"hello from a wheel"]` {
		t.Errorf("run after the failed version = %s, %v; want version 2", v, err)
	}

	// Requirements changed: a new dependencies image; the old one goes with version 2.
	d4 := n.deploy(t, faaspot.DeploymentRequest{Name: "layers", Code: "def main(args, context):\n    return 4\n"})
	deps4, _ := depsOf(t, d4.Image)
	if deps4 == deps1 {
		t.Fatalf("a requirements change kept the dependencies image %s", deps1)
	}
	waitGone(t, d2.Image)
	waitGone(t, deps1)

	if err := n.c.DeleteDeployment(ctx, "layers"); err != nil {
		t.Fatal(err)
	}
	if left := repositoryTags(t, d4.Image); len(left) != 0 {
		t.Errorf("images left after delete: %v", left)
	}
}

// depsOf returns the dependencies image a deployment image names, and the image's layers.
func depsOf(t *testing.T, tag string) (string, []string) {
	t.Helper()
	info, err := env.docker.ImageInspect(context.Background(), tag)
	if err != nil || info.Config == nil {
		t.Fatalf("inspect %s: %v", tag, err)
	}
	deps := info.Config.Labels[imagebuilder.LabelDeps]
	if !strings.HasPrefix(deps, strings.Split(tag, "/d-")[0]+"/deps:") {
		t.Fatalf("image %s names dependencies image %q, want one of its tenant's dependencies repository", tag, deps)
	}
	return deps, info.RootFS.Layers
}

func imageLayers(t *testing.T, tag string) []string {
	t.Helper()
	info, err := env.docker.ImageInspect(context.Background(), tag)
	if err != nil {
		t.Fatalf("inspect %s: %v", tag, err)
	}
	return info.RootFS.Layers
}

// repositoryTags lists the tags of the repository of tag, sorted.
func repositoryTags(t *testing.T, tag string) []string {
	t.Helper()
	imgs, err := env.docker.ImageList(context.Background(), image.ListOptions{Filters: filters.NewArgs(
		filters.Arg("reference", strings.Split(tag, ":")[0]))})
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, img := range imgs {
		tags = append(tags, img.RepoTags...)
	}
	slices.Sort(tags)
	return tags
}

// waitGone waits until the image tag is removed: the worker removes the image of a version no
// longer kept right after recording the next version, so shortly after the waiter is woken.
func waitGone(t *testing.T, tag string) {
	t.Helper()
	eventually(t, "image "+tag+" removed", func() bool { return !imageExists(tag) })
}

func imageExists(tag string) bool {
	_, err := env.docker.ImageInspect(context.Background(), tag)
	return err == nil
}

// refusingLoad is the real engine, except that it refuses to load images, as an engine whose
// image store cannot take an archive of one layer would.
type refusingLoad struct{ *client.Client }

func (refusingLoad) ImageLoad(context.Context, io.Reader, ...client.ImageLoadOption) (image.LoadResponse, error) {
	return image.LoadResponse{}, errors.New("load refused by the test")
}

// TestBuildWithoutLoad: when the engine refuses the code layer, the builder builds the whole
// Dockerfile instead: the image works, and code failing the check still fails with no image left.
func TestBuildWithoutLoad(t *testing.T) {
	ctx, start := context.Background(), time.Now()
	b := imagebuilder.New(refusingLoad{env.docker}, imagebuilder.Config{BaseImage: env.baseImage},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	id := faaspot.NewID()
	spec := imagebuilder.Spec{TenantID: "it", DeploymentID: id, Code: "def main(args, context):\n    return 'full build'\n"}
	tag, buildLog, err := b.Build(ctx, spec)
	if err != nil {
		t.Fatalf("build = %v\n%s", err, buildLog)
	}
	t.Cleanup(func() {
		if err := b.Remove(context.Background(), "it", id); err != nil {
			t.Errorf("remove the test's images: %v", err)
		}
	})
	info, err := env.docker.ImageInspect(ctx, tag)
	if err != nil || !strings.Contains(info.Config.Labels[imagebuilder.LabelDeps], "/deps:") || !strings.Contains(buildLog, "COPY main.py") {
		t.Fatalf("image %s: %v; want the code added by a build step on the dependencies image\n%s", tag, err, buildLog)
	}
	out, err := exec.CommandContext(ctx, "docker", "run", "--rm", "--network", "none", "--entrypoint", "python3", tag,
		"-c", "import runpy; print(runpy.run_path('"+imagebuilder.FunctionPath+"')['main']({}, {}))").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "full build" {
		t.Errorf("the image's code = %q, %v", out, err)
	}

	spec.Code = "def handler(event):\n    return 1\n"
	_, buildLog, err = b.Build(ctx, spec)
	if strings.Contains(buildLog, "COPY main.py") {
		t.Errorf("code that fails the check was built all the same:\n%s", buildLog)
	}
	var be *imagebuilder.BuildError
	if !errors.As(err, &be) || !errors.Is(err, imagebuilder.ErrInvalidFunction) {
		t.Fatalf("code without main = %v, want an invalid function", err)
	}
	for _, tag := range repositoryTags(t, tag) {
		if !strings.Contains(tag, ":deps-") && tag != info.RepoTags[0] {
			t.Errorf("image %s left by the failed build", tag)
		}
	}
	// Nor is any untagged image left behind.
	for _, img := range danglingOurs(t) {
		if time.Unix(img.Created, 0).After(start.Add(-time.Second)) {
			t.Errorf("untagged image %s left by the builds", img.ID)
		}
	}
}

// danglingOurs lists the untagged images labelled as ours.
func danglingOurs(t *testing.T) []image.Summary {
	t.Helper()
	imgs, err := env.docker.ImageList(context.Background(), image.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("dangling", "true"), filters.Arg("label", imagebuilder.LabelManaged+"=true"))})
	if err != nil {
		t.Fatal(err)
	}
	return imgs
}

// TestImageJanitor: images a delete or a redeploy could not remove (a run still used them; a build
// ended after the delete) are removed by the janitor later; a live version's images are never
// touched, not even by the janitor of a node of another store on the same engine.
func TestImageJanitor(t *testing.T) {
	fast := func(c *daemon.Config) {
		c.JanitorInterval, c.JanitorGrace = 300*time.Millisecond, 0
		c.VersionsKept = 1 // a replaced version's image goes (kept versions keep theirs)
	}
	n := startNode(t, fast)
	ctx := context.Background()
	keep := n.deploy(t, faaspot.DeploymentRequest{Name: "keep", Code: "def main(args, context):\n    return 1\n"})
	busy := n.deploy(t, faaspot.DeploymentRequest{Name: "busy",
		Code: "import time\ndef main(args, context):\n    time.sleep(args.get('sleep', 0))\n    return 'done'\n"})
	id, err := n.c.Run(ctx, "busy", map[string]any{"sleep": 4})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the slow run started", func() bool {
		e, err := n.c.GetExecution(ctx, id)
		return err == nil && e.Status == faaspot.ExecRunning
	})
	if err := n.c.DeleteDeployment(ctx, "busy"); err != nil {
		t.Fatal(err)
	}
	if !imageExists(busy.Image) {
		t.Fatalf("the image of %s went while a run used it", busy.Image)
	}
	if e, err := n.c.WaitExecution(ctx, id, 30*time.Second); err != nil || !e.Terminal() {
		t.Fatalf("the run of the deleted deployment: %+v %v", e, err)
	}
	waitGone(t, busy.Image)

	// Redeployed while a run of the old version goes on: the old image goes once the run ends.
	slow := "import time\ndef main(args, context):\n    time.sleep(args.get('sleep', 0))\n    return %d\n"
	v1 := n.deploy(t, faaspot.DeploymentRequest{Name: "ver", Code: fmt.Sprintf(slow, 1)})
	id, err = n.c.Run(ctx, "ver", map[string]any{"sleep": 4})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the slow run of version 1 started", func() bool {
		e, err := n.c.GetExecution(ctx, id)
		return err == nil && e.Status == faaspot.ExecRunning
	})
	v2 := n.deploy(t, faaspot.DeploymentRequest{Name: "ver", Code: fmt.Sprintf(slow, 2)})
	if !imageExists(v1.Image) {
		t.Fatalf("the image of version 1 went while a run used it")
	}
	if e, err := n.c.WaitExecution(ctx, id, 30*time.Second); err != nil || string(e.Result) != "1" {
		t.Fatalf("the run of version 1: %+v %v", e, err)
	}
	waitGone(t, v1.Image)
	deps2, _ := depsOf(t, v2.Image)
	if !imageExists(deps2) {
		t.Errorf("the dependencies image of the ready version went")
	}
	if v, _, err := n.c.RunSync(ctx, "ver", nil); err != nil || string(v) != "2" {
		t.Errorf("run of version 2: %s %v", v, err)
	}

	// Deleted while its first build runs: nothing of it is left once the build ends.
	late, err := n.c.CreateDeployment(ctx, faaspot.DeploymentRequest{Name: "late", Code: "def main(args, context):\n    return 2\n"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.c.DeleteDeployment(ctx, "late"); err != nil {
		t.Fatal(err)
	}
	repo := strings.Split(keep.Image, "/d-")[0] + "/d-" + late.ID + ":x"
	eventually(t, "no image of a deployment deleted during its build", func() bool { return len(repositoryTags(t, repo)) == 0 })

	// A node of another store on the same engine: its janitor must leave this store's images.
	other := startNode(t, fast)
	other.deploy(t, faaspot.DeploymentRequest{Name: "other", Code: "def main(args, context):\n    return 3\n"})
	time.Sleep(time.Second) // several passes of both janitors
	if !imageExists(keep.Image) {
		t.Errorf("the image of a live deployment (%s) was removed", keep.Image)
	}
	if v, _, err := n.c.RunSync(ctx, "keep", nil); err != nil || string(v) != "1" {
		t.Errorf("run of the live deployment: %s %v", v, err)
	}
}

// TestMissingImageRebuilt: a worker whose engine lacks a deployment's image (a worker node on
// another engine than the one that built it, or an image removed by hand) builds it from the
// source the store keeps for the ready version, and the run completes.
func TestMissingImageRebuilt(t *testing.T) {
	n := startNode(t, func(c *daemon.Config) { c.Warm = false }) // every run creates a container
	ctx := context.Background()
	d := n.deploy(t, faaspot.DeploymentRequest{Name: "gone", Requirements: testPkg + "==" + testVersion + "\n",
		Code: "import faaspot_testpkg\ndef main(args, context):\n    return faaspot_testpkg.hello()\n"})
	deps, _ := depsOf(t, d.Image)
	for _, tag := range []string{d.Image, deps} {
		if _, err := env.docker.ImageRemove(ctx, tag, image.RemoveOptions{Force: true}); err != nil {
			t.Fatalf("remove %s: %v", tag, err)
		}
	}
	v, id, err := n.c.RunSync(ctx, "gone", nil)
	if err != nil || string(v) != `"hello from a wheel"` {
		t.Fatalf("run without the image on the engine = %s, %v", v, err)
	}
	if e, err := n.c.GetExecution(ctx, id); err != nil || e.Status != faaspot.ExecCompleted || !e.ColdStart {
		t.Errorf("its record: %+v %v", e, err)
	}
	if !imageExists(d.Image) {
		t.Errorf("the image %s was not built again under its tag", d.Image)
	}
	if v, _, err := n.c.RunSync(ctx, "gone", nil); err != nil || string(v) != `"hello from a wheel"` {
		t.Errorf("next run = %s, %v", v, err)
	}
}

// TestRestartEmbeddedStore is `make run` restarted: a daemon on the embedded store is closed and
// started again with the same data dir. The dev tenant has the same token, which works on the new
// (empty) store; the images the first start built, for a store that is gone, are removed once
// older than the janitor's grace; the second start's images and another node's stay.
func TestRestartEmbeddedStore(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	const grace = 5 * time.Second
	embedded := func(c *daemon.Config) {
		c.RedisURL, c.SecretKeyFile, c.DataDir, c.NodeID, c.DevTenant = "", "", dataDir, "", "dev"
		c.JanitorInterval, c.JanitorGrace = 300*time.Millisecond, grace
	}
	first := startNode(t, embedded)
	nodeID := readNodeID(t, dataDir)
	dev := fsclient.New(first.url, first.d.DevToken)
	if first.d.DevToken == "" {
		t.Fatal("no dev token on the first start")
	}
	code := "def main(args, context):\n    return %q\n"
	if d, err := dev.CreateDeployment(ctx, faaspot.DeploymentRequest{Name: "before", Code: fmt.Sprintf(code, "before")}, true); err != nil || d.Status != faaspot.StatusReady {
		t.Fatalf("deploy on the first start: %+v, %v", d, err)
	}
	old := nodeImages(t, nodeID)
	if len(old) == 0 {
		t.Fatalf("no image of node %s after a build", nodeID)
	}
	builtAt := time.Now()
	if err := first.d.Close(); err != nil {
		t.Fatalf("close the first start: %v", err)
	}

	second := startNode(t, embedded)
	if second.d.DevToken != first.d.DevToken {
		t.Fatalf("the dev token changed across a restart: %q, then %q", first.d.DevToken, second.d.DevToken)
	}
	if info, err := os.Stat(filepath.Join(dataDir, "dev-tokens.json")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the kept dev token: %v, %v; want a file of mode 0600", info, err)
	}
	dev = fsclient.New(second.url, second.d.DevToken)
	if list, err := dev.ListDeployments(ctx); err != nil || len(list) != 0 {
		t.Fatalf("the kept token on the fresh store: %+v, %v; want it accepted, no deployments", list, err)
	}
	for _, tag := range old { // the deployment image: made at the end of the build
		if !strings.Contains(tag, ":deps-") && time.Since(builtAt) < grace/2 && !imageExists(tag) {
			t.Errorf("image %s of the old store went before the grace (%v) was over", tag, grace)
		}
	}
	if d, err := dev.CreateDeployment(ctx, faaspot.DeploymentRequest{Name: "after", Code: fmt.Sprintf(code, "after")}, true); err != nil || d.Status != faaspot.StatusReady {
		t.Fatalf("deploy on the second start: %+v, %v", d, err)
	}
	bystander := startNode(t) // another node, another store, the same engine
	kept := bystander.deploy(t, faaspot.DeploymentRequest{Name: "kept", Code: fmt.Sprintf(code, "kept")})

	for _, tag := range old {
		eventually(t, "image "+tag+" of the old store removed", func() bool { return !imageExists(tag) })
	}
	if v, _, err := dev.RunSync(ctx, "after", nil); err != nil || string(v) != `"after"` {
		t.Errorf("run on the second start = %s, %v", v, err)
	}
	if len(nodeImages(t, nodeID)) == 0 {
		t.Error("the janitor removed the images of the store it works for")
	}
	if !imageExists(kept.Image) {
		t.Errorf("the janitor removed image %s of another node", kept.Image)
	}
}

// readNodeID returns the node id a daemon keeps in dataDir, and has the suite clean up after it.
func readNodeID(t *testing.T, dataDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "node-id"))
	id := strings.TrimSpace(string(b))
	if err != nil || id == "" {
		t.Fatalf("node id in %s: %q, %v", dataDir, b, err)
	}
	env.mu.Lock()
	env.nodes = append(env.nodes, id)
	env.mu.Unlock()
	return id
}

// nodeImages lists the tags of the deployment images (and their dependencies images) of node.
func nodeImages(t *testing.T, node string) []string {
	t.Helper()
	imgs, err := env.docker.ImageList(context.Background(), image.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", imagebuilder.LabelManaged+"=true"), filters.Arg("label", sandbox.LabelNode+"="+node))})
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, img := range imgs {
		tags = append(tags, img.RepoTags...)
	}
	return tags
}

// TestDevTokenOnRedis: on a Redis that keeps the dev tenant and its token, a restart with the same
// data dir serves the same token; with no token kept (another data dir) none is printed and the
// tenant's tokens are left as they are.
func TestDevTokenOnRedis(t *testing.T) {
	prefix, dataDir := fmt.Sprintf("itdev%d:", time.Now().UnixNano()), t.TempDir()
	withDev := func(dir string) func(*daemon.Config) {
		return func(c *daemon.Config) { c.KeyPrefix, c.DataDir, c.DevTenant = prefix, dir, "dev" }
	}
	first := startNode(t, withDev(dataDir))
	token := first.d.DevToken
	if token == "" {
		t.Fatal("no dev token on the first start")
	}
	_ = first.d.Close()
	second := startNode(t, withDev(dataDir))
	if second.d.DevToken != token {
		t.Fatalf("dev token %q after a restart, want %q", second.d.DevToken, token)
	}
	elsewhere := startNode(t, withDev(t.TempDir()))
	if elsewhere.d.DevToken != "" {
		t.Errorf("a node with no kept token printed %q", elsewhere.d.DevToken)
	}
	if _, err := fsclient.New(elsewhere.url, token).ListDeployments(context.Background()); err != nil {
		t.Errorf("the dev token after a start elsewhere: %v", err)
	}
}

package integration

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/daemon"
	"github.com/faaspot/faaspot/imagebuilder"
)

// TestSharedDependencies: the deployments of a tenant built from the same inputs (requirements,
// or none) share one dependencies image: the second build makes no layer commit, its log saying
// the dependencies image is up to date, and its image is that image's layers plus its code.
// Another tenant with the same requirements builds its own. Deleting one deployment keeps the
// shared image for the other; deleting both removes it; one nothing ever used (its code failed
// the check) is removed by the janitor.
func TestSharedDependencies(t *testing.T) {
	n := startNode(t, func(c *daemon.Config) { c.JanitorInterval, c.JanitorGrace = 300*time.Millisecond, 0 })
	ctx := context.Background()
	code := func(v string) string {
		return "import faaspot_testpkg\n\ndef main(args, context):\n    return ['" + v + "', faaspot_testpkg.hello()]\n"
	}
	req := testPkg + "==" + testVersion + "\n"
	a := n.deploy(t, faaspot.DeploymentRequest{Name: "a", Code: code("a"), Requirements: req})
	shared := depsLabel(t, a.Image)
	if !strings.HasSuffix(strings.Split(shared, ":")[0], "/deps") || !strings.HasPrefix(shared, strings.Split(a.Image, "/d-")[0]+"/") {
		t.Fatalf("dependencies image %q, want one of the tenant's dependencies repository", shared)
	}

	start := time.Now()
	b := n.deploy(t, faaspot.DeploymentRequest{Name: "b", Code: code("b"), Requirements: req})
	t.Logf("second deployment with the same requirements ready in %v", time.Since(start))
	if got := depsLabel(t, b.Image); got != shared {
		t.Fatalf("deployment b is built on %s, want the shared %s", got, shared)
	}
	assertNoCommit(t, n.c, "b")
	if layers, deps := imageLayers(t, b.Image), imageLayers(t, shared); len(layers) != len(deps)+1 {
		t.Errorf("b's image has %d layers, want the dependencies image's %d and its code", len(layers), len(deps))
	}

	// No requirements: shared the same way, by a third and a fourth deployment.
	plain := "def main(args, context):\n    return 'plain'\n"
	c := n.deploy(t, faaspot.DeploymentRequest{Name: "c", Code: plain})
	start = time.Now()
	d := n.deploy(t, faaspot.DeploymentRequest{Name: "d", Code: plain + "# d\n"})
	t.Logf("second deployment without requirements ready in %v", time.Since(start))
	if depsLabel(t, c.Image) != depsLabel(t, d.Image) || depsLabel(t, c.Image) == shared {
		t.Errorf("deployments without requirements built on %s and %s, want one image, not %s",
			depsLabel(t, c.Image), depsLabel(t, d.Image), shared)
	}
	assertNoCommit(t, n.c, "d")

	// Another tenant, the same requirements: its own dependencies image, built.
	other := fsclient.New(n.url, mustToken(t, n))
	if _, err := other.CreateDeployment(ctx, faaspot.DeploymentRequest{Name: "a", Code: code("other"), Requirements: req}, true); err != nil {
		t.Fatalf("deploy of the other tenant: %v", err)
	}
	if got, _ := other.GetDeployment(ctx, "a"); strings.Contains(got.BuildLog, "dependencies image is up to date") {
		t.Errorf("the other tenant's build found a dependencies image built:\n%s", got.BuildLog)
	}
	if imgs := nodeImages(t, n.nodeID); countDeps(imgs) != 3 {
		t.Errorf("node images %q, want three dependencies images (two of the first tenant, one of the other)", imgs)
	}

	// Deleting one user keeps the shared image for the other; deleting both removes it.
	if err := n.c.DeleteDeployment(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // several janitor passes
	if !imageExists(shared) {
		t.Fatalf("the shared dependencies image went with one of its two deployments")
	}
	var got []string
	if v, _, err := n.c.RunSync(ctx, "b", nil); err != nil || json.Unmarshal(v, &got) != nil || !slices.Equal(got, []string{"b", "hello from a wheel"}) {
		t.Errorf("run of b after a's delete = %s, %v", v, err)
	}
	if err := n.c.DeleteDeployment(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the shared dependencies image removed with its last deployment", func() bool { return !imageExists(shared) })

	// A dependencies image no deployment image was ever built on goes by the janitor.
	mark := len(n.logs.String())
	bad, err := n.c.CreateDeployment(ctx, faaspot.DeploymentRequest{Name: "bad", Code: "def handler(e):\n    return 1\n",
		Requirements: testPkg + "\n"}, true)
	if err == nil || bad.Status != faaspot.StatusFailed {
		t.Fatalf("code without main = %+v, %v; want failed", bad, err)
	}
	eventually(t, "the janitor removed the unused dependencies image", func() bool {
		return strings.Contains(n.logs.String()[mark:], `msg="image janitor: removed dependencies images nothing uses"`)
	})
	if imgs := nodeImages(t, n.nodeID); countDeps(imgs) != 2 {
		t.Errorf("node images %q, want the dependencies images of c and d, and of the other tenant", imgs)
	}
}

// depsLabel returns the dependencies image a deployment image names.
func depsLabel(t *testing.T, tag string) string {
	t.Helper()
	info, err := env.docker.ImageInspect(context.Background(), tag)
	if err != nil || info.Config == nil || info.Config.Labels[imagebuilder.LabelDeps] == "" {
		t.Fatalf("inspect %s: %v; want it labelled with its dependencies image", tag, err)
	}
	return info.Config.Labels[imagebuilder.LabelDeps]
}

// assertNoCommit asserts that the last build of the deployment name found its dependencies
// image built and ran no build step.
func assertNoCommit(t *testing.T, c *fsclient.Client, name string) {
	t.Helper()
	got, err := c.GetDeployment(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.BuildLog, "dependencies image is up to date") || strings.Contains(got.BuildLog, "Step ") ||
		strings.Contains(got.BuildLog, "fetching the requirements") {
		t.Errorf("build log of %s:\n%s\nwant the dependencies image found built, no step, no stage", name, got.BuildLog)
	}
}

// countDeps counts the tags of tenants' dependencies repositories among tags.
func countDeps(tags []string) int {
	n := 0
	for _, tag := range tags {
		if strings.HasSuffix(strings.Split(tag, ":")[0], "/deps") {
			n++
		}
	}
	return n
}

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/daemon"
	"github.com/faaspot/faaspot/imagebuilder"
	"github.com/faaspot/faaspot/registry"
	"github.com/faaspot/faaspot/sandbox"
)

// registryBin is Debian's Docker registry (distribution), installed by .ci/run.
const registryBin = "/usr/bin/docker-registry"

// startRegistry starts a Docker registry on a free port of 127.0.0.1 (the engine speaks plain
// HTTP to 127.0.0.0/8 registries), storing in a temporary directory, with deletes enabled, and
// returns its HOST:PORT once it answers. The process is killed when the test ends. It skips t
// when the registry is not installed.
func startRegistry(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(registryBin); err != nil {
		t.Skipf("%s is missing (apt-get install docker-registry; .ci/run does): %v", registryBin, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	config := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n"+
		"  delete:\n    enabled: true\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cmd := exec.Command(registryBin, "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the registry: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("registry log:\n%s", logs)
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the registry on %s does not answer: %v\n%s", addr, err, logs)
		}
	}
}

// registryTags lists the tags of the repository of ref (HOST:PORT/name:tag) in its registry; none
// when the registry does not know the repository.
func registryTags(t *testing.T, ref string) []string {
	t.Helper()
	host, rest, _ := strings.Cut(ref, "/")
	name, _, _ := strings.Cut(rest, ":")
	resp, err := http.Get("http://" + host + "/v2/" + name + "/tags/list")
	if err != nil {
		t.Fatalf("tags of %s: %v", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil
	}
	var list struct{ Tags []string }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("tags of %s: %s, %v", name, resp.Status, err)
	}
	slices.Sort(list.Tags)
	return list.Tags
}

// tagOf is the tag of ref (after its last ":").
func tagOf(ref string) string { return ref[strings.LastIndex(ref, ":")+1:] }

// pushSeconds reads the seconds of the push of image from a node's log.
func pushSeconds(n *node, image string) string {
	m := regexp.MustCompile(`msg="image pushed" .*image=` + regexp.QuoteMeta(image) + ` .*seconds=([0-9.e-]+)`).FindStringSubmatch(n.logs.String())
	if m == nil {
		return "?"
	}
	return m[1]
}

// TestImagesThroughRegistry (issue 14, item 3): with FAASPOT_REGISTRY, a node names the images it
// builds in the registry and pushes them (a code-only redeploy pushes one new layer), and
// deletes the manifest of a version it replaces; an engine that lacks the image pulls it for a
// run instead of building it (faaspot_image_pulls_total{result="pulled"}); one the registry lost
// too is built here and pushed again ({result="missing"}); deleting the deployment deletes its
// manifest from the registry.
func TestImagesThroughRegistry(t *testing.T) {
	reg := startRegistry(t)
	n := startNode(t, func(c *daemon.Config) {
		c.Registry = reg + "/it"
		c.Warm = false                  // every run creates a container from the image
		c.VersionsKept = 1              // a replaced version's image goes, with its manifest
		c.JanitorInterval = time.Second // removes the image a run's container held at delete time
	})
	t.Cleanup(func() { removeRegistryImages(t, n.nodeID, reg) })
	ctx := context.Background()
	code := func(v int) string { return fmt.Sprintf("def main(args, context):\n    return %d\n", v) }
	d1 := n.deploy(t, faaspot.DeploymentRequest{Name: "reg", Code: code(1)})
	if !strings.HasPrefix(d1.Image, reg+"/it/faaspot/t-") {
		t.Fatalf("image %s is not named in the registry %s/it", d1.Image, reg)
	}
	if tags := registryTags(t, d1.Image); !slices.Contains(tags, tagOf(d1.Image)) {
		t.Fatalf("registry tags %v, want %s pushed", tags, tagOf(d1.Image))
	}
	d2 := n.deploy(t, faaspot.DeploymentRequest{Name: "reg", Code: code(2)})
	t.Logf("push seconds: first build %s, code-only redeploy %s", pushSeconds(n, d1.Image), pushSeconds(n, d2.Image))
	eventually(t, "the manifest of the replaced version deleted", func() bool {
		return slices.Equal(registryTags(t, d2.Image), []string{tagOf(d2.Image)})
	})

	// The engine loses the image and its dependencies image: the run pulls it.
	info, err := env.docker.ImageInspect(ctx, d2.Image)
	if err != nil {
		t.Fatal(err)
	}
	deps := info.Config.Labels[imagebuilder.LabelDeps]
	for _, tag := range []string{d2.Image, deps} {
		// The node's janitor (every second here) may remove the dependencies image first, once
		// no image names it: gone is what this step wants.
		if _, err := env.docker.ImageRemove(ctx, tag, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
			t.Fatalf("remove %s: %v", tag, err)
		}
	}
	if v, _, err := n.c.RunSync(ctx, "reg", nil); err != nil || string(v) != "2" {
		t.Fatalf("run without the image on the engine = %s, %v", v, err)
	}
	if got := scrape(t, n, `faaspot_image_pulls_total{result="pulled"}`); got != 1 {
		t.Errorf(`faaspot_image_pulls_total{result="pulled"} = %v, want 1`, got)
	}
	if got := scrape(t, n, `faaspot_image_pulls_total{result="missing"}`) + scrape(t, n, `faaspot_image_pulls_total{result="error"}`); got != 0 {
		t.Errorf("pulls missing or failed: %v, want none", got)
	}
	if strings.Contains(n.logs.String(), "image built on this node for a run") || imageExists(deps) {
		t.Errorf("the image was built again instead of pulled (dependencies image %s there: %v)", deps, imageExists(deps))
	}
	if m := regexp.MustCompile(`msg="image pulled from the registry for a run".* seconds=([0-9.e-]+)`).FindStringSubmatch(n.logs.String()); m != nil {
		t.Logf("pull seconds: %s", m[1])
	}

	// The registry loses the manifest too: the run builds the image here, and pushes it again.
	local := d2.Image[strings.Index(d2.Image, "faaspot/t-"):]
	repo, tag, _ := strings.Cut(local, ":")
	if err := registry.NewClient(registry.Address{Host: reg, Prefix: "it"}, registry.Credentials{}, nil).DeleteManifest(ctx, repo, tag); err != nil {
		t.Fatalf("delete the manifest of %s: %v", d2.Image, err)
	}
	if _, err := env.docker.ImageRemove(ctx, d2.Image, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil {
		t.Fatalf("remove %s: %v", d2.Image, err)
	}
	if v, _, err := n.c.RunSync(ctx, "reg", nil); err != nil || string(v) != "2" {
		t.Fatalf("run without the image on the engine or in the registry = %s, %v", v, err)
	}
	if got := scrape(t, n, `faaspot_image_pulls_total{result="missing"}`); got != 1 {
		t.Errorf(`faaspot_image_pulls_total{result="missing"} = %v, want 1`, got)
	}
	if !strings.Contains(n.logs.String(), "image built on this node for a run") || !slices.Contains(registryTags(t, d2.Image), tag) {
		t.Errorf("the image missing in the registry was not built here and pushed (registry tags %v)", registryTags(t, d2.Image))
	}

	if err := n.c.DeleteDeployment(ctx, "reg"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the manifest of the deleted deployment deleted", func() bool { return len(registryTags(t, d2.Image)) == 0 })
	eventually(t, "the image of the deleted deployment removed", func() bool { return !imageExists(d2.Image) })
}

// removeRegistryImages removes the images of node named in the registry reg (the suite's
// cleanup, on builders without a registry, removes only the others).
func removeRegistryImages(t *testing.T, node, reg string) {
	ctx := context.Background()
	imgs, err := env.docker.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", imagebuilder.LabelManaged+"=true"), filters.Arg("label", sandbox.LabelNode+"="+node))})
	if err != nil {
		t.Logf("list images of node %s: %v", node, err)
		return
	}
	for _, img := range imgs {
		for _, tag := range img.RepoTags {
			if strings.HasPrefix(tag, reg+"/") {
				_, _ = env.docker.ImageRemove(ctx, tag, image.RemoveOptions{Force: true})
			}
		}
	}
}

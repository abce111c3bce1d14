package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/daemon"
	"github.com/faaspot/faaspot/sandbox"
)

// TestScaleOutAcrossEngines: three nodes on one Redis and one registry (Debian's docker-registry
// on loopback): a build-only node on the machine's engine (FAASPOT_WORKERS=0), a run-only node on
// a second engine of the test's own (FAASPOT_BUILD_WORKERS=0, DOCKER_HOST), and an API node with
// no engine at all (its DOCKER_HOST names no socket). A deployment made and run through the API
// node is built on the first engine, pushed, pulled by the second and run there; the second
// engine built nothing; a code-only redeploy reaches it the same way.
func TestScaleOutAcrossEngines(t *testing.T) {
	reg := startRegistry(t)
	eng := startSecondEngine(t)
	_, port, _ := net.SplitHostPort(reg)
	p, _ := strconv.Atoi(port)
	eng.forward(t, p)
	prefix := fmt.Sprintf("itso%d:", time.Now().UnixNano())
	shared := func(c *daemon.Config) { c.KeyPrefix, c.Registry = prefix, reg+"/scaleout" }
	builder := startNode(t, shared, func(c *daemon.Config) {
		c.Role, c.Workers, c.BuildWorkers = daemon.RoleWorker, 0, 2
	})
	runner := startNode(t, shared, func(c *daemon.Config) {
		c.Role, c.Workers, c.BuildWorkers, c.DockerHost = daemon.RoleWorker, 4, 0, eng.host
	})
	api := startNode(t, shared, func(c *daemon.Config) {
		c.Role, c.Workers, c.BuildWorkers = daemon.RoleAPI, 0, 0
		c.DockerHost = "unix:///nonexistent/docker.sock" // an API node never opens its engine
	})
	if r := api.raw(t, http.MethodGet, "/readyz", "", ""); r.status != http.StatusOK {
		t.Fatalf("the engine-less API node's /readyz = %d %s", r.status, r.body)
	}
	ctx := context.Background()
	code := func(v string) string {
		return "def main(args, context):\n    return {'v': '" + v + "', 'x': args.get('x')}\n"
	}
	for i, v := range []string{"one", "two"} {
		start := time.Now()
		d, err := api.c.CreateDeployment(ctx, faaspot.DeploymentRequest{Name: "spread", Code: code(v)}, true)
		if err != nil || d.Status != faaspot.StatusReady {
			t.Fatalf("deploy version %s through the API node: %+v, %v", v, d, err)
		}
		built := time.Since(start)
		start = time.Now()
		out, _, err := api.c.RunSync(ctx, "spread", map[string]any{"x": i})
		if err != nil {
			t.Fatalf("run version %s: %v", v, err)
		}
		if want := fmt.Sprintf(`{"v": "%s", "x": %d}`, v, i); normJSON(t, out) != normJSON(t, []byte(want)) {
			t.Fatalf("run version %s = %s, want %s", v, out, want)
		}
		t.Logf("version %s: built and pushed by the build node in %.2f s; first run through the API node, pulled and run on the second engine, %.2f s",
			v, built.Seconds(), time.Since(start).Seconds())
		if got := scrape(t, runner, `faaspot_image_pulls_total{result="pulled"}`); got != float64(i+1) {
			t.Errorf("the run node pulled %v images after version %s, want %d", got, v, i+1)
		}
	}
	checkBuiltNothing(t, eng, reg)
	// The build node ran nothing, and the run node's containers are on the second engine only.
	for _, n := range []*node{builder, runner} {
		if left, err := containersOf(ctx, n.nodeID); err != nil || len(left) != 0 {
			t.Errorf("node %s has %d containers on the machine's engine (%v), want none", n.nodeID, len(left), err)
		}
	}
	if on2, err := eng.cli.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", sandbox.LabelNode+"="+runner.nodeID))}); err != nil || len(on2) == 0 {
		t.Errorf("the run node has %d containers on the second engine (%v), want its warm ones", len(on2), err)
	}
}

// checkBuiltNothing checks that every faaspot image on the second engine came from the registry
// (a build there would have tagged a dependencies image or an image of its own name).
func checkBuiltNothing(t *testing.T, eng *secondEngine, reg string) {
	t.Helper()
	imgs, err := eng.cli.ImageList(context.Background(), image.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", "io.faaspot.managed=true"))})
	if err != nil {
		t.Fatal(err)
	}
	pulled := 0
	for _, img := range imgs {
		for _, tag := range img.RepoTags {
			if !strings.HasPrefix(tag, reg+"/") {
				t.Errorf("the second engine holds %s: it built an image", tag)
			}
			pulled++
		}
	}
	if pulled != 2 {
		t.Errorf("the second engine holds %d tagged faaspot images, want the 2 versions pulled", pulled)
	}
}

// normJSON re-encodes a JSON document, so that two spellings of one value compare equal.
func normJSON(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not JSON: %s: %v", b, err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

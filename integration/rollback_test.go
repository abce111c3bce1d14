package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/daemon"
)

// rollCode is the code of version tag of "roll": it returns its tag, its context's token and the
// memory limit of its container's cgroup (v2, else v1), in MiB.
func rollCode(tag string) string {
	return fmt.Sprintf(`def main(args, context):
    mem = None
    for path in ('/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes'):
        try:
            with open(path) as f:
                mem = int(f.read().strip()) >> 20
            break
        except (OSError, ValueError):
            pass
    return [%q, context.get('token'), mem]
`, tag)
}

// deployRoll deploys version tag of "roll" with its own context and memory limit.
func deployRoll(t *testing.T, n *node, tag string, memory int) faaspot.Deployment {
	t.Helper()
	return n.deploy(t, faaspot.DeploymentRequest{Name: "roll", Code: rollCode(tag),
		Context: mustContext(t, fmt.Sprintf("token = %q", "token-"+tag)), Limits: &faaspot.Limits{MemoryMB: memory}})
}

// runRoll runs version (0: the current one) of "roll" and returns its value and its record.
func runRoll(t *testing.T, n *node, version int) (string, faaspot.Execution) {
	t.Helper()
	ctx := context.Background()
	v, id, err := n.c.RunSyncVersion(ctx, "roll", version, nil)
	if err != nil {
		t.Fatalf("run of version %d: %v", version, err)
	}
	e, err := n.c.GetExecution(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return string(v), e
}

// TestRollbackAndPinnedRuns: a kept version runs pinned with its own code, context and limits
// while another is current; a rollback makes it current at once (its image kept), and warm from
// its second run; what is not kept is a 404, and a new deploy runs again.
func TestRollbackAndPinnedRuns(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	d1 := deployRoll(t, n, "v1", 128)
	deployRoll(t, n, "v2", 192)
	if v, e := runRoll(t, n, 0); v != `["v2","token-v2",192]` || e.Version != 2 || e.Pinned {
		t.Fatalf("current run = %s %+v, want version 2", v, e)
	}
	v, e := runRoll(t, n, 1)
	if v != `["v1","token-v1",128]` || e.Version != 1 || !e.Pinned {
		t.Errorf("run pinned to version 1 = %s, record version %d pinned %v", v, e.Version, e.Pinned)
	}
	id, err := n.c.RunVersion(ctx, "roll", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := n.c.WaitExecution(ctx, id, time.Minute); err != nil || string(e.Result) != `["v1","token-v1",128]` || !e.Pinned {
		t.Errorf("async run pinned to version 1 = %+v, %v", e, err)
	}
	if !imageExists(d1.Image) {
		t.Fatalf("the image of the kept version 1 (%s) was removed", d1.Image)
	}
	d, err := n.c.Rollback(ctx, "roll", 1)
	if err != nil || d.ReadyVersion != 1 || d.Version != 2 {
		t.Fatalf("rollback to 1 = %+v, %v", d, err)
	}
	if v, e := runRoll(t, n, 0); v != `["v1","token-v1",128]` || e.Version != 1 || e.Pinned {
		t.Errorf("run after the rollback = %s %+v, want version 1", v, e)
	}
	if _, e := runRoll(t, n, 0); e.ColdStart {
		t.Errorf("the second run of the rolled-back version was cold: its containers are not kept")
	}
	if vs, err := n.c.ListVersions(ctx, "roll"); err != nil || len(vs) != 2 || vs[0].Ready || !vs[1].Ready {
		t.Errorf("versions after the rollback = %+v, %v; want version 1 marked ready", vs, err)
	}

	for _, tc := range []struct {
		name string
		err  error
	}{
		{"rollback to a version never made", func() error { _, err := n.c.Rollback(ctx, "roll", 9); return err }()},
		{"run pinned to a version never made", func() error { _, err := n.c.RunVersion(ctx, "roll", 9, nil); return err }()},
		{"rollback of an unknown deployment", func() error { _, err := n.c.Rollback(ctx, "nope", 1); return err }()},
	} {
		if !fsclient.IsStatus(tc.err, http.StatusNotFound) {
			t.Errorf("%s: %v, want 404", tc.name, tc.err)
		}
	}

	// A deploy after the rollback runs as usual.
	deployRoll(t, n, "v3", 128)
	if v, e := runRoll(t, n, 0); v != `["v3","token-v3",128]` || e.Version != 3 {
		t.Errorf("run after a deploy that followed a rollback = %s %+v", v, e)
	}
}

// TestRollbackImageGone: a rollback to a version whose image was removed (by hand, or on a node
// that never built it) builds it again from the source the store keeps, before the run.
func TestRollbackImageGone(t *testing.T) {
	n := startNode(t, func(c *daemon.Config) { c.Warm = false }) // no container keeps the image in use
	ctx := context.Background()
	d1 := deployRoll(t, n, "v1", 128)
	deployRoll(t, n, "v2", 192)
	if _, err := env.docker.ImageRemove(ctx, d1.Image, image.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.c.Rollback(ctx, "roll", 1); err != nil {
		t.Fatal(err)
	}
	if v, e := runRoll(t, n, 0); v != `["v1","token-v1",128]` || e.Version != 1 {
		t.Errorf("run of version 1 without its image = %s %+v", v, e)
	}
	if !imageExists(d1.Image) {
		t.Errorf("version 1's image %s was not built again under its tag", d1.Image)
	}
}

// TestRollbackFromClients: the CLI's rollback and pinned run, and the Python client's, as a user
// types them.
func TestRollbackFromClients(t *testing.T) {
	n := startNode(t)
	deployRoll(t, n, "v1", 128)
	deployRoll(t, n, "v2", 128)
	dir := t.TempDir()
	envv := []string{"FAASPOT_URL=" + n.url, "FAASPOT_TOKEN=" + n.token}

	out, errOut, code := shell(t, dir, envv, "fas deployments versions roll\nfas deployments rollback roll --to 1\n"+
		"fas deployments run roll --wait\nfas deployments run roll --version 2 --wait")
	if code != 0 || !strings.Contains(out, "now runs version 1") || !strings.Contains(out, `"v1"`) ||
		!strings.Contains(out, `"v2"`) || strings.Index(out, `"v1"`) > strings.Index(out, `"v2"`) {
		t.Errorf("CLI rollback and pinned run: %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = shell(t, dir, envv, "fas deployments rollback roll --to 7")
	if code != 1 || !strings.Contains(errOut, "version 7") || !strings.Contains(errOut, "fas deployments versions roll") {
		t.Errorf("CLI rollback to a version not kept: %d %q %q", code, out, errOut)
	}
	_, errOut, code = shell(t, dir, envv, "fas deployments rollback roll")
	if code != 2 || !strings.Contains(errOut, "--to") {
		t.Errorf("CLI rollback without --to: %d %q", code, errOut)
	}

	py := pyRun(t, dir, pyEnv(t, t.TempDir(), n.pyVars()...), "from faaspot import Faaspot\nclient = Faaspot()\n"+
		"client.deployments.rollback('roll', 2)['ready_version']\n"+
		"client.deployments.run('roll', wait=True)\n"+
		"client.deployments.run('roll', wait=True, version=1)\n"+
		"[v['version'] for v in client.deployments.versions('roll') if v['ready']]\n")
	var ready, current []any
	var pinned []any
	var readyVersion int
	py.value(t, 0, &readyVersion)
	py.value(t, 1, &current)
	py.value(t, 2, &pinned)
	py.value(t, 3, &ready)
	if readyVersion != 2 || fmt.Sprint(current) != "[v2 token-v2 128]" || fmt.Sprint(pinned) != "[v1 token-v1 128]" || fmt.Sprint(ready) != "[2]" {
		t.Errorf("Python rollback and pinned run: %d %v %v %v", readyVersion, current, pinned, ready)
	}
}

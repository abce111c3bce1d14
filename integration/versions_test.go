package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
)

// TestVersions: an identical redeploy keeps the version, answers 200 and builds nothing; a code
// change makes version 2; the versions list shows both, newest first, the ready one marked.
func TestVersions(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	req := faaspot.DeploymentRequest{Name: "vers", Code: "def main(args, context):\n    return 1\n",
		Context: mustContext(t, `token = "s3cr3t"`)}
	d1 := n.deploy(t, req)

	for _, path := range []string{"/v1/deployments", "/v1/deployments?wait=true", "/api/deployments/"} {
		method := http.MethodPost
		if path == "/api/deployments/" {
			method = http.MethodPut
		}
		a := n.raw(t, method, path, mustJSON(req))
		var d faaspot.Deployment
		if err := json.Unmarshal(a.body, &d); a.status != http.StatusOK || err != nil || d.Version != 1 || d.Status != faaspot.StatusReady {
			t.Errorf("identical redeploy %s %s = %d %s, want 200 with version 1 ready", method, path, a.status, a.body)
		}
	}
	if img := n.image(t, "vers"); img != d1.Image {
		t.Errorf("an identical redeploy changed the image: %s -> %s", d1.Image, img)
	}
	if vs, err := n.c.ListVersions(ctx, "vers"); err != nil || len(vs) != 1 {
		t.Errorf("versions after identical redeploys = %+v, %v; want only version 1", vs, err)
	}

	req.Code = "def main(args, context):\n    return 2\n"
	if d2 := n.deploy(t, req); d2.Version != 2 {
		t.Fatalf("changed code = version %d, want 2", d2.Version)
	}
	vs, err := n.c.ListVersions(ctx, "vers")
	if err != nil {
		t.Fatal(err)
	}
	var nums []int
	for _, v := range vs {
		nums = append(nums, v.Version)
	}
	if !slices.Equal(nums, []int{2, 1}) || !vs[0].Ready || vs[1].Ready || vs[0].Status != faaspot.StatusReady ||
		vs[1].Status != faaspot.StatusReady || vs[0].Hash == vs[1].Hash || !slices.Equal(vs[1].ContextKeys, []string{"token"}) {
		t.Errorf("versions = %+v, want [2 1] both built, 2 ready", vs)
	}
	if _, err := n.c.ListVersions(ctx, "nope"); !fsclient.IsStatus(err, http.StatusNotFound) {
		t.Errorf("versions of an unknown deployment: %v, want 404", err)
	}
}

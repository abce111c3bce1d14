package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
)

// TestTenantIsolation: two tenants, the same deployment name in both, and every tenant route tried
// with the other tenant's token: a foreign resource answers exactly like a missing one.
func TestTenantIsolation(t *testing.T) {
	a := startNode(t)
	ctx := context.Background()
	tokB := mustToken(t, a)
	b := &node{d: a.d, url: a.url, token: tokB, prefix: a.prefix, c: fsclient.New(a.url, tokB), admin: a.admin, logs: a.logs}

	da := a.deploy(t, faaspot.DeploymentRequest{Name: "shared", Code: "def main(args, context):\n    return 'tenant a'\n"})
	db := b.deploy(t, faaspot.DeploymentRequest{Name: "shared", Code: "def main(args, context):\n    return 'tenant b'\n"})
	a.deploy(t, faaspot.DeploymentRequest{Name: "a-only", Code: "def main(args, context):\n    return 1\n"})
	if da.Image == db.Image || da.ID == db.ID {
		t.Fatalf("the same name in two tenants shares an image or id: %s %s", da.Image, db.Image)
	}
	va, idA, errA := a.c.RunSync(ctx, "shared", nil)
	vb, _, errB := b.c.RunSync(ctx, "shared", nil)
	if errA != nil || errB != nil || string(va) != `"tenant a"` || string(vb) != `"tenant b"` {
		t.Fatalf("same name, two tenants: %s %v / %s %v", va, errA, vb, errB)
	}

	for _, rt := range []struct{ method, foreign, missing string }{
		{"GET", "/v1/deployments/a-only", "/v1/deployments/nothere"},
		{"DELETE", "/v1/deployments/a-only", "/v1/deployments/nothere"},
		{"PUT", "/v1/sync/deployments/a-only/rpc/", "/v1/sync/deployments/nothere/rpc/"},
		{"GET", "/v1/deployments/a-only/rpc/", "/v1/deployments/nothere/rpc/"},
		{"GET", "/v1/executions/" + idA, "/v1/executions/00000000000000000000000000000000"},
	} {
		foreign := b.raw(t, rt.method, rt.foreign, "")
		missing := b.raw(t, rt.method, rt.missing, "")
		if foreign.status != http.StatusNotFound || missing.status != http.StatusNotFound {
			t.Errorf("%s %s as tenant b: %d (missing: %d)", rt.method, rt.foreign, foreign.status, missing.status)
		}
		if foreign.errorField(t, "code") != missing.errorField(t, "code") || len(foreign.header) != len(missing.header) {
			t.Errorf("%s %s: a foreign resource answers differently from a missing one: %s vs %s", rt.method, rt.foreign, foreign.body, missing.body)
		}
	}
	for _, path := range []string{"/v1/deployments", "/v1/executions"} {
		body := string(b.raw(t, "GET", path, "").body)
		if strings.Contains(body, "a-only") || strings.Contains(body, idA) || strings.Contains(body, "tenant a") {
			t.Errorf("GET %s as tenant b shows tenant a's data: %s", path, body)
		}
	}
	// Tenant a's deployment survived b's delete attempt.
	if _, err := a.c.GetDeployment(ctx, "a-only"); err != nil {
		t.Errorf("a-only after b's delete: %v", err)
	}
	// A tenant token never reaches the admin API.
	for _, p := range []struct{ m, path string }{{"GET", "/v1/tenants"}, {"POST", "/v1/tenants"}, {"DELETE", "/v1/tenants/x"}, {"POST", "/v1/tenants/x/tokens"}} {
		if r := a.raw(t, p.m, p.path, `{"name":"x"}`); r.status != http.StatusUnauthorized {
			t.Errorf("%s %s with a tenant token: %d", p.m, p.path, r.status)
		}
	}
}

// TestTenantAdmin: list tenants, issue and revoke tokens, delete a tenant with all it owns.
func TestTenantAdmin(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	adm := func(method, path, body string) answer { return n.raw(t, method, path, body, adminToken) }

	if r := adm("POST", "/v1/tenants", `{"name":"acme"}`); r.status != http.StatusCreated {
		t.Fatalf("create acme: %d %s", r.status, r.body)
	}
	if r := adm("POST", "/v1/tenants", `{"name":"acme"}`); r.status != http.StatusConflict {
		t.Errorf("duplicate tenant: %d", r.status)
	}
	var tenants []map[string]any
	if r := adm("GET", "/v1/tenants", ""); r.status != 200 || json.Unmarshal(r.body, &tenants) != nil || len(tenants) < 2 {
		t.Errorf("list tenants: %d %s", r.status, r.body)
	}
	r := adm("POST", "/v1/tenants/acme/tokens", "")
	var issued struct{ ID, Token string }
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &issued) != nil || len(issued.Token) < 64 {
		t.Fatalf("issue token: %d %s", r.status, r.body)
	}
	acme := fsclient.New(n.url, issued.Token)
	acmeNode := &node{url: n.url, token: issued.Token, c: acme, prefix: n.prefix}
	d := acmeNode.deploy(t, faaspot.DeploymentRequest{Name: "fn", Code: "def main(args, context):\n    return 1\n"})
	if r := adm("GET", "/v1/tenants/acme/tokens", ""); r.status != 200 || !strings.Contains(string(r.body), issued.ID) || strings.Contains(string(r.body), issued.Token) {
		t.Errorf("list tokens must show ids, never tokens: %s", r.body)
	}
	if r := adm("DELETE", "/v1/tenants/acme/tokens/"+issued.ID, ""); r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if _, err := acme.ListDeployments(ctx); !fsclient.IsStatus(err, 401) {
		t.Errorf("a revoked token still works: %v", err)
	}
	r = adm("POST", "/v1/tenants/acme/tokens", "")
	_ = json.Unmarshal(r.body, &issued)
	acme = fsclient.New(n.url, issued.Token)
	if ds, err := acme.ListDeployments(ctx); err != nil || len(ds) != 1 {
		t.Fatalf("new token: %v %v", ds, err)
	}
	if r := adm("DELETE", "/v1/tenants/acme", ""); r.status != http.StatusNoContent {
		t.Fatalf("delete tenant: %d %s", r.status, r.body)
	}
	if _, err := acme.ListDeployments(ctx); !fsclient.IsStatus(err, 401) {
		t.Errorf("the deleted tenant's token still works: %v", err)
	}
	imgs, err := env.docker.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(
		filters.Arg("reference", strings.Split(d.Image, ":")[0]))})
	if err != nil || len(imgs) != 0 {
		t.Errorf("images of the deleted tenant remain: %d %v", len(imgs), err)
	}
	if r := adm("DELETE", "/v1/tenants/acme", ""); r.status != http.StatusNotFound {
		t.Errorf("second delete: %d", r.status)
	}
}

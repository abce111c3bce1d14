package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/api"
	fsclient "github.com/faaspot/faaspot/client"
)

// everyCode returns its arguments, or fails when asked to.
const everyCode = `def main(args, context):
    if args.get("fail"):
        raise ValueError("asked to fail")
    return args
`

// TestOpenAPIEveryRoute sends one request to each operation of the API's document, aliases
// included, on a node with one deployment: each is answered with a documented success (a retry of
// a failed run included), each answer validates against the document (the suite's transport
// checks them), and GET /openapi.json serves the document.
func TestOpenAPIEveryRoute(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	deployment := faaspot.DeploymentRequest{Name: "every", Code: everyCode}
	n.deploy(t, deployment)
	_, failed, err := n.c.RunSync(ctx, "every", map[string]any{"fail": true})
	var re *fsclient.RunError
	if !errors.As(err, &re) || failed == "" {
		t.Fatalf("a failing sync run: %s, %v; want a RunError", failed, err)
	}
	tenant := fmt.Sprintf("every%d", time.Now().UnixNano()%1e9)
	if _, err := n.admin.CreateTenant(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	token, err := n.admin.IssueToken(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	ops := documentedOperations()
	for i, o := range ops {
		path := strings.NewReplacer("{name}", "every", "{version}", "1", "{tenant}", tenant).Replace(o.path)
		if strings.HasPrefix(o.path, "/v1/tenants/") {
			path = strings.ReplaceAll(path, "{id}", token.ID)
		}
		path = strings.ReplaceAll(path, "{id}", failed)
		a := n.raw(t, o.method, path, o.body(deployment, i), o.token(n))
		if a.status < 200 || a.status > 299 {
			t.Errorf("%s %s (%s) = %d %s, want a success", o.method, path, o.id, a.status, a.body)
		}
		if o.id == "openapi" && !bytes.Equal(a.body, api.OpenAPIDocument()) {
			t.Errorf("GET /openapi.json served %d bytes that are not the document", len(a.body))
		}
	}
	if missed := apiCheck.unvalidated(ops); len(missed) > 0 {
		t.Errorf("no answer of %d operations validated: %v", len(missed), missed)
	}
	t.Logf("%d operations answered and validated", len(ops))
}

// operation is one documented operation: method, path template, operation id and security.
type operation struct {
	method, path, id string
	admin, anonymous bool
}

// documentedOperations lists the document's operations in an order that deletes nothing before
// it is used: every DELETE last, the tenant's after its token's.
func documentedOperations() []operation {
	var ops []operation
	for path, item := range apiCheck.doc.Paths.Map() {
		for method, op := range item.Operations() {
			o := operation{method: method, path: path, id: op.OperationID, anonymous: op.Security != nil && len(*op.Security) == 0}
			if op.Security != nil {
				for _, req := range *op.Security {
					if _, ok := req["adminToken"]; ok {
						o.admin = true
					}
				}
			}
			ops = append(ops, o)
		}
	}
	rank := func(o operation) int {
		switch {
		case o.method != http.MethodDelete:
			return 0
		case strings.HasSuffix(o.path, "/tokens/{id}"):
			return 1
		case strings.HasPrefix(o.path, "/v1/tenants/"):
			return 3
		}
		return 2
	}
	slices.SortFunc(ops, func(a, b operation) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a.path+" "+a.method, b.path+" "+b.method)
	})
	return ops
}

// token is the Authorization the operation takes: the admin token, none, or the tenant's.
func (o operation) token(n *node) string {
	switch {
	case o.admin:
		return adminToken
	case o.anonymous:
		return ""
	}
	return n.token
}

// body is a request body for the operation (i numbers the request): the deployment again (no
// new version), a rollback to version 1, a new tenant, quotas, arguments of a run.
func (o operation) body(d faaspot.DeploymentRequest, i int) string {
	switch {
	case o.method == http.MethodGet || o.method == http.MethodDelete:
		return ""
	case strings.HasSuffix(o.path, "/rollback"):
		return `{"version": 1}`
	case strings.HasSuffix(o.path, "/quotas"):
		return `{"max_queued_runs": 100}`
	case o.path == "/v1/tenants":
		return fmt.Sprintf(`{"name": "every%d-%d"}`, time.Now().UnixNano()%1e9, i)
	case strings.Contains(o.path, "/rpc"):
		return fmt.Sprintf(`{"request": %d}`, i)
	case strings.HasSuffix(o.path, "deployments") || strings.HasSuffix(o.path, "deployments/"):
		return mustJSON(d)
	}
	return ""
}

package api_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gorilla/mux"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/api"
	"github.com/faaspot/faaspot/api/openapicheck"
)

// openAPI is the API's document, loaded and validated once, with a router over it.
var openAPI struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

// loadOpenAPI returns the document of api.OpenAPIDocument, failing t when it does not load, is
// not a valid OpenAPI 3 document, or cannot be routed.
func loadOpenAPI(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	openAPI.once.Do(func() {
		openapicheck.RegisterDecoders()
		loader := openapi3.NewLoader()
		openAPI.doc, openAPI.err = loader.LoadFromData(api.OpenAPIDocument())
		if openAPI.err == nil {
			openAPI.err = openAPI.doc.Validate(loader.Context)
		}
		if openAPI.err == nil {
			openAPI.router, openAPI.err = gorillamux.NewRouter(openAPI.doc)
		}
	})
	if openAPI.err != nil {
		t.Fatalf("api/openapi.json: %v", openAPI.err)
	}
	return openAPI.doc, openAPI.router
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Errorf("openapi = %q, want 3.0.x", doc.OpenAPI)
	}
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" || op.Summary == "" || op.Responses.Len() == 0 {
				t.Errorf("%s %s: operationId, summary and responses are required here", method, path)
			}
			if other, dup := ids[op.OperationID]; dup {
				t.Errorf("operationId %s is used by %s and %s %s", op.OperationID, other, method, path)
			}
			ids[op.OperationID] = method + " " + path
		}
	}
}

// TestOpenAPICoversTheRouter walks the router: every route it serves (template and method) is
// in the document, and the document holds nothing it does not serve.
func TestOpenAPICoversTheRouter(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	env := newEnv(t, nil)
	served := map[string]bool{}
	err := env.h.(*mux.Router).Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		if route.GetHandler() == nil {
			return nil // a subrouter's own route: its routes come next
		}
		tpl, err := route.GetPathTemplate()
		if err != nil {
			return fmt.Errorf("a route without a path: %w", err)
		}
		methods, err := route.GetMethods()
		if err != nil {
			return fmt.Errorf("route %s serves every method: %w", tpl, err)
		}
		for _, m := range methods {
			served[m+" "+tpl] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(served) < 50 {
		t.Fatalf("the walk found %d routes: %v", len(served), served)
	}
	for _, r := range sortedKeys(served) {
		if !documented[r] {
			t.Errorf("%s is served but not documented in api/openapi.json", r)
		}
	}
	for _, r := range sortedKeys(documented) {
		if !served[r] {
			t.Errorf("%s is documented in api/openapi.json but not served", r)
		}
	}
	t.Logf("%d routes served", len(served))
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIServed: GET /openapi.json answers the repository's file, byte for byte, without a
// token.
func TestOpenAPIServed(t *testing.T) {
	file, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, nil)
	rec := env.do(http.MethodGet, "/openapi.json", "", "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json = %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if !bytes.Equal(rec.Body.Bytes(), file) || !bytes.Equal(api.OpenAPIDocument(), file) {
		t.Errorf("GET /openapi.json served %d bytes that are not api/openapi.json's %d", rec.Body.Len(), len(file))
	}
	if rec := env.do(http.MethodPost, "/openapi.json", "", ""); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /openapi.json = %d, want 405", rec.Code)
	}
}

// TestOpenAPISchemasMatchTypes: each schema of a type the API sends or reads has the JSON fields
// of its Go type; an answer's schema requires those the type never omits.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	tests := []struct {
		schema string
		of     any
		answer bool // the API sends it: fields without omitempty are required
	}{
		{"Error", faaspot.Error{}, true},
		{"ErrorResponse", faaspot.ErrorResponse{}, true},
		{"Limits", faaspot.Limits{}, true},
		{"LimitsRequest", faaspot.Limits{}, false},
		{"WarmPolicy", faaspot.WarmPolicy{}, true},
		{"RetryPolicy", faaspot.RetryPolicy{}, true},
		{"DeploymentRequest", faaspot.DeploymentRequest{}, false},
		{"Deployment", faaspot.Deployment{}, true},
		{"BuildFailure", faaspot.BuildFailure{}, true},
		{"VersionInfo", faaspot.VersionInfo{}, true},
		{"RollbackRequest", faaspot.RollbackRequest{}, false},
		{"ExecError", faaspot.ExecError{}, true},
		{"Callback", faaspot.Callback{}, true},
		{"Execution", faaspot.Execution{}, true},
		{"ExecutionSummary", faaspot.ExecutionSummary{}, true},
		{"RunFailure", faaspot.RunFailure{}, true},
		{"RunPending", faaspot.RunPending{}, true},
		{"WebhookSecret", faaspot.WebhookSecret{}, true},
		{"Quotas", faaspot.Quotas{}, false},
		{"QuotasAnswer", faaspot.Quotas{}, true},
		{"Tenant", faaspot.Tenant{}, true},
		{"CreateTenantRequest", faaspot.CreateTenantRequest{}, false},
		{"TenantCreated", faaspot.TenantCreated{}, true},
		{"Token", faaspot.Token{}, true},
		{"TokenIssued", faaspot.TokenIssued{}, true},
		{"QuotasSet", faaspot.QuotasSet{}, true},
		{"ExecUsage", faaspot.ExecUsage{}, true},
		{"UsageRuns", faaspot.UsageRuns{}, true},
		{"UsageDay", faaspot.UsageDay{}, true},
		{"Usage", faaspot.Usage{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.schema, func(t *testing.T) {
			ref := doc.Components.Schemas[tt.schema]
			if ref == nil || ref.Value == nil {
				t.Fatalf("no schema %s", tt.schema)
			}
			fields, required := jsonFields(reflect.TypeOf(tt.of))
			var props []string
			for name := range ref.Value.Properties {
				props = append(props, name)
			}
			slices.Sort(props)
			if !slices.Equal(props, fields) {
				t.Errorf("properties %v, want the JSON fields of %T: %v", props, tt.of, fields)
			}
			if want := slices.Sorted(slices.Values(ref.Value.Required)); tt.answer && !slices.Equal(want, required) {
				t.Errorf("required %v, want the fields %T never omits: %v", want, tt.of, required)
			}
		})
	}
}

// jsonFields returns the JSON names of a struct type's fields, and those without omitempty,
// sorted.
func jsonFields(typ reflect.Type) (fields, required []string) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields = append(fields, name)
		if !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
	}
	slices.Sort(fields)
	slices.Sort(required)
	return fields, required
}

// checkAnswer validates an answer of the API under test, to req with body, against the
// document with kin-openapi: t fails when the document does not allow the answer (its status,
// headers or body), or refuses a request the server accepted. A path the document does not hold
// must be answered 404, a method it does not hold on a path 405.
func checkAnswer(t testing.TB, req *http.Request, body string, rec *httptest.ResponseRecorder) {
	t.Helper()
	_, router := loadOpenAPI(t)
	where := fmt.Sprintf("%s %s → %d", req.Method, req.URL.RequestURI(), rec.Code)
	route, params, err := router.FindRoute(req)
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		if rec.Code != http.StatusNotFound {
			t.Errorf("openapi: %s: the document has no such path", where)
		}
		return
	case errors.Is(err, routers.ErrMethodNotAllowed):
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("openapi: %s: the document has no such method on this path", where)
		}
		return
	case err != nil:
		t.Fatalf("openapi: %s: %v", where, err)
	}
	ctx := context.Background()
	vreq := req.Clone(ctx)
	vreq.Body = io.NopCloser(strings.NewReader(body))
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{MultiError: true, AuthenticationFunc: openapicheck.TokenScheme}}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil && rec.Code < http.StatusBadRequest {
		t.Errorf("openapi: %s: the document refuses the request the server accepted: %v", where, err)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code,
		Header: rec.Header(), Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true}}
	out.SetBodyBytes(rec.Body.Bytes())
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Errorf("openapi: %s (%s): %v; body: %.300s", where, route.Operation.OperationID, err, rec.Body)
	}
}

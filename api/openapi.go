package api

import (
	"bytes"
	_ "embed"
	"net/http"
)

// openAPIDoc is the OpenAPI 3 document of the HTTP API: every route of Handler, its parameters,
// bodies and answers. api/openapi_test.go checks it against the router and the integration
// suite checks real answers against it: change it with the routes.
//
//go:embed openapi.json
var openAPIDoc []byte

// OpenAPIDocument returns the OpenAPI 3 document of the HTTP API, as GET /openapi.json serves it.
func OpenAPIDocument() []byte { return bytes.Clone(openAPIDoc) }

// openAPI handles GET /openapi.json (no authentication): 200 with the document, verbatim.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDoc)
}

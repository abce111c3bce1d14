// Package openapicheck holds what the tests that validate faaspot's requests and answers
// against its OpenAPI document (api/openapi.json) share: the check of the form of the
// Authorization header a security scheme asks for, and the decoder of NDJSON bodies. Only tests
// import it, so kin-openapi never reaches the daemon's binary.
package openapicheck

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// TokenScheme checks the form of the Authorization header a security scheme of the document
// asks for: "Token T" for an apiKey scheme, "Bearer T" for an http bearer one. Whether the token
// is known is the server's to say (401). It is an openapi3filter.AuthenticationFunc.
func TokenScheme(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	want := "Token "
	if in.SecurityScheme.Type == "http" {
		want = "Bearer "
	}
	h := strings.TrimSpace(in.RequestValidationInput.Request.Header.Get("Authorization"))
	if len(h) <= len(want) || !strings.EqualFold(h[:len(want)], want) {
		return fmt.Errorf("no %q Authorization header", strings.TrimSpace(want))
	}
	return nil
}

// NDJSONLines decodes an application/x-ndjson body whose schema is one line's: it validates
// every non-blank line against it and returns the last (validated again by the caller). A body
// without a line is an error. It is an openapi3filter.BodyDecoder.
func NDJSONLines(body io.Reader, _ http.Header, schema *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(nil, 1<<20)
	var last any
	n := 0
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		n++
		var v any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("line %d is not JSON: %w", n, err)
		}
		if err := schema.Value.VisitJSON(v, openapi3.VisitAsResponse(), openapi3.MultiErrors()); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		last = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read lines: %w", err)
	}
	if n == 0 {
		return nil, errors.New("no line")
	}
	return last, nil
}

var registerOnce sync.Once

// RegisterDecoders registers NDJSONLines for application/x-ndjson with openapi3filter (a
// process-wide registry), once.
func RegisterDecoders() {
	registerOnce.Do(func() { openapi3filter.RegisterBodyDecoder("application/x-ndjson", NDJSONLines) })
}

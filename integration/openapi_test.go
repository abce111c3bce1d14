package integration

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/faaspot/faaspot/api"
	"github.com/faaspot/faaspot/api/openapicheck"
)

// apiCheck validates every exchange of the suite's in-process HTTP clients (the Go client and
// raw requests, both on http.DefaultTransport) against the API's OpenAPI document, with
// kin-openapi. Set by startOpenAPICheck before the tests run.
var apiCheck *openAPICheck

// openAPICheck records what the document says of each answer: the answers that do not validate
// (problems, by server address), and the operations whose answers did.
type openAPICheck struct {
	doc    *openapi3.T
	router routers.Router

	mu       sync.Mutex
	idle     *sync.Cond          // signalled when running falls to 0
	running  int                 // validations under way
	open     int                 // answers whose body is neither read to its end nor closed yet
	problems map[string][]string // by server address (host:port)
	nodes    map[string]bool     // base URLs of the daemons startNode started
	proxies  map[string]string   // validating proxy's base URL by daemon base URL
	answered map[string]int      // validated answers by operation id
	refused  int                 // requests the document refuses, answered 4xx
	partial  int                 // answers whose body the client left unread, validated without it
}

// startOpenAPICheck loads and validates the document and puts a validating transport in front of
// http.DefaultTransport, which the Go client and the suite's raw requests use.
func startOpenAPICheck() (*openAPICheck, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPIDocument())
	if err != nil {
		return nil, fmt.Errorf("load api/openapi.json: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("api/openapi.json is not a valid OpenAPI document: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route api/openapi.json: %w", err)
	}
	openapicheck.RegisterDecoders()
	c := &openAPICheck{doc: doc, router: router, problems: map[string][]string{}, answered: map[string]int{},
		nodes: map[string]bool{}, proxies: map[string]string{}}
	c.idle = sync.NewCond(&c.mu)
	http.DefaultTransport = &checkedTransport{base: http.DefaultTransport, c: c}
	apiCheck = c
	return c, nil
}

// finish reports, after the tests, the problems no test reported (answers of daemons that
// startNode did not start) and the operations exercised; a problem fails the suite.
func (c *openAPICheck) finish(code int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settle()
	var left []string
	for _, ps := range c.problems {
		left = append(left, ps...)
	}
	var documented, missed []string
	for _, item := range c.doc.Paths.Map() {
		for _, op := range item.Operations() {
			documented = append(documented, op.OperationID)
			if c.answered[op.OperationID] == 0 {
				missed = append(missed, op.OperationID)
			}
		}
	}
	slices.Sort(missed)
	answers := 0
	for _, n := range c.answered {
		answers += n
	}
	fmt.Printf("openapi: %d of %d documented operations exercised (%d answers validated; %d requests the "+
		"document refuses were answered 4xx; %d bodies validated without their unread end; %d never read nor "+
		"closed); not exercised: %s\n", len(documented)-len(missed), len(documented), answers, c.refused,
		c.partial, c.open, cmp.Or(strings.Join(missed, ", "), "none"))
	if len(left) > 0 {
		fmt.Fprintf(os.Stderr, "openapi: %d answers do not validate against api/openapi.json:\n  %s\n",
			len(left), strings.Join(left, "\n  "))
		return max(code, 1)
	}
	return code
}

// watch makes t fail, when it ends, on the answers of the daemon at baseURL that do not
// validate, and lets proxied route the test's processes to it through a validating proxy.
func (c *openAPICheck) watch(t testing.TB, baseURL string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.nodes[baseURL] = true
	c.mu.Unlock()
	t.Cleanup(func() { c.reportTo(t, baseURL) }) // runs before the daemon's Close, registered earlier
}

// reportTo fails t with the problems of the answers of the daemon at baseURL so far.
func (c *openAPICheck) reportTo(t testing.TB, baseURL string) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return
	}
	c.mu.Lock()
	c.settle()
	ps := c.problems[u.Host]
	delete(c.problems, u.Host)
	c.mu.Unlock()
	for _, p := range ps {
		t.Errorf("an answer does not validate against api/openapi.json: %s", p)
	}
}

// unvalidated returns the ids of the operations of ops no answer of which has validated yet.
func (c *openAPICheck) unvalidated(ops []operation) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settle()
	var out []string
	for _, o := range ops {
		if c.answered[o.id] == 0 {
			out = append(out, o.id)
		}
	}
	return out
}

// settle waits until no validation is under way. c.mu must be held.
func (c *openAPICheck) settle() {
	for c.running > 0 {
		c.idle.Wait()
	}
}

// started counts an answer handed to a client, open until its body is read or closed;
// validating moves it to the validations under way, which record ends.
func (c *openAPICheck) started() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open++
}

func (c *openAPICheck) validating() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open--
	c.running++
}

// record ends a validation with its outcome: a problem, or a validated answer of operation.
func (c *openAPICheck) record(host, problem, operation string, refused, partial bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running--; c.running == 0 {
		c.idle.Broadcast()
	}
	switch {
	case problem != "":
		c.problems[host] = append(c.problems[host], problem)
	case operation != "":
		c.answered[operation]++
	}
	if refused {
		c.refused++
	}
	if partial {
		c.partial++
	}
}

// checkedTransport sends requests with base and validates each exchange on a route of the
// document once its answer's body has been read (or closed).
type checkedTransport struct {
	base http.RoundTripper
	c    *openAPICheck
}

func (t *checkedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	route, params, err := t.c.router.FindRoute(req)
	if err != nil && !errors.Is(err, routers.ErrMethodNotAllowed) {
		return t.base.RoundTrip(req) // not the API: the package index, a callback receiver, junk
	}
	x := &exchange{c: t.c, req: req.Clone(context.Background()), route: route, params: params}
	if req.Body != nil && req.Body != http.NoBody {
		x.body, x.bodyUnknown = requestBody(req)
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	x.status, x.header = resp.StatusCode, resp.Header.Clone()
	t.c.started()
	resp.Body = &teeBody{rc: resp.Body, done: func(body []byte, complete bool) {
		t.c.validating()
		go x.check(body, complete) // off the client's path: its timings stay its own
	}}
	return resp, nil
}

// requestBody is a copy of req's body, when req can give one (http.NewRequest does for bytes and
// strings); unknown is true otherwise.
func requestBody(req *http.Request) (body []byte, unknown bool) {
	if req.GetBody == nil {
		return nil, true
	}
	rc, err := req.GetBody()
	if err != nil {
		return nil, true
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return b, err != nil
}

// exchange is one request to a route of the document and its answer.
type exchange struct {
	c           *openAPICheck
	req         *http.Request
	body        []byte
	bodyUnknown bool
	route       *routers.Route // nil: the path is documented, the method is not
	params      map[string]string
	status      int
	header      http.Header
}

func (x *exchange) check(body []byte, complete bool) {
	where := fmt.Sprintf("%s %s → %d", x.req.Method, x.req.URL.RequestURI(), x.status)
	if x.route == nil {
		problem := x.checkNotAllowed(body)
		if problem != "" {
			problem = where + ": " + problem
		}
		x.c.record(x.req.URL.Host, problem, "", false, false)
		return
	}
	ctx := context.Background()
	req := x.req.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(x.body))
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: x.params, Route: x.route,
		Options: &openapi3filter.Options{MultiError: true, ExcludeRequestBody: x.bodyUnknown, AuthenticationFunc: openapicheck.TokenScheme}}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: x.status, Header: x.header,
		Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true, ExcludeResponseBody: !complete}}
	out.SetBodyBytes(body)
	var problems []string
	if reqErr != nil && x.status < http.StatusBadRequest {
		problems = append(problems, "the document refuses the request the server accepted: "+reqErr.Error())
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		problems = append(problems, err.Error())
	}
	problem := ""
	if len(problems) > 0 {
		problem = fmt.Sprintf("%s (%s): %s; body: %.300s", where, x.route.Operation.OperationID,
			strings.Join(problems, "; "), body)
	}
	x.c.record(x.req.URL.Host, problem, x.route.Operation.OperationID, reqErr != nil, !complete)
}

// checkNotAllowed checks the answer to a method the document has not on a path it has: a 405
// with the document's error body (ErrorResponse, code method_not_allowed).
func (x *exchange) checkNotAllowed(body []byte) string {
	if x.status != http.StatusMethodNotAllowed {
		return "the document has no such method on this path, the server answered it"
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Sprintf("a 405 whose body is not JSON: %v", err)
	}
	schema := x.c.doc.Components.Schemas["ErrorResponse"].Value
	if err := schema.VisitJSON(v, openapi3.VisitAsResponse()); err != nil {
		return "the 405's body is not an ErrorResponse: " + err.Error()
	}
	if e, _ := v.(map[string]any)["error"].(map[string]any); e["code"] != "method_not_allowed" {
		return fmt.Sprintf("the 405's error code is %v", e["code"])
	}
	return ""
}

// teeBody keeps what its client reads of an answer's body and hands it to done once, with
// whether it is the whole body, at the end of the body or when the client closes it.
type teeBody struct {
	rc   io.ReadCloser
	done func(body []byte, complete bool)

	mu   sync.Mutex
	buf  bytes.Buffer
	eof  bool
	once sync.Once
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.mu.Lock()
	b.buf.Write(p[:n])
	b.eof = b.eof || errors.Is(err, io.EOF)
	eof := b.eof
	b.mu.Unlock()
	if eof {
		b.finish()
	}
	return n, err
}

// Close reads what is left of the body for a moment first: a client may stop at the last line of
// a complete answer without reading its end, which is there at once; an answer still going on
// (a follow given up) is validated without its body.
func (b *teeBody) Close() error {
	b.mu.Lock()
	eof := b.eof
	b.mu.Unlock()
	if !eof {
		timer := time.AfterFunc(500*time.Millisecond, func() { _ = b.rc.Close() })
		rest, err := io.ReadAll(b.rc)
		in := timer.Stop()
		b.mu.Lock()
		b.buf.Write(rest)
		b.eof = err == nil && in
		b.mu.Unlock()
	}
	err := b.rc.Close()
	b.finish()
	return err
}

func (b *teeBody) finish() {
	b.once.Do(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.done(bytes.Clone(b.buf.Bytes()), b.eof)
	})
}

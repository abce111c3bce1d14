// Package client is the Go client of faaspot's HTTP API, shared by the fas CLI and the tests.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/faaspot/faaspot"
)

// APIError is an error answer of the API: its HTTP status and the error it carried.
type APIError struct {
	Status int
	Err    faaspot.Error
	// Body is the raw answer, for callers that need more than the error (e.g. a failed build).
	Body []byte
}

func (e *APIError) Error() string {
	if e.Err.Field != "" {
		return fmt.Sprintf("%s (field %s, HTTP %d)", e.Err.Message, e.Err.Field, e.Status)
	}
	return fmt.Sprintf("%s (HTTP %d)", e.Err.Message, e.Status)
}

// IsStatus reports whether err is an API error with that HTTP status.
func IsStatus(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status
}

// RunError is a run that ended failed or timed out, with the error it reported.
type RunError struct {
	ExecutionID string
	Status      faaspot.ExecStatus
	faaspot.ExecError
}

func (e *RunError) Error() string {
	return fmt.Sprintf("execution %s %s: %s: %s", e.ExecutionID, e.Status, e.Type, e.Message)
}

// Client talks to one faaspot server as one tenant (or as the operator, with the admin token).
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New returns a Client for the server at baseURL using token.
func New(baseURL, token string) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token,
		http: &http.Client{Timeout: 15 * time.Minute}}
}

// BuildError is a deployment whose build failed (create with wait).
type BuildError struct {
	Deployment faaspot.Deployment
	Message    string
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("build of %s version %d failed: %s", e.Deployment.Name, e.Deployment.Version, e.Message)
}

// CreateDeployment creates or updates a deployment. With wait it returns once the build ended; a
// failed build is a *BuildError carrying the deployment and its build log.
func (c *Client) CreateDeployment(ctx context.Context, req faaspot.DeploymentRequest, wait bool) (faaspot.Deployment, error) {
	var d faaspot.Deployment
	path := "/v1/deployments"
	if wait {
		path += "?wait=true"
	}
	_, err := c.do(ctx, http.MethodPost, path, req, &d)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusUnprocessableEntity {
		var failed faaspot.BuildFailure
		if json.Unmarshal(ae.Body, &failed) == nil {
			return failed.Deployment, &BuildError{Deployment: failed.Deployment, Message: ae.Err.Message}
		}
	}
	return d, err
}

// GetDeployment returns one deployment.
func (c *Client) GetDeployment(ctx context.Context, name string) (faaspot.Deployment, error) {
	var d faaspot.Deployment
	_, err := c.do(ctx, http.MethodGet, "/v1/deployments/"+url.PathEscape(name), nil, &d)
	return d, err
}

// ListDeployments returns the tenant's deployments.
func (c *Client) ListDeployments(ctx context.Context) ([]faaspot.Deployment, error) {
	var ds []faaspot.Deployment
	_, err := c.do(ctx, http.MethodGet, "/v1/deployments", nil, &ds)
	return ds, err
}

// DeleteDeployment deletes a deployment.
func (c *Client) DeleteDeployment(ctx context.Context, name string) error {
	_, err := c.do(ctx, http.MethodDelete, "/v1/deployments/"+url.PathEscape(name), nil, nil)
	return err
}

// RunOptions choose what a run runs and how it is requested. The zero value runs the current
// version without an idempotency key or a callback URL.
type RunOptions struct {
	// Version pins the run to that version of the deployment; 0 runs its current version (the
	// ready_version).
	Version int
	// IdempotencyKey, when not "", is sent as the Idempotency-Key header: the same key for the same
	// tenant and deployment gives the same execution again, and the function runs once, for 24
	// hours (the server's FAASPOT_IDEMPOTENCY_TTL). The server refuses with a 400 (field Idempotency-Key) a key longer
	// than 255 characters or holding other than printable ASCII without spaces.
	IdempotencyKey string
	// CallbackURL, when not "", is sent as the X-Faaspot-Callback-Url header: once the run has
	// ended, the server POSTs its execution record there, signed with the tenant's webhook
	// secret (see WebhookSecret and faaspot.VerifyCallback), and shows the delivery in the
	// record's Callback. It is used instead of the deployment's own callback URL. The server
	// refuses a URL it does not accept (not absolute http or https, or inside the server's own
	// network) with an *APIError 400 naming the header.
	CallbackURL string
}

// header is the request headers opts adds to a run: the Idempotency-Key and the callback URL
// when set; nil when neither is.
func (opts RunOptions) header() http.Header {
	var h http.Header
	add := func(k, v string) {
		if v == "" {
			return
		}
		if h == nil {
			h = http.Header{}
		}
		h.Set(k, v)
	}
	add(faaspot.HeaderIdempotencyKey, opts.IdempotencyKey)
	add(faaspot.HeaderCallbackURL, opts.CallbackURL)
	return h
}

// Run queues a run of the deployment's current version with typed args and returns its execution
// id: RunWith with the zero RunOptions.
func (c *Client) Run(ctx context.Context, name string, args map[string]any) (string, error) {
	return c.RunWith(ctx, name, args, RunOptions{})
}

// RunVersion queues a run of the deployment's version (0: its current version): RunWith with
// that Version.
func (c *Client) RunVersion(ctx context.Context, name string, version int, args map[string]any) (string, error) {
	return c.RunWith(ctx, name, args, RunOptions{Version: version})
}

// RunWith queues a run of the deployment with typed args (nil for none) as opts says and returns
// its execution id; with an IdempotencyKey already used, the id of that key's execution. The
// server's refusals are *APIError: 400 for a bad key, 404 for an unknown deployment or version,
// 409 when the version is building or failed to build.
func (c *Client) RunWith(ctx context.Context, name string, args map[string]any, opts RunOptions) (string, error) {
	var id string
	_, err := c.doWith(ctx, http.MethodPost, rpcPath(false, name, opts.Version), opts.header(), orEmpty(args), &id)
	return id, err
}

// RunSync runs the deployment's current version and waits: RunSyncWith with the zero RunOptions.
func (c *Client) RunSync(ctx context.Context, name string, args map[string]any) (json.RawMessage, string, error) {
	return c.RunSyncWith(ctx, name, args, RunOptions{})
}

// RunSyncVersion runs the deployment's version (0: its current version) and waits: RunSyncWith
// with that Version.
func (c *Client) RunSyncVersion(ctx context.Context, name string, version int, args map[string]any) (json.RawMessage, string, error) {
	return c.RunSyncWith(ctx, name, args, RunOptions{Version: version})
}

// RunSyncWith runs the deployment with typed args as opts says and waits. It returns the
// function's value as raw JSON and the execution id; a failed or timed-out run is a *RunError.
// With an IdempotencyKey already used, it answers that key's execution (waiting for it if it is
// still running) instead of running the function again. When the run outlasts the server's sync
// wait, it waits for the record (an hour at most). The server's refusals are *APIError, as for
// RunWith.
func (c *Client) RunSyncWith(ctx context.Context, name string, args map[string]any, opts RunOptions) (json.RawMessage, string, error) {
	var raw json.RawMessage
	hdr, err := c.doWith(ctx, http.MethodPost, rpcPath(true, name, opts.Version), opts.header(), orEmpty(args), &raw)
	id := hdr.Get(faaspot.HeaderExecutionID)
	var ae *APIError
	if errors.As(err, &ae) && (ae.Status == http.StatusInternalServerError || ae.Status == http.StatusGatewayTimeout) && ae.Err.Code == "" {
		// The answer carries the function's error: faaspot.RunFailure.
		var failed faaspot.RunFailure
		if json.Unmarshal(ae.Body, &failed) == nil && failed.ExecutionID != "" {
			return nil, id, runErrorOf(faaspot.Execution{ID: failed.ExecutionID, Status: failed.Status, Error: failed.Error})
		}
		return nil, id, c.runError(ctx, id)
	}
	if err != nil {
		return nil, id, err
	}
	if hdr.Get("X-Faaspot-Status") == "pending" {
		e, err := c.WaitExecution(ctx, id, time.Hour)
		if err != nil {
			return nil, id, err
		}
		if e.Status != faaspot.ExecCompleted {
			return nil, id, runErrorOf(e)
		}
		return e.Result, id, nil
	}
	return raw, id, nil
}

// rpcPath is the route of a run of the deployment name: sync or queued, pinned to version unless
// it is 0.
func rpcPath(sync bool, name string, version int) string {
	p := "/v1/deployments/" + url.PathEscape(name)
	if sync {
		p = "/v1/sync/deployments/" + url.PathEscape(name)
	}
	if version != 0 {
		p += "/versions/" + strconv.Itoa(version)
	}
	return p + "/rpc/"
}

func (c *Client) runError(ctx context.Context, id string) error {
	e, err := c.GetExecution(ctx, id)
	if err != nil {
		return err
	}
	return runErrorOf(e)
}

func runErrorOf(e faaspot.Execution) *RunError {
	re := &RunError{ExecutionID: e.ID, Status: e.Status}
	if e.Error != nil {
		re.ExecError = *e.Error
	}
	return re
}

// GetExecution returns an execution record.
func (c *Client) GetExecution(ctx context.Context, id string) (faaspot.Execution, error) {
	var e faaspot.Execution
	_, err := c.do(ctx, http.MethodGet, "/v1/executions/"+url.PathEscape(id), nil, &e)
	return e, err
}

// ListExecutions returns one page of the tenant's executions selected by q, newest first, as
// summaries, and the cursor of the next page ("" on the last; pass it as q.Cursor for the next).
func (c *Client) ListExecutions(ctx context.Context, q faaspot.ExecutionQuery) ([]faaspot.ExecutionSummary, string, error) {
	var es []faaspot.ExecutionSummary
	next, err := c.listExecutions(ctx, q, false, &es)
	return es, next, err
}

// ListExecutionRecords is ListExecutions with whole records (?view=full; at most 100 a page).
func (c *Client) ListExecutionRecords(ctx context.Context, q faaspot.ExecutionQuery) ([]faaspot.Execution, string, error) {
	var es []faaspot.Execution
	next, err := c.listExecutions(ctx, q, true, &es)
	return es, next, err
}

// listExecutions fetches one page of GET /v1/executions into out and returns the next cursor.
func (c *Client) listExecutions(ctx context.Context, q faaspot.ExecutionQuery, full bool, out any) (string, error) {
	v := url.Values{}
	if q.Deployment != "" {
		v.Set("deployment", q.Deployment)
	}
	if q.Limit > 0 {
		v.Set("limit", fmt.Sprint(q.Limit))
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	if full {
		v.Set("view", "full")
	}
	hdr, err := c.do(ctx, http.MethodGet, "/v1/executions?"+v.Encode(), nil, out)
	if err != nil {
		return "", err
	}
	return hdr.Get(faaspot.HeaderNextCursor), nil
}

// WaitExecution polls the record until it is terminal or timeout passes. Clients poll; the server
// never does.
func (c *Client) WaitExecution(ctx context.Context, id string, timeout time.Duration) (faaspot.Execution, error) {
	deadline := time.Now().Add(timeout)
	delay := 20 * time.Millisecond
	for {
		e, err := c.GetExecution(ctx, id)
		if err != nil || e.Terminal() {
			return e, err
		}
		if time.Now().After(deadline) {
			return e, fmt.Errorf("execution %s still %s after %s", id, e.Status, timeout)
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return e, ctx.Err()
		}
		delay = min(delay*2, time.Second)
	}
}

// CreateTenant creates a tenant (admin token) and returns its first token.
func (c *Client) CreateTenant(ctx context.Context, name string) (string, error) {
	var out faaspot.TenantCreated
	_, err := c.do(ctx, http.MethodPost, "/v1/tenants", faaspot.CreateTenantRequest{Name: name}, &out)
	return out.Token, err
}

// do sends a JSON request and decodes a JSON answer into out. Non-2xx answers become *APIError.
func (c *Client) do(ctx context.Context, method, path string, in, out any) (http.Header, error) {
	return c.doWith(ctx, method, path, nil, in, out)
}

// doWith is do with extra request headers (nil for none).
func (c *Client) doWith(ctx context.Context, method, path string, header http.Header, in, out any) (http.Header, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Token "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach faaspot at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.Header, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode == http.StatusAccepted && strings.Contains(path, "/sync/") {
		resp.Header.Set("X-Faaspot-Status", "pending")
		return resp.Header, nil
	}
	if resp.StatusCode >= 300 {
		return resp.Header, apiError(resp.StatusCode, data)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.Header, fmt.Errorf("decode answer of %s %s: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

func apiError(status int, data []byte) *APIError {
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	ae := &APIError{Status: status, Body: data}
	if json.Unmarshal(data, &env) == nil && len(env.Error) > 0 {
		_ = json.Unmarshal(env.Error, &ae.Err) // a function's error (RunFailure) decodes as far as it matches
	}
	if ae.Err.Message == "" {
		ae.Err.Message = strings.TrimSpace(string(data))
		if ae.Err.Message == "" {
			ae.Err.Message = http.StatusText(status)
		}
	}
	return ae
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

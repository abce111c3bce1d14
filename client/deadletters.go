package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/faaspot/faaspot"
)

// ListDeadLetters returns the summaries of the tenant's dead letters, newest first: the async
// runs of deployments with a retry policy (faaspot.RetryPolicy) that failed or timed out on
// their last attempt and were not retried by hand since. limit is how many at most, 1 to 1000;
// 0 asks for the server's default (100). The server refuses another limit with an *APIError
// 400 (field "limit").
func (c *Client) ListDeadLetters(ctx context.Context, limit int) ([]faaspot.ExecutionSummary, error) {
	path := "/v1/dead-letters"
	if limit != 0 {
		path += "?" + url.Values{"limit": {strconv.Itoa(limit)}}.Encode()
	}
	var es []faaspot.ExecutionSummary
	_, err := c.do(ctx, http.MethodGet, path, nil, &es)
	return es, err
}

// RetryExecution runs the failed or timed-out execution id again and returns the id of the new
// execution: a new run, queued, of the deployment's current version with the same arguments
// (the deployment's retry policy applies to it). The old execution is kept as it is and taken
// off the dead letters. The server's refusals are *APIError: 404 for an unknown execution or a
// deployment deleted since, 409 (code "not_ready") for an execution that did not fail or time
// out (queued, running or completed) or a deployment whose build failed, 429 when the tenant's
// queued-runs quota is full.
func (c *Client) RetryExecution(ctx context.Context, id string) (string, error) {
	var newID string
	_, err := c.do(ctx, http.MethodPost, "/v1/executions/"+url.PathEscape(id)+"/retry", nil, &newID)
	return newID, err
}

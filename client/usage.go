package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/faaspot/faaspot"
)

// Usage returns the caller's usage per UTC day from from to to (both included; their times of
// day are ignored): runs by status, seconds, GB-seconds, CPU seconds, builds and build seconds,
// the range's total and the bytes of its records stored now. A zero from or to leaves it to the
// server: to today, from 29 days before to. The server refuses a range backwards or over 366
// days with an *APIError 400 (field "to").
func (c *Client) Usage(ctx context.Context, from, to time.Time) (faaspot.Usage, error) {
	return c.usage(ctx, "/v1/usage", from, to)
}

// TenantUsage is Usage of the named tenant, for the operator (a Client with the admin token):
// an *APIError 404 for an unknown tenant.
func (c *Client) TenantUsage(ctx context.Context, tenant string, from, to time.Time) (faaspot.Usage, error) {
	return c.usage(ctx, tenantPath(tenant)+"/usage", from, to)
}

func (c *Client) usage(ctx context.Context, path string, from, to time.Time) (faaspot.Usage, error) {
	q := url.Values{}
	if !from.IsZero() {
		q.Set("from", from.UTC().Format(time.DateOnly))
	}
	if !to.IsZero() {
		q.Set("to", to.UTC().Format(time.DateOnly))
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var u faaspot.Usage
	_, err := c.do(ctx, http.MethodGet, path, nil, &u)
	return u, err
}

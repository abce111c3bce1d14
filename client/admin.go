package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/faaspot/faaspot"
)

// The operator's calls: a Client made with the admin token (see New). Each answers *APIError
// for an error answer: 401 for a wrong admin token, 403 when the server has no admin token set,
// 404 for an unknown tenant or token id, 409 for a tenant name that exists already.

// CreateTenantRecord creates a tenant and returns the whole answer: its id, name and first token
// (the only time that token is shown). CreateTenant is the same call returning the token only.
func (c *Client) CreateTenantRecord(ctx context.Context, name string) (faaspot.TenantCreated, error) {
	var out faaspot.TenantCreated
	_, err := c.do(ctx, http.MethodPost, "/v1/tenants", faaspot.CreateTenantRequest{Name: name}, &out)
	return out, err
}

// ListTenants returns every tenant, sorted by name, with its own quotas (zero: the default).
func (c *Client) ListTenants(ctx context.Context) ([]faaspot.Tenant, error) {
	var ts []faaspot.Tenant
	_, err := c.do(ctx, http.MethodGet, "/v1/tenants", nil, &ts)
	return ts, err
}

// DeleteTenant deletes a tenant by name: its tokens are revoked at once, its deployments,
// executions and images removed.
func (c *Client) DeleteTenant(ctx context.Context, name string) error {
	_, err := c.do(ctx, http.MethodDelete, tenantPath(name), nil, nil)
	return err
}

// IssueToken issues a new token for the tenant named name and returns it with its id; the token
// is shown only in this answer.
func (c *Client) IssueToken(ctx context.Context, tenant string) (faaspot.TokenIssued, error) {
	var out faaspot.TokenIssued
	_, err := c.do(ctx, http.MethodPost, tenantPath(tenant)+"/tokens", nil, &out)
	return out, err
}

// ListTokens returns the ids and creation times of a tenant's tokens, never their values.
func (c *Client) ListTokens(ctx context.Context, tenant string) ([]faaspot.Token, error) {
	var out []faaspot.Token
	_, err := c.do(ctx, http.MethodGet, tenantPath(tenant)+"/tokens", nil, &out)
	return out, err
}

// RevokeToken revokes one of a tenant's tokens by id; requests bearing it fail from then on.
func (c *Client) RevokeToken(ctx context.Context, tenant, id string) error {
	_, err := c.do(ctx, http.MethodDelete, tenantPath(tenant)+"/tokens/"+url.PathEscape(id), nil, nil)
	return err
}

// SetQuotas replaces a tenant's quotas (zero fields: the operator's defaults) and returns them
// with the quotas in effect.
func (c *Client) SetQuotas(ctx context.Context, tenant string, q faaspot.Quotas) (faaspot.QuotasSet, error) {
	var out faaspot.QuotasSet
	_, err := c.do(ctx, http.MethodPut, tenantPath(tenant)+"/quotas", q, &out)
	return out, err
}

func tenantPath(name string) string { return "/v1/tenants/" + url.PathEscape(name) }

package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/faaspot/faaspot"
)

// ListVersions returns the records of the deployment's kept versions, newest first, the ready
// one marked. An *APIError with status 404 when the tenant has no deployment of that name.
func (c *Client) ListVersions(ctx context.Context, name string) ([]faaspot.VersionInfo, error) {
	var vs []faaspot.VersionInfo
	_, err := c.do(ctx, http.MethodGet, "/v1/deployments/"+url.PathEscape(name)+"/versions", nil, &vs)
	return vs, err
}

// Rollback makes the deployment's version the one that runs (its ready_version) and returns the
// deployment as it is then. version must be one of the kept versions (see ListVersions) that
// built. The server's refusals are *APIError: 400 (field "version") for a version that is not a
// positive integer, 404 for an unknown deployment or a version not kept (field "version"), 409
// (code "not_ready") when that version is building or failed to build.
func (c *Client) Rollback(ctx context.Context, name string, version int) (faaspot.Deployment, error) {
	var d faaspot.Deployment
	_, err := c.do(ctx, http.MethodPost, "/v1/deployments/"+url.PathEscape(name)+"/rollback", faaspot.RollbackRequest{Version: version}, &d)
	return d, err
}

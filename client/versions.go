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

package client

import (
	"context"
	"fmt"
	"net/http"

	"github.com/faaspot/faaspot"
)

// The tenant's webhook secret is the key that signs the callbacks of its runs (the
// faaspot.HeaderSignature header of each POST to a callback URL). A receiver checks a delivery
// with faaspot.VerifyCallback(secret, header, body, now, tolerance).

// WebhookSecret returns the tenant's webhook secret, which the server creates on first use.
func (c *Client) WebhookSecret(ctx context.Context) (string, error) {
	return c.webhookSecret(ctx, http.MethodGet)
}

// RotateWebhookSecret replaces the tenant's webhook secret with a new one and returns it: the
// callbacks sent from then on are signed with it.
func (c *Client) RotateWebhookSecret(ctx context.Context) (string, error) {
	return c.webhookSecret(ctx, http.MethodPost)
}

func (c *Client) webhookSecret(ctx context.Context, method string) (string, error) {
	var out faaspot.WebhookSecret
	_, err := c.do(ctx, method, "/v1/webhook-secret", nil, &out)
	if err == nil && out.Secret == "" {
		err = fmt.Errorf("%s /v1/webhook-secret: the answer holds no secret", method)
	}
	return out.Secret, err
}

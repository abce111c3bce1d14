package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/callback"
)

// getWebhookSecret handles GET /v1/webhook-secret: 200 with the tenant's callback signing secret
// (made on first use).
func (s *Server) getWebhookSecret(w http.ResponseWriter, r *http.Request) {
	secret, err := s.webhooks.WebhookSecret(r.Context(), tenantOf(r).ID)
	s.answerSecret(w, r, secret, err)
}

// rotateWebhookSecret handles POST /v1/webhook-secret: a new secret replaces the old one at once
// (callbacks signed from now on use it); 200 with it.
func (s *Server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	secret, err := s.webhooks.RotateWebhookSecret(r.Context(), tenantOf(r).ID)
	s.answerSecret(w, r, secret, err)
}

func (s *Server) answerSecret(w http.ResponseWriter, r *http.Request, secret string, err error) {
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, faaspot.WebhookSecret{Secret: secret})
}

// requestCallback returns the callback a run request asks for with faaspot.HeaderCallbackURL,
// else nil; a 400 naming the header when its URL is refused, a 503 when its host cannot be
// looked up now.
func (s *Server) requestCallback(r *http.Request) (*faaspot.Callback, error) {
	u := r.Header.Get(faaspot.HeaderCallbackURL)
	if u == "" {
		return nil, nil
	}
	if err := s.checkCallback(r.Context(), faaspot.HeaderCallbackURL, u); err != nil {
		return nil, err
	}
	return &faaspot.Callback{URL: u, State: faaspot.CallbackPending}, nil
}

// checkCallback checks a callback URL given in field ("" is none): a 400 naming the field when
// its form is wrong or its host resolves inside the server's network (unless the operator allows
// it).
func (s *Server) checkCallback(ctx context.Context, field, u string) error {
	if u == "" {
		return nil
	}
	err := s.callbacks.CheckURL(ctx, u)
	switch {
	case errors.Is(err, callback.ErrRefused):
		return faaspot.Invalid(field, "%v", err)
	case errors.Is(err, callback.ErrResolve):
		return &faaspot.Error{Code: faaspot.ECodeUnavailable, RetryAfter: 5 * time.Second,
			Message: "the callback URL's host could not be looked up now (a DNS failure); try again shortly"}
	}
	return err
}

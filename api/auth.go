package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

type tenantKey struct{}

// tenantOf returns the tenant that authenticate put in the request's context.
func tenantOf(r *http.Request) faaspot.Tenant {
	t, _ := r.Context().Value(tenantKey{}).(faaspot.Tenant)
	return t
}

// bearer extracts the token of "Authorization: Token T" (also accepted: "Bearer T").
func bearer(r *http.Request) string {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	for _, scheme := range []string{"Token ", "Bearer "} {
		if len(h) > len(scheme) && strings.EqualFold(h[:len(scheme)], scheme) {
			return strings.TrimSpace(h[len(scheme):])
		}
	}
	return ""
}

// authenticate resolves the caller's tenant from its token and applies its request-rate quota;
// every tenant route sits behind it.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := bearer(r)
		if token == "" {
			writeError(w, r, s.log, errUnauthorized)
			return
		}
		t, wait, err := s.store.Authenticate(r.Context(), token, s.cfg.DefaultQuotas.RequestsPerSecond)
		if errors.Is(err, store.ErrNotFound) {
			err = errUnauthorized
		}
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if wait > 0 { // over the tenant's request rate, counted across every API node
			rate := s.quotasFor(t).RequestsPerSecond
			writeError(w, r, s.log, quotaError(&faaspot.QuotaError{What: "requests per second", Limit: rate}, wait))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tenantKey{}, t)))
	})
}

// adminOnly lets through requests carrying the operator's admin token, compared in constant time.
func (s *Server) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.AdminToken == "" {
			writeError(w, r, s.log, &Error{Status: http.StatusForbidden, Code: "forbidden",
				Message: "the admin API is disabled: set FAASPOT_ADMIN_TOKEN"})
			return
		}
		token := bearer(r)
		if token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.AdminToken)) != 1 {
			writeError(w, r, s.log, errUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

package api

import (
	"context"
	"crypto/subtle"
	"net/http"
	"net/netip"
	"strings"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/metrics"
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
// every tenant route sits behind it. A missing or unknown token is 401, a tenant over its rate 429.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := bearer(r)
		if token == "" {
			writeError(w, r, s.log, unauthorized())
			return
		}
		t, wait, err := s.auth.Authenticate(r.Context(), token, s.cfg.DefaultQuotas.RequestsPerSecond)
		if err = ifNotFound(err, unauthorized()); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if wait > 0 { // over the tenant's request rate, counted across every API node
			rate := t.Quotas.WithDefaults(s.cfg.DefaultQuotas).RequestsPerSecond
			s.metrics.QuotaRejected(metrics.QuotaRate)
			writeError(w, r, s.log, quotaError(&faaspot.QuotaError{What: "requests per second", Limit: rate}, wait))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tenantKey{}, t)))
	})
}

// adminOnly lets through requests carrying the operator's admin token, compared in constant time:
// 403 when no admin token is configured, 401 for a missing or wrong one. Failed attempts are
// limited per client address (see adminFails): an address over its budget is answered 429 with
// Retry-After before its token is even compared, so the limit gives no oracle; successful
// attempts give back what they took.
func (s *Server) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.AdminToken == "" {
			writeError(w, r, s.log, faaspot.Errorf(faaspot.ECodeForbidden, "the admin API is disabled: set FAASPOT_ADMIN_TOKEN"))
			return
		}
		client := clientKey(r)
		if wait := s.adminFails.take(client, s.now()); wait > 0 {
			s.metrics.QuotaRejected(metrics.QuotaAdminLockout)
			writeError(w, r, s.log, &faaspot.Error{Code: faaspot.ECodeQuota, RetryAfter: wait,
				Message: "too many failed admin-token attempts from this address: retry later"})
			return
		}
		token := bearer(r)
		if token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.AdminToken)) != 1 {
			s.log.Warn("failed admin-token attempt", "client", client)
			writeError(w, r, s.log, unauthorized())
			return
		}
		s.adminFails.refund(client, s.now())
		next.ServeHTTP(w, r)
	})
}

// clientKey is the address a request's failures are counted against: the peer's IP (the
// RemoteAddr the server saw, never a header a client could forge), an IPv6 peer's /64 (one host
// usually holds a whole /64), "unknown" when the peer has no IP address.
func clientKey(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return "unknown"
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

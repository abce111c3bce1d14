package api

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// quotasFor is the tenant's quotas with the operator's defaults filled in.
func (s *Server) quotasFor(t faaspot.Tenant) faaspot.Quotas {
	q, def := t.Quotas, s.cfg.DefaultQuotas
	if q.MaxConcurrentRuns <= 0 {
		q.MaxConcurrentRuns = def.MaxConcurrentRuns
	}
	if q.MaxQueuedRuns <= 0 {
		q.MaxQueuedRuns = def.MaxQueuedRuns
	}
	if q.MaxDeployments <= 0 {
		q.MaxDeployments = def.MaxDeployments
	}
	if q.RequestsPerSecond <= 0 {
		q.RequestsPerSecond = def.RequestsPerSecond
	}
	return q
}

// quotaError turns a refused quota into a 429 with Retry-After.
func quotaError(qe *faaspot.QuotaError, retryAfter time.Duration) *Error {
	return &Error{Status: http.StatusTooManyRequests, Code: "quota_exceeded", Message: qe.Error(),
		RetryAfter: max(1, int(math.Ceil(retryAfter.Seconds())))}
}

// setQuotas handles PUT /v1/tenants/{tenant}/quotas (admin): zero fields mean the defaults.
func (s *Server) setQuotas(w http.ResponseWriter, r *http.Request) {
	t, ok := s.tenantByName(w, r)
	if !ok {
		return
	}
	var q faaspot.Quotas
	if err := decodeBody(w, r, s.cfg.MaxBodyBytes, &q); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if q.MaxConcurrentRuns < 0 || q.MaxQueuedRuns < 0 || q.MaxDeployments < 0 || q.RequestsPerSecond < 0 {
		writeError(w, r, s.log, invalid("", "quotas must be zero (the default) or positive"))
		return
	}
	err := s.store.SetQuotas(r.Context(), t.ID, q)
	if errors.Is(err, store.ErrNotFound) {
		err = notFound("tenant", t.Name)
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	t.Quotas = q
	s.log.Info("quotas set", "tenant", t.ID, "quotas", mustJSON(q))
	writeJSON(w, http.StatusOK, map[string]any{"name": t.Name, "quotas": q, "effective": s.quotasFor(t)})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

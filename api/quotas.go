package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/faaspot/faaspot"
)

// quotaError turns a refused quota into a quota_exceeded error (429) whose Retry-After is
// retryAfter, rounded up to whole seconds.
func quotaError(qe *faaspot.QuotaError, retryAfter time.Duration) *faaspot.Error {
	return &faaspot.Error{Code: faaspot.ECodeQuota, Message: qe.Error(), RetryAfter: retryAfter}
}

// retryQuota gives the *faaspot.QuotaError in err's chain a Retry-After of retryAfter, and counts
// the rejection in faaspot_quota_rejections_total; any other error is returned unchanged.
func (s *Server) retryQuota(err error, retryAfter time.Duration) error {
	var qe *faaspot.QuotaError
	if errors.As(err, &qe) {
		s.metrics.QuotaRejected(qe.What)
		return quotaError(qe, retryAfter)
	}
	return err
}

// setQuotas handles PUT /v1/tenants/{tenant}/quotas (admin): 200 with the tenant's own quotas and
// those in effect. Zero fields mean the operator's defaults; negative ones are refused.
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
		writeError(w, r, s.log, faaspot.Invalid("", "quotas must be zero (the default) or positive"))
		return
	}
	err := s.tenants.SetQuotas(r.Context(), t.ID, q)
	if err = ifNotFound(err, notFound("tenant", t.Name)); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	s.log.Info("quotas set", "tenant", t.ID, "max_concurrent_runs", q.MaxConcurrentRuns,
		"max_queued_runs", q.MaxQueuedRuns, "max_deployments", q.MaxDeployments,
		"requests_per_second", q.RequestsPerSecond)
	writeJSON(w, http.StatusOK, faaspot.QuotasSet{Name: t.Name, Quotas: q, Effective: q.WithDefaults(s.cfg.DefaultQuotas)})
}

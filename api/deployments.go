package api

import (
	"context"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/imagebuilder"
)

// shown is a deployment as the API shows it: the build log only on a single deployment
// (withLog), context_keys never null. The context's values are never part of a Deployment.
func shown(d faaspot.Deployment, withLog bool) faaspot.Deployment {
	if !withLog {
		d.BuildLog = ""
	}
	if d.ContextKeys == nil {
		d.ContextKeys = []string{}
	}
	return d
}

// validate checks a request completely before anything is stored and returns the spec to store.
// Errors are *faaspot.Error values naming the field at fault.
func (s *Server) validate(ctx context.Context, req faaspot.DeploymentRequest) (faaspot.DeploymentSpec, error) {
	if !validName(req.Name) {
		return faaspot.DeploymentSpec{}, faaspot.Invalid("name", "name must match %s", namePattern)
	}
	code := maybeUnquote(req.Code)
	if strings.TrimSpace(code) == "" {
		return faaspot.DeploymentSpec{}, faaspot.Invalid("code", "code is required: a Python script defining main(args, context)")
	}
	if int64(len(code)) > s.cfg.MaxCodeBytes {
		return faaspot.DeploymentSpec{}, tooLarge("code", s.cfg.MaxCodeBytes)
	}
	if strings.ContainsRune(code, 0) {
		return faaspot.DeploymentSpec{}, faaspot.Invalid("code", "code must be text without NUL bytes")
	}
	reqs := maybeUnquote(req.Requirements)
	if int64(len(reqs)) > s.cfg.MaxRequirementsBytes {
		return faaspot.DeploymentSpec{}, tooLarge("requirements", s.cfg.MaxRequirementsBytes)
	}
	if err := imagebuilder.ValidateRequirements(reqs); err != nil {
		return faaspot.DeploymentSpec{}, faaspot.Invalid("requirements", "%v", err)
	}
	ctxMap, err := parseContext(req.Context, s.cfg.MaxContextBytes)
	if err != nil {
		return faaspot.DeploymentSpec{}, err
	}
	limits, err := resolveLimits(req.Limits, s.cfg.DefaultLimits, s.cfg.MaxLimits)
	if err != nil {
		return faaspot.DeploymentSpec{}, err
	}
	if err := validateWarm(req.Warm); err != nil {
		return faaspot.DeploymentSpec{}, err
	}
	if err := validateRetry(req.Retry, s.cfg.MaxRetryAttempts); err != nil {
		return faaspot.DeploymentSpec{}, err
	}
	if err := s.checkCallback(ctx, "callback_url", req.CallbackURL); err != nil {
		return faaspot.DeploymentSpec{}, err
	}
	return faaspot.DeploymentSpec{Name: req.Name, Source: faaspot.Source{Code: code, Requirements: reqs},
		Context: ctxMap, Limits: limits, Warm: req.Warm, Retry: req.Retry, CallbackURL: req.CallbackURL}, nil
}

// maxRetryBackoffS bounds a retry policy's first wait, in seconds.
const maxRetryBackoffS = 3600

// validateRetry checks a deployment's retry policy against the operator's cap on attempts.
func validateRetry(p *faaspot.RetryPolicy, maxAttempts int) error {
	switch {
	case p == nil:
		return nil
	case p.MaxAttempts < 1 || p.MaxAttempts > maxAttempts:
		return faaspot.Invalid("retry.max_attempts", "max_attempts must be between 1 (no retry) and %d (the operator's cap)", maxAttempts)
	case p.BackoffS < 0 || p.BackoffS > maxRetryBackoffS || math.IsNaN(p.BackoffS):
		return faaspot.Invalid("retry.backoff_s", "backoff_s must be between 0 and %d seconds", maxRetryBackoffS)
	}
	return nil
}

// validateWarm checks a deployment's warm policy; the operator's settings cap it when applied.
func validateWarm(w *faaspot.WarmPolicy) error {
	if w == nil {
		return nil
	}
	switch {
	case w.MaxIdle != nil && (*w.MaxIdle < 0 || *w.MaxIdle > 1000):
		return faaspot.Invalid("warm.max_idle", "max_idle must be between 0 and 1000")
	case w.Prewarm != nil && (*w.Prewarm < 0 || *w.Prewarm > 1000):
		return faaspot.Invalid("warm.prewarm", "prewarm must be between 0 and 1000")
	case w.MaxRuns < 0:
		return faaspot.Invalid("warm.max_runs", "max_runs must not be negative")
	case w.IdleTTLS < 0:
		return faaspot.Invalid("warm.idle_ttl_s", "idle_ttl_s must not be negative")
	case w.Isolation != "" && w.Isolation != faaspot.IsolationProcess && w.Isolation != faaspot.IsolationFork:
		return faaspot.Invalid("warm.isolation", "isolation must be process or fork")
	}
	return nil
}

// createDeployment handles PUT /api/deployments/ and POST /v1/deployments: 202 with the deployment
// once its build is queued; with ?wait=true, 200 when built, 422 when the build failed. 429 when
// the tenant is at its quota of deployments or of queued builds. A request identical to the
// newest version (not failed) queues nothing and answers 200 with the deployment as it is; with
// ?wait=true while that version still builds, it waits for it as a new one would.
func (s *Server) createDeployment(w http.ResponseWriter, r *http.Request) {
	var req faaspot.DeploymentRequest
	if err := decodeBody(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	spec, err := s.validate(r.Context(), req)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	t := tenantOf(r)
	d, created, err := s.deployments.PutDeployment(r.Context(), t.ID, spec, t.Quotas.WithDefaults(s.cfg.DefaultQuotas).MaxDeployments)
	if err != nil {
		writeError(w, r, s.log, s.retryQuota(err, time.Minute))
		return
	}
	wait := isTrue(r.URL.Query().Get("wait"))
	if !created && (!wait || d.Status != faaspot.StatusBuilding) {
		writeJSON(w, http.StatusOK, shown(d, false)) // identical to the newest version: unchanged
		return
	}
	if created {
		s.log.Info("deployment queued", "tenant", t.ID, "deployment", d.Name, "version", d.Version)
	}
	if !wait {
		writeJSON(w, http.StatusAccepted, shown(d, false))
		return
	}
	s.answerBuilt(w, r, t.ID, d)
}

// answerBuilt waits up to BuildWait for the build of d's version and answers with its outcome:
// 200 built, 422 with a BuildFailure when it failed, 202 when it is still building — at once when
// the tenant already holds MaxBuildWaiters waiting creates on this node.
func (s *Server) answerBuilt(w http.ResponseWriter, r *http.Request, tid string, d faaspot.Deployment) {
	// Build waiters are counted apart from sync run waiters: under a key no tenant id can be.
	waiter := "build/" + tid
	defer s.waiters.leave(waiter)
	if !s.waiters.enter(waiter, s.cfg.MaxBuildWaiters) {
		writeJSON(w, http.StatusAccepted, shown(d, false))
		return
	}
	name := d.Name
	done, err := s.deployments.WaitBuilt(r.Context(), tid, name, d.Version, s.cfg.BuildWait)
	if err == nil {
		d, err = s.deployments.GetDeployment(r.Context(), tid, name)
	}
	switch {
	case err != nil:
		writeError(w, r, s.log, ifNotFound(err, notFound("deployment", name)))
	case !done || d.Status == faaspot.StatusBuilding:
		writeJSON(w, http.StatusAccepted, shown(d, false))
	case d.Status == faaspot.StatusFailed:
		writeJSON(w, http.StatusUnprocessableEntity, faaspot.BuildFailure{
			Error:      &faaspot.Error{Code: faaspot.ECodeBuildFailed, Message: d.Error},
			Deployment: shown(d, true),
		})
	default:
		writeJSON(w, http.StatusOK, shown(d, false))
	}
}

func isTrue(s string) bool {
	switch strings.ToLower(s) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// listDeployments handles GET /v1/deployments: 200 with the tenant's deployments, without logs.
func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request) {
	ds, err := s.deployments.ListDeployments(r.Context(), tenantOf(r).ID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	out := make([]faaspot.Deployment, len(ds))
	for i, d := range ds {
		out[i] = shown(d, false)
	}
	writeJSON(w, http.StatusOK, out)
}

// getDeployment handles GET /v1/deployments/{name}: 200 with the deployment and its build log.
func (s *Server) getDeployment(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	d, err := s.deployments.GetDeployment(r.Context(), tenantOf(r).ID, name)
	if err = ifNotFound(err, notFound("deployment", name)); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, shown(d, true))
}

// deleteDeployment handles DELETE /v1/deployments/{name}: 204. It removes the record first (so no
// new run can start), then its images; a failure to remove them is logged, not answered.
func (s *Server) deleteDeployment(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	t := tenantOf(r)
	d, err := s.deployments.DeleteDeployment(r.Context(), t.ID, name)
	if err = ifNotFound(err, notFound("deployment", name)); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if s.engine != nil {
		if err := s.engine.RemoveImages(context.WithoutCancel(r.Context()), t.ID, d.ID); err != nil {
			s.log.Warn("remove images of deleted deployment", "tenant", t.ID, "deployment", d.Name, "err", err)
		}
	}
	s.log.Info("deployment deleted", "tenant", t.ID, "deployment", d.Name)
	w.WriteHeader(http.StatusNoContent)
}

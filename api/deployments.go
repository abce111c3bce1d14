package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/imagebuilder"
	"github.com/faaspot/faaspot/store"
)

// deploymentRequest is the body of PUT /api/deployments/ and POST /v1/deployments.
type deploymentRequest struct {
	Name         string              `json:"name"`
	Code         string              `json:"code"`
	Requirements string              `json:"requirements"`
	Context      json.RawMessage     `json:"context"`
	Limits       *faaspot.Limits     `json:"limits"`
	Warm         *faaspot.WarmPolicy `json:"warm"`
}

// deploymentView is a deployment as the API shows it: never the context's values, the build log
// only on a single deployment.
type deploymentView struct {
	faaspot.Deployment
}

func viewOf(d faaspot.Deployment, withLog bool) deploymentView {
	if !withLog {
		d.BuildLog = ""
	}
	if d.ContextKeys == nil {
		d.ContextKeys = []string{}
	}
	return deploymentView{d}
}

// validate checks a request completely before anything is stored.
func (s *Server) validate(req deploymentRequest) (faaspot.DeploymentSpec, error) {
	if !validName(req.Name) {
		return faaspot.DeploymentSpec{}, invalid("name", "name must match %s", namePattern)
	}
	code := maybeUnquote(req.Code)
	if strings.TrimSpace(code) == "" {
		return faaspot.DeploymentSpec{}, invalid("code", "code is required: a Python script defining main(args, context)")
	}
	if int64(len(code)) > s.cfg.MaxCodeBytes {
		return faaspot.DeploymentSpec{}, tooLarge("code", s.cfg.MaxCodeBytes)
	}
	if strings.ContainsRune(code, 0) {
		return faaspot.DeploymentSpec{}, invalid("code", "code must be text without NUL bytes")
	}
	reqs := maybeUnquote(req.Requirements)
	if int64(len(reqs)) > s.cfg.MaxRequirementsBytes {
		return faaspot.DeploymentSpec{}, tooLarge("requirements", s.cfg.MaxRequirementsBytes)
	}
	if err := imagebuilder.ValidateRequirements(reqs); err != nil {
		return faaspot.DeploymentSpec{}, invalid("requirements", "%v", err)
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
	return faaspot.DeploymentSpec{Name: req.Name, Source: faaspot.Source{Code: code, Requirements: reqs},
		Context: ctxMap, Limits: limits, Warm: req.Warm}, nil
}

// validateWarm checks a deployment's warm policy; the operator's settings cap it when applied.
func validateWarm(w *faaspot.WarmPolicy) error {
	if w == nil {
		return nil
	}
	switch {
	case w.MaxIdle != nil && (*w.MaxIdle < 0 || *w.MaxIdle > 1000):
		return invalid("warm.max_idle", "max_idle must be between 0 and 1000")
	case w.Prewarm != nil && (*w.Prewarm < 0 || *w.Prewarm > 1000):
		return invalid("warm.prewarm", "prewarm must be between 0 and 1000")
	case w.MaxRuns < 0:
		return invalid("warm.max_runs", "max_runs must not be negative")
	case w.IdleTTLS < 0:
		return invalid("warm.idle_ttl_s", "idle_ttl_s must not be negative")
	}
	return nil
}

// createDeployment handles PUT /api/deployments/ and POST /v1/deployments: 202 with the deployment
// once its build is queued; with ?wait=true, 200 when built, 422 when the build failed.
func (s *Server) createDeployment(w http.ResponseWriter, r *http.Request) {
	var req deploymentRequest
	if err := decodeBody(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	spec, err := s.validate(req)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	t := tenantOf(r)
	d, err := s.store.PutDeployment(r.Context(), t.ID, spec, s.quotasFor(t).MaxDeployments)
	var qe *faaspot.QuotaError
	if errors.As(err, &qe) {
		err = quotaError(qe, time.Minute)
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	s.log.Info("deployment queued", "tenant", t.ID, "deployment", d.Name, "version", d.Version)
	if !isTrue(r.URL.Query().Get("wait")) {
		writeJSON(w, http.StatusAccepted, viewOf(d, false))
		return
	}
	s.answerBuilt(w, r, t.ID, d)
}

// answerBuilt waits for the build of d's version and answers with its outcome.
func (s *Server) answerBuilt(w http.ResponseWriter, r *http.Request, tid string, d faaspot.Deployment) {
	name := d.Name
	done, err := s.store.WaitBuilt(r.Context(), tid, name, d.Version, s.cfg.BuildWait)
	if err == nil {
		d, err = s.store.GetDeployment(r.Context(), tid, name)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, r, s.log, notFound("deployment", name))
	case err != nil:
		writeError(w, r, s.log, err)
	case !done || d.Status == faaspot.StatusBuilding:
		writeJSON(w, http.StatusAccepted, viewOf(d, false))
	case d.Status == faaspot.StatusFailed:
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"error":      &Error{Code: "build_failed", Message: d.Error},
			"deployment": viewOf(d, true),
		})
	default:
		writeJSON(w, http.StatusOK, viewOf(d, false))
	}
}

func isTrue(s string) bool {
	switch strings.ToLower(s) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request) {
	ds, err := s.store.ListDeployments(r.Context(), tenantOf(r).ID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	out := make([]deploymentView, len(ds))
	for i, d := range ds {
		out[i] = viewOf(d, false)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getDeployment(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	d, err := s.store.GetDeployment(r.Context(), tenantOf(r).ID, name)
	if errors.Is(err, store.ErrNotFound) {
		err = notFound("deployment", name)
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, viewOf(d, true))
}

// deleteDeployment removes the record first (so no new run can start), then its images.
func (s *Server) deleteDeployment(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	t := tenantOf(r)
	d, err := s.store.DeleteDeployment(r.Context(), t.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		err = notFound("deployment", name)
	}
	if err != nil {
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

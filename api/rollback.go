package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/faaspot/faaspot"
)

// rollback handles POST /v1/deployments/{name}/rollback with {"version": n}: 200 with the
// deployment, whose ready version (the one runs use) is now n; 400 (field "version") for a
// missing or invalid number; 404 for a deployment the tenant does not have or a version it does
// not keep; 409 for a version that cannot run (building, failed to build, or its source gone).
func (s *Server) rollback(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	var req faaspot.RollbackRequest
	if err := decodeBody(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if req.Version < 1 {
		writeError(w, r, s.log, faaspot.Invalid("version", "version must be a positive integer: the version to run (see GET /v1/deployments/%s/versions)", name))
		return
	}
	d, err := s.deployments.Rollback(r.Context(), tenantOf(r).ID, name, req.Version)
	if err != nil {
		writeError(w, r, s.log, versionProblem(name, err))
		return
	}
	s.log.Info("deployment rolled back", "tenant", tenantOf(r).ID, "deployment", name, "version", req.Version)
	writeJSON(w, http.StatusOK, shown(d, true)) // as GET /v1/deployments/{name} shows it
}

// pinnedVersion returns the version a run's path pins (…/versions/{version}/rpc/), 0 when it
// pins none; a 400 naming the field "version" when it is not a positive integer.
func pinnedVersion(r *http.Request) (int, error) {
	raw, ok := mux.Vars(r)["version"]
	if !ok {
		return 0, nil
	}
	v, err := strconv.Atoi(raw)
	if err != nil || v < 1 {
		return 0, faaspot.Invalid("version", "version must be a positive integer, not %q", raw)
	}
	return v, nil
}

// versionProblem maps the errors of a version the caller named: the deployment unknown (404), the
// version not kept (404) or unable to run (409), both naming the field "version". Other errors
// pass through.
func versionProblem(name string, err error) error {
	var ve *faaspot.VersionError
	switch {
	case errors.As(err, &ve):
		code := faaspot.ECodeNotReady
		if errors.Is(err, faaspot.ErrVersionNotFound) {
			code = faaspot.ECodeNotFound
		}
		return &faaspot.Error{Code: code, Field: "version", Message: fmt.Sprintf(
			"version %d of deployment %q %s (see GET /v1/deployments/%s/versions)", ve.Version, name, ve.Reason, name)}
	case errors.Is(err, faaspot.ErrNotFound):
		return notFound("deployment", name)
	}
	return err
}

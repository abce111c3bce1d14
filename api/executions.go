package api

import (
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/faaspot/faaspot"
)

// getExecution handles GET /v1/executions/{id}: 200 with the record, 404 when the caller's tenant
// has no such execution.
func (s *Server) getExecution(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	e, err := s.executions.GetExecution(r.Context(), tenantOf(r).ID, id)
	if err = ifNotFound(err, notFound("execution", id)); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

// listExecutions handles GET /v1/executions[?deployment=NAME][&limit=N]: newest first.
func (s *Server) listExecutions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, r, s.log, faaspot.Invalid("limit", "limit must be a whole number from 1 to 1000"))
			return
		}
		limit = n
	}
	dep := q.Get("deployment")
	if dep != "" && !validName(dep) {
		writeError(w, r, s.log, faaspot.Invalid("deployment", "deployment must match %s", namePattern))
		return
	}
	es, err := s.executions.ListExecutions(r.Context(), tenantOf(r).ID, dep, limit)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, es)
}

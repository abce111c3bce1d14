package api

import (
	"net/http"

	"github.com/gorilla/mux"
)

// listVersions handles GET /v1/deployments/{name}/versions: 200 with the records of the
// deployment's kept versions, newest first, the ready one marked "ready": true; 404 for a
// deployment the tenant does not have.
func (s *Server) listVersions(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	vs, err := s.deployments.ListVersions(r.Context(), tenantOf(r).ID, name)
	if err = ifNotFound(err, notFound("deployment", name)); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, vs)
}

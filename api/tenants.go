package api

import (
	"errors"
	"net/http"

	"github.com/faaspot/faaspot/store"
)

// createTenant handles POST /v1/tenants {"name"} (admin token): 201 {"name","token"}.
func (s *Server) createTenant(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name string `json:"name"`
	}
	if err := decodeBody(w, r, s.cfg.MaxBodyBytes, &body); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if !validName(body.Name) {
		writeError(w, r, s.log, invalid("name", "tenant name must match %s", namePattern))
		return
	}
	t, token, err := s.store.CreateTenant(r.Context(), body.Name)
	if errors.Is(err, store.ErrExists) {
		err = &Error{Status: http.StatusConflict, Code: "exists", Field: "name", Message: "tenant " + body.Name + " exists already"}
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	s.log.Info("tenant created", "tenant", t.ID, "name", t.Name)
	writeJSON(w, http.StatusCreated, map[string]string{"id": t.ID, "name": t.Name, "token": token})
}

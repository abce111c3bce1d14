package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// The operator's routes, all behind adminOnly:
//
//	POST   /v1/tenants                      {"name"} → 201 {"id","name","token"}
//	GET    /v1/tenants                      → 200 [tenant]
//	DELETE /v1/tenants/{tenant}             → 204: tokens revoked, data and images removed
//	POST   /v1/tenants/{tenant}/tokens      → 201 {"id","token"}
//	GET    /v1/tenants/{tenant}/tokens      → 200 [{"id","created_at"}]
//	DELETE /v1/tenants/{tenant}/tokens/{id} → 204
//	PUT    /v1/tenants/{tenant}/quotas      {quotas} → 200
func (s *Server) adminRoutes(r *mux.Router) {
	admin := r.PathPrefix("/v1/tenants").Subrouter()
	admin.Use(s.adminOnly)
	admin.HandleFunc("", s.createTenant).Methods(http.MethodPost)
	admin.HandleFunc("", s.listTenants).Methods(http.MethodGet)
	admin.HandleFunc("/{tenant}", s.deleteTenant).Methods(http.MethodDelete)
	admin.HandleFunc("/{tenant}/tokens", s.issueToken).Methods(http.MethodPost)
	admin.HandleFunc("/{tenant}/tokens", s.listTokens).Methods(http.MethodGet)
	admin.HandleFunc("/{tenant}/tokens/{id}", s.revokeToken).Methods(http.MethodDelete)
	admin.HandleFunc("/{tenant}/quotas", s.setQuotas).Methods(http.MethodPut)
}

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

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request) {
	ts, err := s.store.ListTenants(r.Context())
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, ts)
}

// tenantByName resolves the {tenant} route variable; it answers the error itself.
func (s *Server) tenantByName(w http.ResponseWriter, r *http.Request) (faaspot.Tenant, bool) {
	name := mux.Vars(r)["tenant"]
	t, err := s.store.TenantByName(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		err = notFound("tenant", name)
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return faaspot.Tenant{}, false
	}
	return t, true
}

func (s *Server) deleteTenant(w http.ResponseWriter, r *http.Request) {
	t, ok := s.tenantByName(w, r)
	if !ok {
		return
	}
	deps, err := s.store.DeleteTenant(r.Context(), t.ID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if s.engine != nil {
		for _, d := range deps {
			if err := s.engine.RemoveImages(context.WithoutCancel(r.Context()), t.ID, d.ID); err != nil {
				s.log.Warn("remove images of deleted tenant", "tenant", t.ID, "deployment", d.Name, "err", err)
			}
		}
	}
	s.log.Info("tenant deleted", "tenant", t.ID, "name", t.Name, "deployments", len(deps))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) {
	t, ok := s.tenantByName(w, r)
	if !ok {
		return
	}
	id, token, err := s.store.IssueToken(r.Context(), t.ID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	s.log.Info("token issued", "tenant", t.ID, "token_id", id)
	writeJSON(w, http.StatusCreated, map[string]string{"id": id, "token": token})
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	t, ok := s.tenantByName(w, r)
	if !ok {
		return
	}
	toks, err := s.store.ListTokens(r.Context(), t.ID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, toks)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	t, ok := s.tenantByName(w, r)
	if !ok {
		return
	}
	id := mux.Vars(r)["id"]
	err := s.store.RevokeToken(r.Context(), t.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		err = notFound("token", id)
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	s.log.Info("token revoked", "tenant", t.ID, "token_id", id)
	w.WriteHeader(http.StatusNoContent)
}

package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/faaspot/faaspot"
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
//	GET    /v1/tenants/{tenant}/usage       → 200 faaspot.Usage (usage.go), when served
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
	if s.usage != nil {
		admin.HandleFunc("/{tenant}/usage", s.operatorUsage).Methods(http.MethodGet)
	}
}

// createTenant handles POST /v1/tenants {"name"} (admin token): 201 with a faaspot.TenantCreated,
// the only answer that shows the tenant's first token; 409 when the name is taken.
func (s *Server) createTenant(w http.ResponseWriter, r *http.Request) {
	var body faaspot.CreateTenantRequest
	if err := decodeBody(w, r, s.cfg.MaxBodyBytes, &body); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if !validTenantName(body.Name) {
		writeError(w, r, s.log, faaspot.Invalid("name", "tenant name must match %s", tenantNamePattern))
		return
	}
	t, token, err := s.tenants.CreateTenant(r.Context(), body.Name)
	if errors.Is(err, faaspot.ErrExists) {
		err = &faaspot.Error{Code: faaspot.ECodeExists, Field: "name", Message: "tenant " + body.Name + " exists already"}
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	s.log.Info("tenant created", "tenant", t.ID, "name", t.Name)
	writeJSON(w, http.StatusCreated, faaspot.TenantCreated{ID: t.ID, Name: t.Name, Token: token})
}

// listTenants handles GET /v1/tenants (admin): 200 with every tenant, sorted by name.
func (s *Server) listTenants(w http.ResponseWriter, r *http.Request) {
	ts, err := s.tenants.ListTenants(r.Context())
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, ts)
}

// tenantByName resolves the {tenant} route variable; it answers the error itself.
func (s *Server) tenantByName(w http.ResponseWriter, r *http.Request) (faaspot.Tenant, bool) {
	name := mux.Vars(r)["tenant"]
	t, err := s.tenants.TenantByName(r.Context(), name)
	if err = ifNotFound(err, notFound("tenant", name)); err != nil {
		writeError(w, r, s.log, err)
		return faaspot.Tenant{}, false
	}
	return t, true
}

// deleteTenant handles DELETE /v1/tenants/{tenant} (admin): 204 once its tokens are revoked and its
// records removed; the images of its deployments are removed next, a failure only logged.
func (s *Server) deleteTenant(w http.ResponseWriter, r *http.Request) {
	t, ok := s.tenantByName(w, r)
	if !ok {
		return
	}
	deps, err := s.tenants.DeleteTenant(r.Context(), t.ID)
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

// issueToken handles POST /v1/tenants/{tenant}/tokens (admin): 201 with a faaspot.TokenIssued, the
// only answer that shows the token.
func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) {
	t, ok := s.tenantByName(w, r)
	if !ok {
		return
	}
	id, token, err := s.tenants.IssueToken(r.Context(), t.ID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	s.log.Info("token issued", "tenant", t.ID, "token_id", id)
	writeJSON(w, http.StatusCreated, faaspot.TokenIssued{ID: id, Token: token})
}

// listTokens handles GET /v1/tenants/{tenant}/tokens (admin): 200 with ids and dates, never values.
func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	t, ok := s.tenantByName(w, r)
	if !ok {
		return
	}
	toks, err := s.tenants.ListTokens(r.Context(), t.ID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, toks)
}

// revokeToken handles DELETE /v1/tenants/{tenant}/tokens/{id} (admin): 204, 404 for an unknown id.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	t, ok := s.tenantByName(w, r)
	if !ok {
		return
	}
	id := mux.Vars(r)["id"]
	err := s.tenants.RevokeToken(r.Context(), t.ID, id)
	if err = ifNotFound(err, notFound("token", id)); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	s.log.Info("token revoked", "tenant", t.ID, "token_id", id)
	w.WriteHeader(http.StatusNoContent)
}

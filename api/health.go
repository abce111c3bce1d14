package api

import (
	"context"
	"net/http"
	"time"
)

// healthz is liveness only: 200 while the process serves.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the store and the container engine answer, 503 otherwise; the body names
// each check's state, never the error's text.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{"store": "ok", "engine": "ok"}
	status := http.StatusOK
	if err := s.store.Ping(ctx); err != nil {
		checks["store"], status = "unavailable", http.StatusServiceUnavailable
	}
	if s.engine == nil {
		checks["engine"] = "not used by this node"
	} else if err := s.engine.Ping(ctx); err != nil {
		checks["engine"], status = "unavailable", http.StatusServiceUnavailable
	}
	writeJSON(w, status, checks)
}

// Package api serves faaspot's HTTP API: the FaaSpot-compatible deployment and run routes, the
// /v1 resource routes, the operator's tenant routes, health and metrics. It authenticates every
// tenant request, validates input before anything is stored, speaks only the domain types of
// package faaspot, and maps errors to HTTP in one place (writeError).
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/callback"
	"github.com/faaspot/faaspot/metrics"
)

// Server is the HTTP API.
type Server struct {
	cfg         Config
	auth        Authenticator
	tenants     TenantStore
	deployments DeploymentStore
	executions  ExecutionStore
	store       Pinger
	engine      Engine // nil on a node without an engine
	webhooks    WebhookStore
	usage       UsageStore
	callbacks   CallbackChecker
	direct      DirectRunner // nil: no direct dispatch
	runs        RunLookup
	metrics     *metrics.Metrics
	gather      prometheus.Gatherer
	log         *slog.Logger
	now         func() time.Time
	waiters     waiterCount
	// adminFails limits failed admin-token attempts per client address on this node.
	adminFails *failureLimiter
	// draining is cancelled by Drain: synchronous waiters stop waiting and answer 202.
	draining context.Context
	drain    context.CancelFunc
}

// New returns a Server. Every field of cfg must be set (see Config) and every field of deps but
// Engine; New refuses nothing. m records the HTTP metrics and gather serves /metrics.
func New(cfg Config, deps Deps, m *metrics.Metrics, gather prometheus.Gatherer, log *slog.Logger) *Server {
	draining, drain := context.WithCancel(context.Background())
	if deps.Callbacks == nil {
		deps.Callbacks = &callback.Guard{}
	}
	if deps.Runs == nil {
		deps.Runs = uncachedRuns{deps.Deployments}
	}
	return &Server{cfg: cfg, auth: deps.Auth, tenants: deps.Tenants, deployments: deps.Deployments,
		executions: deps.Executions, store: deps.Store, engine: deps.Engine, webhooks: deps.Webhooks, usage: deps.Usage,
		callbacks: deps.Callbacks, direct: deps.Direct, runs: deps.Runs, metrics: m, gather: gather,
		log: log.With("component", "api"), now: time.Now, draining: draining, drain: drain,
		adminFails: newFailureLimiter(adminFailBurst, adminFailRefill, adminFailKeys)}
}

// uncachedRuns reads a run's deployment from the store itself.
type uncachedRuns struct{ d DeploymentStore }

func (u uncachedRuns) RunDeployment(ctx context.Context, tid, name string) (faaspot.Deployment, error) {
	return u.d.GetDeployment(ctx, tid, name)
}

// Drain makes every synchronous request waiting on this node answer at once with its execution
// id (the run is durably queued and goes on): call it before shutting the HTTP server down.
func (s *Server) Drain() { s.drain() }

// Handler returns the router with every route: health, readiness and metrics, the API's OpenAPI
// document, the operator's tenant routes and the tenants' routes.
func (s *Server) Handler() http.Handler {
	r := s.opsRouter()
	r.HandleFunc("/openapi.json", s.openAPI).Methods(http.MethodGet)
	s.adminRoutes(r)
	s.tenantRoutes(r)
	return r
}

// OpsHandler returns a router with /healthz, /readyz and /metrics only: what a worker node serves
// (it has no tenant or operator route). Every other path answers 404.
func (s *Server) OpsHandler() http.Handler { return s.opsRouter() }

// opsRouter is a router holding the operator's unauthenticated routes, instrumented, with JSON
// answers for unknown routes and methods.
func (s *Server) opsRouter() *mux.Router {
	r := mux.NewRouter()
	r.Use(s.instrument)
	// mux runs middleware for matched routes only: these two are instrumented by hand.
	r.NotFoundHandler = s.instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.log, faaspot.Errorf(faaspot.ECodeNotFound, "no such route"))
	}))
	r.MethodNotAllowedHandler = s.instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The method is not echoed: it is the client's text, of any length.
		writeError(w, r, s.log, faaspot.Errorf(faaspot.ECodeMethodNotAllowed, "this method is not allowed on this route"))
	}))
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet)
	r.Handle("/metrics", promhttp.HandlerFor(s.gather, promhttp.HandlerOpts{})).Methods(http.MethodGet)
	return r
}

// tenantRoutes adds the routes of a tenant's token: deployments, runs, executions.
func (s *Server) tenantRoutes(r *mux.Router) {
	t := r.NewRoute().Subrouter()
	t.Use(s.authenticate)
	runMethods := []string{http.MethodGet, http.MethodPost, http.MethodPut}
	for _, p := range []string{"/api/deployments/", "/api/deployments", "/v1/deployments", "/v1/deployments/"} {
		t.HandleFunc(p, s.createDeployment).Methods(http.MethodPut, http.MethodPost)
	}
	t.HandleFunc("/v1/deployments", s.listDeployments).Methods(http.MethodGet)
	t.HandleFunc("/v1/deployments/{name}", s.getDeployment).Methods(http.MethodGet)
	t.HandleFunc("/v1/deployments/{name}/versions", s.listVersions).Methods(http.MethodGet)
	t.HandleFunc("/v1/deployments/{name}/rollback", s.rollback).Methods(http.MethodPost)
	t.HandleFunc("/v1/deployments/{name}", s.deleteDeployment).Methods(http.MethodDelete)
	for _, suffix := range []string{"/rpc/", "/rpc"} {
		for _, pin := range []string{"", "/versions/{version}"} {
			t.HandleFunc("/v1/sync/deployments/{name}"+pin+suffix, s.runSync).Methods(runMethods...)
			t.HandleFunc("/v1/deployments/{name}"+pin+suffix, s.runAsync).Methods(runMethods...)
		}
	}
	t.HandleFunc("/v1/executions", s.listExecutions).Methods(http.MethodGet)
	t.HandleFunc("/v1/executions/{id}", s.getExecution).Methods(http.MethodGet)
	t.HandleFunc("/v1/executions/{id}/logs", s.executionLogs).Methods(http.MethodGet)
	t.HandleFunc("/v1/executions/{id}/retry", s.retryExecution).Methods(http.MethodPost)
	t.HandleFunc("/v1/dead-letters", s.listDeadLetters).Methods(http.MethodGet)
	if s.webhooks != nil {
		t.HandleFunc("/v1/webhook-secret", s.getWebhookSecret).Methods(http.MethodGet)
		t.HandleFunc("/v1/webhook-secret", s.rotateWebhookSecret).Methods(http.MethodPost)
	}
	if s.usage != nil {
		t.HandleFunc("/v1/usage", s.tenantUsage).Methods(http.MethodGet)
	}
}

// instrument counts requests and times them. Labels never hold request text: the route is the
// matched route's template or metrics.RouteUnmatched, the method is one of a fixed set (see
// metrics.MethodLabel), so unauthenticated junk cannot add series.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		route, took := routeLabel(r), time.Since(start)
		s.metrics.ObserveHTTP(route, r.Method, rec.status, took)
		if s.cfg.AccessLog {
			s.log.Info("http request", "method", r.Method, "route", route, "status", rec.status,
				"duration_ms", float64(took.Microseconds())/1000)
		}
	})
}

// routeLabel is the template of the route mux matched for r, or metrics.RouteUnmatched.
func routeLabel(r *http.Request) string {
	if cur := mux.CurrentRoute(r); cur != nil {
		if tpl, err := cur.GetPathTemplate(); err == nil {
			return tpl
		}
	}
	return metrics.RouteUnmatched
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Package api serves faaspot's HTTP API: the FaaSpot-compatible deployment and run routes, the
// /v1 resource routes, the operator's tenant route, health and metrics. It authenticates every
// tenant request, validates input before anything is stored, and maps errors to HTTP in one place
// (writeError).
package api

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/metrics"
)

// Store is what the API needs of the record store.
type Store interface {
	Ping(ctx context.Context) error
	Authenticate(ctx context.Context, token string, defaultRate float64) (faaspot.Tenant, time.Duration, error)
	CreateTenant(ctx context.Context, name string) (faaspot.Tenant, string, error)
	TenantByName(ctx context.Context, name string) (faaspot.Tenant, error)
	ListTenants(ctx context.Context) ([]faaspot.Tenant, error)
	DeleteTenant(ctx context.Context, tid string) ([]faaspot.Deployment, error)
	IssueToken(ctx context.Context, tid string) (string, string, error)
	ListTokens(ctx context.Context, tid string) ([]faaspot.Token, error)
	RevokeToken(ctx context.Context, tid, id string) error
	PutDeployment(ctx context.Context, tid string, spec faaspot.DeploymentSpec, maxDeployments int) (faaspot.Deployment, error)
	GetDeployment(ctx context.Context, tid, name string) (faaspot.Deployment, error)
	ListDeployments(ctx context.Context, tid string) ([]faaspot.Deployment, error)
	DeleteDeployment(ctx context.Context, tid, name string) (faaspot.Deployment, error)
	WaitBuilt(ctx context.Context, tid, name string, version int, timeout time.Duration) (bool, error)
	EnqueueRun(ctx context.Context, tid string, e faaspot.Execution, maxQueued int, sync bool) error
	SetQuotas(ctx context.Context, tid string, q faaspot.Quotas) error
	GetExecution(ctx context.Context, tid, id string) (faaspot.Execution, error)
	ListExecutions(ctx context.Context, tid, deployment string, limit int) ([]faaspot.Execution, error)
	WaitExecution(ctx context.Context, tid, id string, timeout time.Duration) (faaspot.Execution, bool, error)
}

// Engine is the container engine as far as the API cares: is it up, and retiring a deleted
// deployment's containers and images. It may be nil (readiness then ignores the engine).
type Engine interface {
	Ping(ctx context.Context) error
	RemoveImages(ctx context.Context, tenantID, deploymentID string) error
}

// Config holds the API's settings.
type Config struct {
	// AdminToken guards the operator routes; empty disables them.
	AdminToken string
	// DefaultLimits fill what a deployment leaves out; MaxLimits cap what it may ask for.
	DefaultLimits, MaxLimits faaspot.Limits
	// SyncWait is how long a synchronous run request waits before answering 202.
	SyncWait time.Duration
	// MaxSyncWaiters caps a tenant's synchronous requests waiting at once on this node; past it
	// they answer 202 with the execution id at once, so one tenant cannot hold every connection.
	MaxSyncWaiters int
	// BuildWait is how long ?wait=true on a deployment waits for its build.
	BuildWait time.Duration
	// DefaultQuotas apply to tenants without their own (MaxConcurrentRuns is enforced by the
	// store's scheduler, which must be given the same default).
	DefaultQuotas faaspot.Quotas
	// Size caps, in bytes.
	MaxBodyBytes, MaxCodeBytes, MaxRequirementsBytes, MaxContextBytes, MaxArgsBytes int64
}

// DefaultConfig returns the API defaults.
func DefaultConfig() Config {
	return Config{
		DefaultLimits:  faaspot.Limits{MemoryMB: 256, CPUs: 1, TimeoutS: 30},
		MaxLimits:      faaspot.Limits{MemoryMB: 2048, CPUs: 2, TimeoutS: 900},
		SyncWait:       60 * time.Second,
		MaxSyncWaiters: 256,
		DefaultQuotas:  faaspot.Quotas{MaxConcurrentRuns: 4, MaxQueuedRuns: 1000, MaxDeployments: 100, RequestsPerSecond: 200},
		BuildWait:      10 * time.Minute,
		MaxBodyBytes:   2 << 20, MaxCodeBytes: 1 << 20, MaxRequirementsBytes: 16 << 10,
		MaxContextBytes: 64 << 10, MaxArgsBytes: 256 << 10,
	}
}

// Server is the HTTP API.
type Server struct {
	cfg     Config
	store   Store
	engine  Engine
	metrics *metrics.Metrics
	gather  prometheus.Gatherer
	log     *slog.Logger
	now     func() time.Time
	waiters waiterCount
	// draining is cancelled by Drain: synchronous waiters stop waiting and answer 202.
	draining context.Context
	drain    context.CancelFunc
}

// Drain makes every synchronous request waiting on this node answer at once with its execution
// id (the run is durably queued and goes on): call it before shutting the HTTP server down.
func (s *Server) Drain() { s.drain() }

// New returns a Server. engine may be nil.
func New(cfg Config, st Store, engine Engine, m *metrics.Metrics, gather prometheus.Gatherer, log *slog.Logger) *Server {
	draining, drain := context.WithCancel(context.Background())
	return &Server{cfg: cfg, store: st, engine: engine, metrics: m, gather: gather,
		log: log.With("component", "api"), now: time.Now, draining: draining, drain: drain}
}

// Handler returns the router with every route.
func (s *Server) Handler() http.Handler {
	r := mux.NewRouter()
	r.Use(s.instrument)
	// mux runs middleware for matched routes only: these two are instrumented by hand.
	r.NotFoundHandler = s.instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.log, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such route"})
	}))
	r.MethodNotAllowedHandler = s.instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.log, &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
			Message: r.Method + " is not allowed on this route"})
	}))
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet)
	r.Handle("/metrics", promhttp.HandlerFor(s.gather, promhttp.HandlerOpts{})).Methods(http.MethodGet)

	s.adminRoutes(r)

	t := r.NewRoute().Subrouter()
	t.Use(s.authenticate)
	runMethods := []string{http.MethodGet, http.MethodPost, http.MethodPut}
	for _, p := range []string{"/api/deployments/", "/api/deployments", "/v1/deployments", "/v1/deployments/"} {
		t.HandleFunc(p, s.createDeployment).Methods(http.MethodPut, http.MethodPost)
	}
	t.HandleFunc("/v1/deployments", s.listDeployments).Methods(http.MethodGet)
	t.HandleFunc("/v1/deployments/{name}", s.getDeployment).Methods(http.MethodGet)
	t.HandleFunc("/v1/deployments/{name}", s.deleteDeployment).Methods(http.MethodDelete)
	for _, suffix := range []string{"/rpc/", "/rpc"} {
		t.HandleFunc("/v1/sync/deployments/{name}"+suffix, s.runSync).Methods(runMethods...)
		t.HandleFunc("/v1/deployments/{name}"+suffix, s.runAsync).Methods(runMethods...)
	}
	t.HandleFunc("/v1/executions", s.listExecutions).Methods(http.MethodGet)
	t.HandleFunc("/v1/executions/{id}", s.getExecution).Methods(http.MethodGet)
	return r
}

// instrument counts requests by route template (never the raw path) and times them.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := "unmatched"
		if cur := mux.CurrentRoute(r); cur != nil {
			if tpl, err := cur.GetPathTemplate(); err == nil {
				route = tpl
			}
		}
		s.metrics.HTTPRequests.WithLabelValues(route, r.Method, strconv.Itoa(rec.status)).Inc()
		s.metrics.HTTPDuration.WithLabelValues(route, r.Method).Observe(time.Since(start).Seconds())
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when Redis and the container engine answer, 503 otherwise.
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

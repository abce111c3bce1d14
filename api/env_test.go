package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/api"
	"github.com/faaspot/faaspot/metrics"
	"github.com/faaspot/faaspot/store"
)

const adminToken = "test-admin-token-0123456789"

// fakeEngine is a hand-written api.Engine: it counts calls and fails Ping on demand.
type fakeEngine struct {
	mu      sync.Mutex
	pingErr error
	pings   int
	removed []removeCall
}

type removeCall struct{ tenantID, deploymentID string }

var _ api.Engine = (*fakeEngine)(nil)

func (f *fakeEngine) Ping(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pings++
	if err := ctx.Err(); err != nil {
		return err
	}
	return f.pingErr
}

func (f *fakeEngine) RemoveImages(ctx context.Context, tenantID, deploymentID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	f.removed = append(f.removed, removeCall{tenantID, deploymentID})
	return nil
}

func (f *fakeEngine) setPingErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pingErr = err
}

func (f *fakeEngine) removeCalls() []removeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]removeCall(nil), f.removed...)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// apiEnv is an API server over a real store on an in-process miniredis, with one tenant.
type apiEnv struct {
	t      *testing.T
	cfg    api.Config
	mr     *miniredis.Miniredis
	store  *store.Store
	engine *fakeEngine
	exec   *waitHook
	h      http.Handler
	logs   *syncBuffer

	tenant faaspot.Tenant
	token  string

	mu     sync.Mutex
	bodies []string // every response body, for leak checks
	srv    *api.Server
}

// testConfig is the API configuration of the tests: a fixture with every field set (the api has
// no defaults), with short waits and the admin token.
func testConfig() api.Config {
	return api.Config{
		AdminToken:       adminToken,
		DefaultLimits:    faaspot.Limits{MemoryMB: 256, CPUs: 1, TimeoutS: 30},
		MaxLimits:        faaspot.Limits{MemoryMB: 2048, CPUs: 2, TimeoutS: 900},
		MaxRetryAttempts: 5,
		SyncWait:         2 * time.Second,
		MaxSyncWaiters:   256,
		BuildWait:        2 * time.Second,
		DefaultQuotas:    faaspot.Quotas{MaxConcurrentRuns: 4, MaxQueuedRuns: 1000, MaxDeployments: 100, RequestsPerSecond: 200},
		MaxBodyBytes:     2 << 20, MaxCodeBytes: 1 << 20, MaxRequirementsBytes: 16 << 10,
		MaxContextBytes: 64 << 10, MaxArgsBytes: 256 << 10,
	}
}

// newEnv starts an API over a fresh store. configure may adjust the config (nil: testConfig).
func newEnv(t *testing.T, configure func(*api.Config)) *apiEnv {
	t.Helper()
	return newEnvWith(t, configure, nil)
}

// newEnvWith is newEnv whose dependencies withDeps may adjust (nil: the store's).
func newEnvWith(t *testing.T, configure func(*api.Config), withDeps func(*api.Deps)) *apiEnv {
	t.Helper()
	cfg := testConfig()
	if configure != nil {
		configure(&cfg)
	}
	mr := miniredis.RunT(t)
	// No retries: the tests that stop Redis want the failure at once.
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = rdb.Close() })
	st, err := store.New(rdb, store.Options{Prefix: "fs:", ResultTTL: time.Hour, RunCap: 4, SecretKey: make([]byte, store.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureGroups(context.Background()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eng := &fakeEngine{}
	exec := newWaitHook(st)
	deps := storeDeps(st, exec, eng)
	if withDeps != nil {
		withDeps(&deps)
	}
	srv := api.New(cfg, deps, metrics.New(reg), reg, log)
	e := &apiEnv{t: t, cfg: cfg, mr: mr, store: st, engine: eng, exec: exec, h: srv.Handler(), logs: logs, srv: srv}
	e.tenant, e.token = e.newTenant("acme")
	return e
}

// storeDeps are the API's dependencies on one store: executions through exec (the store itself
// when nil), the engine eng (none when nil).
func storeDeps(st *store.Store, exec api.ExecutionStore, eng api.Engine) api.Deps {
	if exec == nil {
		exec = st
	}
	return api.Deps{Auth: st, Tenants: st, Deployments: st, Executions: exec, Store: st, Engine: eng, Webhooks: st, Usage: st}
}

// waitMode is how a waitHook answers WaitExecution.
type waitMode int32

const (
	waitInStore waitMode = iota // the store's own wait
	waitExpires                 // at once, as if the timeout had passed
	waitBlocks                  // the run never ends: block until ctx ends, then return its error
)

// waitHook is the store's ExecutionStore with WaitExecution observed and controlled: each call
// sends its timeout on waits once it has begun (so a test knows a sync request is waiting), then
// answers as mode says.
type waitHook struct {
	api.ExecutionStore
	waits chan time.Duration
	mode  atomic.Int32 // a waitMode
}

func newWaitHook(st *store.Store) *waitHook {
	return &waitHook{ExecutionStore: st, waits: make(chan time.Duration, 16)}
}

func (h *waitHook) setMode(m waitMode) { h.mode.Store(int32(m)) }

func (h *waitHook) WaitExecution(ctx context.Context, tid, id string, timeout time.Duration, shared bool) (faaspot.Execution, bool, error) {
	select {
	case h.waits <- timeout:
	default: // nobody is watching: do not block the request
	}
	switch waitMode(h.mode.Load()) {
	case waitExpires:
		return faaspot.Execution{}, false, nil
	case waitBlocks:
		<-ctx.Done()
		return faaspot.Execution{}, false, ctx.Err()
	}
	return h.ExecutionStore.WaitExecution(ctx, tid, id, timeout, shared)
}

// nextWait returns the timeout of the next WaitExecution call, failing the test when none begins
// within a generous bound (a hang guard, not a timing assumption).
func (e *apiEnv) nextWait() time.Duration {
	e.t.Helper()
	select {
	case d := <-e.exec.waits:
		return d
	case <-time.After(10 * time.Second):
		e.t.Fatal("no synchronous request began to wait")
		return 0
	}
}

func (e *apiEnv) newTenant(name string) (faaspot.Tenant, string) {
	e.t.Helper()
	tn, token, err := e.store.CreateTenant(context.Background(), name)
	if err != nil {
		e.t.Fatalf("CreateTenant(%s): %v", name, err)
	}
	return tn, token
}

// do serves one request. token "" sends no Authorization header.
func (e *apiEnv) do(method, path, token, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	header := ""
	if token != "" {
		header = "Token " + token
	}
	return e.doHeader(method, path, header, body)
}

// doHeader serves one request with the given Authorization header ("" for none).
func (e *apiEnv) doHeader(method, path, authorization, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	checkAnswer(e.t, req, body, rec)
	e.mu.Lock()
	e.bodies = append(e.bodies, rec.Body.String())
	e.mu.Unlock()
	return rec
}

// expect checks the status of a response and decodes its JSON body into v (when not nil).
func expect(t *testing.T, rec *httptest.ResponseRecorder, status int, v any) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body: %s", rec.Code, status, rec.Body)
	}
	if v != nil {
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type = %q, want JSON", ct)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatalf("body %q: %v", rec.Body, err)
		}
	}
}

// apiError is the JSON error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// expectError checks an error answer: status, code (when not empty) and field.
func expectError(t *testing.T, rec *httptest.ResponseRecorder, status int, code, field string) apiError {
	t.Helper()
	var body apiError
	expect(t, rec, status, &body)
	if code != "" && body.Error.Code != code {
		t.Errorf("error code = %q, want %q (%s)", body.Error.Code, code, rec.Body)
	}
	if body.Error.Field != field {
		t.Errorf("error field = %q, want %q (%s)", body.Error.Field, field, rec.Body)
	}
	if body.Error.Message == "" {
		t.Error("error without a message")
	}
	return body
}

// deployment is the API's view of a deployment.
type deployment struct {
	ID           string                   `json:"id"`
	Name         string                   `json:"name"`
	Version      int                      `json:"version"`
	Status       faaspot.DeploymentStatus `json:"status"`
	Error        string                   `json:"error"`
	BuildLog     string                   `json:"build_log"`
	ReadyVersion int                      `json:"ready_version"`
	Limits       faaspot.Limits           `json:"limits"`
	ContextKeys  []string                 `json:"context_keys"`
}

const validCode = "def main(args, context):\n    return args\n"

func deploymentBody(name string) string {
	b, _ := json.Marshal(map[string]any{"name": name, "code": validCode})
	return string(b)
}

// createDeployment creates a deployment through the API and returns its view (status 202).
func (e *apiEnv) createDeployment(token, body string) deployment {
	e.t.Helper()
	var d deployment
	expect(e.t, e.do(http.MethodPost, "/v1/deployments", token, body), http.StatusAccepted, &d)
	return d
}

// finishBuild plays the build worker: it takes the next build job and records out.
func (e *apiEnv) finishBuild(out store.BuildOutcome) store.Job {
	e.t.Helper()
	job, err := e.store.NextJob(context.Background(), store.Builds, "test-builder", time.Second)
	if err != nil || job == nil {
		e.t.Fatalf("NextJob(builds) = %v, %v", job, err)
	}
	if _, err := e.store.FinishBuild(context.Background(), *job, out); err != nil {
		e.t.Fatalf("FinishBuild: %v", err)
	}
	return *job
}

// readyDeployment creates a deployment of the env's tenant and builds it successfully.
func (e *apiEnv) readyDeployment(name string) deployment {
	e.t.Helper()
	d := e.createDeployment(e.token, deploymentBody(name))
	e.finishBuild(store.BuildOutcome{Image: "faaspot/t-x/d-" + d.ID + ":0123", Log: "built\n"})
	return d
}

// runWorker plays one run worker in the background: it takes the next run job, lets finish
// shape the terminal record and writes it. Wait for the returned channel before the test ends.
func (e *apiEnv) runWorker(finish func(*faaspot.Execution)) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx := context.Background()
		job, err := e.store.NextJob(ctx, store.Runs, "test-worker", 5*time.Second)
		if err == nil && job == nil {
			err = errors.New("no run job arrived")
		}
		if err != nil {
			done <- err
			return
		}
		ex, err := e.store.GetExecution(ctx, job.Tenant, job.ID)
		if err != nil {
			done <- err
			return
		}
		now := time.Now().UTC()
		ex.StartedAt, ex.FinishedAt = &now, &now
		finish(&ex)
		done <- e.store.FinishRun(ctx, *job, ex)
	}()
	return done
}

// listNames lists the env tenant's deployments through the API.
func (e *apiEnv) listNames() []string {
	e.t.Helper()
	var ds []deployment
	expect(e.t, e.do(http.MethodGet, "/v1/deployments", e.token, ""), http.StatusOK, &ds)
	names := []string{}
	for _, d := range ds {
		names = append(names, d.Name)
	}
	return names
}

// allBodies returns every response body served so far.
func (e *apiEnv) allBodies() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.bodies, "\n")
}

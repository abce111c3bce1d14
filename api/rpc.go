package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"github.com/faaspot/faaspot"
)

// enqueue validates a run request and queues it durably: on the version its path pins, else on
// the deployment's ready version, or, while its first version builds, parks it until the build
// ends (the run then starts, or fails with the build's reason), setting the
// faaspot.HeaderExecutionID header. When it cannot, it answers the error itself (400 invalid
// arguments or version, 404 unknown deployment or version, 409 build failed or pinned version
// unable to run, 429 over the queued-runs quota) and returns ok=false. A synchronous run this
// node runs at once (direct dispatch) comes with the channel of its terminal record.
func (s *Server) enqueue(w http.ResponseWriter, r *http.Request, sync bool) (queuedRun, bool) {
	name := mux.Vars(r)["name"]
	t := tenantOf(r)
	pinned, err := pinnedVersion(r)
	var args json.RawMessage
	if err == nil {
		args, err = parseArgs(w, r, s.cfg.MaxArgsBytes)
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return queuedRun{}, false
	}
	key, err := idempotencyKey(r)
	var cb *faaspot.Callback
	if err == nil {
		cb, err = s.requestCallback(r)
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return queuedRun{}, false
	}
	e := faaspot.Execution{ID: faaspot.NewID(), Deployment: name, Version: pinned, Pinned: pinned > 0,
		IdempotencyKey: key, Status: faaspot.ExecQueued, Args: args, CreatedAt: s.now().UTC(), Callback: cb}
	maxQueued := t.Quotas.WithDefaults(s.cfg.DefaultQuotas).MaxQueuedRuns
	var direct <-chan faaspot.Execution
	if pinned > 0 {
		err = s.enqueuePinned(r, t.ID, e, maxQueued, sync)
	} else {
		e, direct, err = s.enqueueCurrent(r, t.ID, e, maxQueued, sync)
	}
	var existing *faaspot.ExistingRunError
	if errors.As(err, &existing) {
		// The key gave an execution already: answer with it (its record as it is now).
		if e, err = s.executions.GetExecution(r.Context(), t.ID, existing.ID); errors.Is(err, faaspot.ErrNotFound) {
			err = nil // expired or trimmed: the key still gives it
		}
		if e.ID == "" {
			e = faaspot.Execution{ID: existing.ID, Deployment: name, IdempotencyKey: key, Status: faaspot.ExecQueued}
		}
	}
	if err != nil {
		writeError(w, r, s.log, s.retryQuota(err, 5*time.Second))
		return queuedRun{}, false
	}
	w.Header().Set(faaspot.HeaderExecutionID, e.ID)
	return queuedRun{Execution: e, direct: direct}, true
}

// queuedRun is a run request's execution as queued and, for a run this node runs at once, the
// channel of its terminal record (see DirectRunner).
type queuedRun struct {
	faaspot.Execution
	direct <-chan faaspot.Execution
}

// maxIdempotencyKey bounds an Idempotency-Key header.
const maxIdempotencyKey = 255

// idempotencyKey returns the request's Idempotency-Key ("" for none); a 400 naming the header
// when it is longer than maxIdempotencyKey or holds other than printable ASCII.
func idempotencyKey(r *http.Request) (string, error) {
	k := r.Header.Get(faaspot.HeaderIdempotencyKey)
	if len(k) > maxIdempotencyKey || strings.IndexFunc(k, func(c rune) bool { return c < 0x21 || c > 0x7e }) >= 0 {
		return "", faaspot.Invalid(faaspot.HeaderIdempotencyKey,
			"the Idempotency-Key header must be 1 to %d printable ASCII characters without spaces", maxIdempotencyKey)
	}
	return k, nil
}

// enqueuePinned queues e, pinned to e.Version, once that version is known to be able to run.
func (s *Server) enqueuePinned(r *http.Request, tid string, e faaspot.Execution, maxQueued int, sync bool) error {
	if _, err := s.deployments.RunnableVersion(r.Context(), tid, e.Deployment, e.Version); err != nil {
		return versionProblem(e.Deployment, err)
	}
	err := s.executions.EnqueueRun(r.Context(), tid, e, maxQueued, sync)
	return ifNotFound(err, unauthorized()) // the tenant was deleted meanwhile
}

// enqueueCurrent queues e on the deployment's ready version, or parks it while the first version
// builds, and returns it with the version it was queued on (the one building when parked), and
// the channel of its terminal record when this node runs it at once (a sync run without an
// idempotency key: see DirectRunner).
func (s *Server) enqueueCurrent(r *http.Request, tid string, e faaspot.Execution, maxQueued int, sync bool) (faaspot.Execution, <-chan faaspot.Execution, error) {
	name := e.Deployment
	d, err := s.runs.RunDeployment(r.Context(), tid, name)
	err = ifNotFound(err, notFound("deployment", name))
	if err == nil && d.ReadyVersion == 0 && d.Status == faaspot.StatusFailed {
		err = buildFailed(d)
	}
	if err != nil {
		return e, nil, err
	}
	e.Version = cmp.Or(d.ReadyVersion, d.Version)
	if d.ReadyVersion > 0 && sync && s.direct != nil && e.IdempotencyKey == "" {
		direct, err := s.direct.RunDirect(r.Context(), tid, d, e, maxQueued)
		return e, direct, ifNotFound(err, unauthorized()) // the tenant was deleted meanwhile
	}
	if d.ReadyVersion > 0 {
		err = s.executions.EnqueueRun(r.Context(), tid, e, maxQueued, sync)
		return e, nil, ifNotFound(err, unauthorized()) // the tenant was deleted meanwhile
	}
	_, err = s.executions.EnqueueOrPark(r.Context(), tid, e, maxQueued, sync)
	return e, nil, s.parkError(r, tid, name, err)
}

// buildFailed is the error of a run of a deployment whose build failed with no version ready.
func buildFailed(d faaspot.Deployment) error {
	return notReady("deployment %q failed to build: %s", d.Name, d.Error)
}

// parkError maps the errors of EnqueueOrPark: the deployment was deleted, or its build failed
// meanwhile (the answer then carries the failure).
func (s *Server) parkError(r *http.Request, tid, name string, err error) error {
	switch {
	case errors.Is(err, faaspot.ErrNotFound):
		return notFound("deployment", name)
	case errors.Is(err, faaspot.ErrBuildFailed):
		d, gerr := s.deployments.GetDeployment(r.Context(), tid, name)
		if gerr != nil {
			return ifNotFound(gerr, notFound("deployment", name))
		}
		return buildFailed(d)
	}
	return err
}

// runAsync handles /v1/deployments/{name}/rpc/: 202 with the execution id as a JSON string.
func (s *Server) runAsync(w http.ResponseWriter, r *http.Request) {
	q, ok := s.enqueue(w, r, false)
	if !ok {
		return
	}
	writeJSON(w, http.StatusAccepted, q.ID)
}

// waiterCount counts a tenant's synchronous requests waiting on this API node.
type waiterCount struct {
	mu sync.Mutex
	n  map[string]int
}

// enter counts one more waiter and reports whether the tenant is within max (0: no limit).
func (c *waiterCount) enter(tid string, max int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[tid]++
	return max <= 0 || c.n[tid] <= max
}

func (c *waiterCount) leave(tid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[tid]--; c.n[tid] <= 0 {
		delete(c.n, tid)
	}
}

// runSync handles /v1/sync/deployments/{name}/rpc/: it queues the run, waits to be woken when the
// run ends and answers 200 with the function's value, 500 (failed) or 504 (timeout) with a
// faaspot.RunFailure, or 202 with a faaspot.RunPending when the run outlasts the server's sync
// wait, the tenant already holds MaxSyncWaiters waiting requests, or the node drains.
func (s *Server) runSync(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	q, ok := s.enqueue(w, r, true)
	if !ok {
		return
	}
	final, done, err := s.awaitRun(r, tenantOf(r).ID, q)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	e := q.Execution
	if done {
		e = final
	}
	s.answerRun(w, e, start)
}

// awaitRun waits for the terminal record of the tenant's execution e, up to SyncWait, and
// reports whether it came (at once when e is terminal: a repeated keyed request). It does not
// wait when the tenant holds MaxSyncWaiters waiting requests on this node, and stops waiting,
// without an error, when the node drains.
func (s *Server) awaitRun(r *http.Request, tid string, q queuedRun) (faaspot.Execution, bool, error) {
	e, id := q.Execution, q.ID
	if e.Terminal() {
		return e, true, nil // a repeated request with an idempotency key, for a run that ended
	}
	if !s.waiters.enter(tid, s.cfg.MaxSyncWaiters) {
		s.waiters.leave(tid)
		return faaspot.Execution{}, false, nil // enough waiting connections: answer 202 at once
	}
	defer s.waiters.leave(tid)
	if s.cfg.SyncWait <= 0 {
		return faaspot.Execution{}, false, nil
	}
	ctx, stop := context.WithCancel(r.Context())
	defer stop()
	unhook := context.AfterFunc(s.draining, stop)
	defer unhook()
	var final faaspot.Execution
	var ok bool
	var err error
	if q.direct != nil {
		final, ok, err = awaitDirect(ctx, q.direct, s.cfg.SyncWait)
	} else {
		final, ok, err = s.executions.WaitExecution(ctx, tid, id, s.cfg.SyncWait, e.IdempotencyKey != "")
	}
	if err != nil && s.draining.Err() != nil && r.Context().Err() == nil {
		return faaspot.Execution{}, false, nil // the node is stopping: answer 202, the run goes on
	}
	if err != nil {
		return faaspot.Execution{}, false, fmt.Errorf("wait for execution %s: %w", id, err)
	}
	return final, ok, nil
}

// awaitDirect waits up to timeout for the terminal record of a run this node runs (see
// DirectRunner); ok is false when the wait ended first, or the run was not recorded here.
func awaitDirect(ctx context.Context, direct <-chan faaspot.Execution, timeout time.Duration) (faaspot.Execution, bool, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case e, ok := <-direct:
		return e, ok, nil
	case <-timer.C:
		return faaspot.Execution{}, false, nil
	case <-ctx.Done():
		return faaspot.Execution{}, false, ctx.Err()
	}
}

// answerRun answers a synchronous run with its outcome; e is the queued record when the run has
// not ended.
func (s *Server) answerRun(w http.ResponseWriter, e faaspot.Execution, start time.Time) {
	label := string(e.Status)
	if !e.Terminal() {
		label = "pending"
	}
	s.metrics.SyncLatency.WithLabelValues(label).Observe(time.Since(start).Seconds())
	switch e.Status {
	case faaspot.ExecCompleted:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(append(json.RawMessage(e.Result), '\n'))
	case faaspot.ExecFailed:
		writeJSON(w, http.StatusInternalServerError, faaspot.RunFailure{Error: e.Error, ExecutionID: e.ID, Status: e.Status})
	case faaspot.ExecTimeout:
		writeJSON(w, http.StatusGatewayTimeout, faaspot.RunFailure{Error: e.Error, ExecutionID: e.ID, Status: e.Status})
	default:
		writeJSON(w, http.StatusAccepted, faaspot.RunPending{ExecutionID: e.ID, Status: e.Status})
	}
}

package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// HeaderExecutionID carries the execution id on every run answer.
const HeaderExecutionID = "X-Faaspot-Execution-Id"

// enqueue validates a run request and queues it durably; it answers the error itself and returns
// ok=false when it could not.
func (s *Server) enqueue(w http.ResponseWriter, r *http.Request, sync bool) (faaspot.Execution, bool) {
	name := mux.Vars(r)["name"]
	t := tenantOf(r)
	args, err := parseArgs(w, r, s.cfg.MaxArgsBytes)
	if err != nil {
		writeError(w, r, s.log, err)
		return faaspot.Execution{}, false
	}
	d, err := s.store.GetDeployment(r.Context(), t.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		err = notFound("deployment", name)
	}
	if err == nil && d.ReadyVersion == 0 {
		if d.Status == faaspot.StatusFailed {
			err = conflict("deployment %q failed to build: %s", name, d.Error)
		} else {
			err = conflict("deployment %q is still building", name)
		}
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return faaspot.Execution{}, false
	}
	e := faaspot.Execution{ID: store.NewID(), Deployment: name, Version: d.ReadyVersion,
		Status: faaspot.ExecQueued, Args: args, CreatedAt: s.now().UTC()}
	err = s.store.EnqueueRun(r.Context(), t.ID, e, s.quotasFor(t).MaxQueuedRuns, sync)
	var qe *faaspot.QuotaError
	switch {
	case errors.As(err, &qe):
		err = quotaError(qe, 5*time.Second)
	case errors.Is(err, store.ErrNotFound): // the tenant was deleted meanwhile
		err = errUnauthorized
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return faaspot.Execution{}, false
	}
	w.Header().Set(HeaderExecutionID, e.ID)
	return e, true
}

// runAsync handles /v1/deployments/{name}/rpc/: 202 with the execution id as a JSON string.
func (s *Server) runAsync(w http.ResponseWriter, r *http.Request) {
	e, ok := s.enqueue(w, r, false)
	if !ok {
		return
	}
	writeJSON(w, http.StatusAccepted, e.ID)
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
// run ends and answers 200 with the function's value, 500 (failed) or 504 (timeout) with the
// error, or 202 with the execution id when the run outlasts the server's sync wait.
func (s *Server) runSync(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	e, ok := s.enqueue(w, r, true)
	if !ok {
		return
	}
	t := tenantOf(r)
	wait := s.cfg.SyncWait
	if !s.waiters.enter(t.ID, s.cfg.MaxSyncWaiters) {
		wait = 0 // this tenant holds enough waiting connections: answer 202 at once
	}
	defer s.waiters.leave(t.ID)
	done := false
	if wait > 0 {
		ctx, stop := context.WithCancel(r.Context())
		defer stop()
		unhook := context.AfterFunc(s.draining, stop)
		defer unhook()
		final, ok, err := s.store.WaitExecution(ctx, t.ID, e.ID, wait)
		if err != nil && s.draining.Err() != nil && r.Context().Err() == nil {
			err = nil // the node is stopping: answer 202, the run goes on
		}
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if ok {
			e, done = final, true
		}
	}
	status := e.Status
	if !done || !e.Terminal() {
		status = "pending"
	}
	s.metrics.SyncLatency.WithLabelValues(string(status)).Observe(time.Since(start).Seconds())
	switch {
	case status == "pending":
		writeJSON(w, http.StatusAccepted, map[string]any{"execution_id": e.ID, "status": e.Status})
	case e.Status == faaspot.ExecCompleted:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(append(json.RawMessage(e.Result), '\n'))
	default:
		code := http.StatusInternalServerError
		if e.Status == faaspot.ExecTimeout {
			code = http.StatusGatewayTimeout
		}
		writeJSON(w, code, map[string]any{"error": e.Error, "execution_id": e.ID, "status": e.Status})
	}
}

package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/faaspot/faaspot"
)

// maxDeadLetters bounds a page of dead letters.
const maxDeadLetters = 1000

// listDeadLetters handles GET /v1/dead-letters[?limit=N]: 200 with the summaries of the tenant's
// runs that failed their last retry, newest first (limit 1 to 1000, 100 by default).
func (s *Server) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxDeadLetters {
			writeError(w, r, s.log, faaspot.Invalid("limit", "limit must be a whole number from 1 to %d", maxDeadLetters))
			return
		}
		limit = n
	}
	list, err := s.executions.ListDeadLetters(r.Context(), tenantOf(r).ID, limit)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// retryExecution handles POST /v1/executions/{id}/retry: it queues a new run of the execution's
// deployment (its current version) with the same arguments and takes the execution off the dead
// letters: 202 with the new execution id. Its callback is the request's X-Faaspot-Callback-Url,
// else the deployment's callback_url. 404 for an unknown execution; 409 for one that has not
// failed or timed out (a run in progress, or one that completed).
func (s *Server) retryExecution(w http.ResponseWriter, r *http.Request) {
	t := tenantOf(r)
	id := mux.Vars(r)["id"]
	old, err := s.executions.GetExecution(r.Context(), t.ID, id)
	if err = ifNotFound(err, notFound("execution", id)); err == nil &&
		old.Status != faaspot.ExecFailed && old.Status != faaspot.ExecTimeout {
		err = notReady("execution %s is %s: only a failed or timed-out run is run again", id, old.Status)
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	cb, err := s.requestCallback(r) // the deployment's callback_url applies as to any async run

	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	e := faaspot.Execution{ID: faaspot.NewID(), Deployment: old.Deployment, Status: faaspot.ExecQueued,
		Args: old.Args, CreatedAt: s.now().UTC(), Callback: cb}
	maxQueued := t.Quotas.WithDefaults(s.cfg.DefaultQuotas).MaxQueuedRuns
	if e, _, err = s.enqueueCurrent(r, t.ID, e, maxQueued, false); err != nil {
		writeError(w, r, s.log, s.retryQuota(err, 5*time.Second))
		return
	}
	if err := s.executions.RemoveDeadLetter(r.Context(), t.ID, id); err != nil {
		s.log.Warn("take a retried run off the dead letters", "execution", id, "err", err)
	}
	w.Header().Set(faaspot.HeaderExecutionID, e.ID)
	writeJSON(w, http.StatusAccepted, e.ID)
}

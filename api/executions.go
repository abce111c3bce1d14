package api

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/faaspot/faaspot"
)

// Page sizes of GET /v1/executions: the default, and the most a page holds (summaries; whole
// records, which carry output and results, come in smaller pages).
const (
	defaultPage     = 50
	maxSummaryPage  = 1000
	maxFullViewPage = 100
)

// getExecution handles GET /v1/executions/{id}: 200 with the record, 404 when the caller's tenant
// has no such execution.
func (s *Server) getExecution(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	e, err := s.executions.GetExecution(r.Context(), tenantOf(r).ID, id)
	if err = ifNotFound(err, notFound("execution", id)); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

// listExecutions handles GET /v1/executions[?deployment=NAME][&limit=N][&cursor=C][&view=full]:
// 200 with one page of the tenant's executions, newest first, as a JSON array of summaries
// (faaspot.ExecutionSummary), or of whole records with view=full. When more follow, the
// faaspot.HeaderNextCursor header holds the cursor of the next page and a Link header (rel="next")
// its address; the last page has neither. The body stays an array, so clients that read only
// the first page keep working.
func (s *Server) listExecutions(w http.ResponseWriter, r *http.Request) {
	q, full, err := executionQuery(r.URL.Query())
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	tid := tenantOf(r).ID
	var page any
	var next string
	if full {
		page, next, err = s.executions.ListExecutionRecords(r.Context(), tid, q)
	} else {
		page, next, err = s.executions.ListExecutions(r.Context(), tid, q)
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if next != "" {
		w.Header().Set(faaspot.HeaderNextCursor, next)
		w.Header().Set("Link", "<"+nextPageURL(r.URL, next)+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, page)
}

// executionQuery reads the query of GET /v1/executions and whether it asks for whole records.
// Errors are *faaspot.Error values naming the parameter at fault.
func executionQuery(v url.Values) (faaspot.ExecutionQuery, bool, error) {
	var full bool
	switch v.Get("view") {
	case "", "summary":
	case "full":
		full = true
	default:
		return faaspot.ExecutionQuery{}, false, faaspot.Invalid("view", "view must be summary or full")
	}
	q := faaspot.ExecutionQuery{Limit: defaultPage, Cursor: v.Get("cursor"), Deployment: v.Get("deployment")}
	most := maxSummaryPage
	if full {
		most = maxFullViewPage
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > most {
			return q, full, faaspot.Invalid("limit", "limit must be a whole number from 1 to %d", most)
		}
		q.Limit = n
	}
	if q.Deployment != "" && !validName(q.Deployment) {
		return q, full, faaspot.Invalid("deployment", "deployment must match %s", namePattern)
	}
	return q, full, nil
}

// nextPageURL is the address of the page after u's: u with its cursor replaced.
func nextPageURL(u *url.URL, cursor string) string {
	q := u.Query()
	q.Set("cursor", cursor)
	return u.Path + "?" + q.Encode()
}

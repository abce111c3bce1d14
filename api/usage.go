package api

import (
	"net/http"
	"time"

	"github.com/faaspot/faaspot"
)

// Usage metering routes:
//
//	GET /v1/usage?from=&to=                 (tenant) → 200 faaspot.Usage of the caller
//	GET /v1/tenants/{tenant}/usage?from=&to= (admin)  → 200 faaspot.Usage of that tenant
//
// from and to are UTC days, YYYY-MM-DD, both included: to defaults to today, from to
// defaultUsageDays-1 days before to. A date that does not parse is 400 naming its field; a
// range backwards or over store.MaxUsageDays days is 400 naming "to".

// defaultUsageDays is the range a usage request without from covers.
const defaultUsageDays = 30

// tenantUsage handles GET /v1/usage: the caller's own usage.
func (s *Server) tenantUsage(w http.ResponseWriter, r *http.Request) {
	s.writeUsage(w, r, tenantOf(r))
}

// operatorUsage handles GET /v1/tenants/{tenant}/usage (admin): 404 for an unknown tenant.
func (s *Server) operatorUsage(w http.ResponseWriter, r *http.Request) {
	if t, ok := s.tenantByName(w, r); ok {
		s.writeUsage(w, r, t)
	}
}

// writeUsage answers the usage of t over the range r asks for.
func (s *Server) writeUsage(w http.ResponseWriter, r *http.Request, t faaspot.Tenant) {
	from, to, err := usageRange(r, s.now())
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	days, err := s.usage.Usage(r.Context(), t.ID, from, to)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	stored, err := s.usage.BytesStored(r.Context(), t.ID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	u := faaspot.Usage{Tenant: t.Name, From: from.Format(time.DateOnly), To: to.Format(time.DateOnly),
		Days: days, BytesStored: stored}
	for _, d := range days {
		u.Total = u.Total.Plus(d)
	}
	writeJSON(w, http.StatusOK, u)
}

// usageRange reads the from and to query parameters (see the routes above), now giving today.
func usageRange(r *http.Request, now time.Time) (from, to time.Time, err error) {
	q := r.URL.Query()
	to = now.UTC().Truncate(24 * time.Hour)
	if v := q.Get("to"); v != "" {
		if to, err = time.Parse(time.DateOnly, v); err != nil {
			return from, to, faaspot.Invalid("to", "to must be a date, YYYY-MM-DD")
		}
	}
	from = to.AddDate(0, 0, 1-defaultUsageDays)
	if v := q.Get("from"); v != "" {
		if from, err = time.Parse(time.DateOnly, v); err != nil {
			return from, to, faaspot.Invalid("from", "from must be a date, YYYY-MM-DD")
		}
	}
	return from, to, nil
}

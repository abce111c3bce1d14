package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// finishRun runs one execution of fn for the env's tenant through the store, ending it with st
// and the resources u.
func (e *apiEnv) finishRun(st faaspot.ExecStatus, u faaspot.ExecUsage) {
	e.t.Helper()
	var id string
	expect(e.t, e.do(http.MethodPost, "/v1/deployments/fn/rpc/", e.token, ""), http.StatusAccepted, &id)
	job, err := e.store.NextJob(e.t.Context(), store.Runs, "w", 100*time.Millisecond)
	if err != nil || job == nil {
		e.t.Fatalf("NextJob = %v, %v", job, err)
	}
	x, _ := e.store.GetExecution(e.t.Context(), job.Tenant, id)
	x.Status, x.Usage = st, &u
	if err := e.store.FinishRun(e.t.Context(), *job, x); err != nil {
		e.t.Fatal(err)
	}
}

// TestUsage: a tenant sees its own usage of the last 30 days by default (today's runs in the
// last day and the total, its records' bytes), another tenant none of it; the operator sees any
// tenant's by name, for the range asked.
func TestUsage(t *testing.T) {
	env := newEnv(t, nil)
	env.readyDeployment("fn")
	env.finishRun(faaspot.ExecCompleted, faaspot.ExecUsage{WallMS: 2000, CPUMS: 500, GBSeconds: 0.25})
	env.finishRun(faaspot.ExecFailed, faaspot.ExecUsage{WallMS: 1000, CPUMS: 250, GBSeconds: 0.125})
	today := time.Now().UTC().Format(time.DateOnly)
	want := faaspot.UsageDay{Runs: faaspot.UsageRuns{Completed: 1, Failed: 1}, WallSeconds: 3, CPUSeconds: 0.75, GBSeconds: 0.375}

	var u faaspot.Usage
	expect(t, env.do(http.MethodGet, "/v1/usage", env.token, ""), http.StatusOK, &u)
	if u.Tenant != "acme" || u.To != today || len(u.Days) != 30 || u.Days[0].Date != u.From || u.Total != want {
		t.Errorf("usage = %+v, want 30 days to %s, total %+v", u, today, want)
	}
	if last := u.Days[29]; last.Date != today || last.Runs != want.Runs {
		t.Errorf("today = %+v", last)
	}
	if u.BytesStored <= 0 {
		t.Errorf("bytes stored = %d, want the records' bytes", u.BytesStored)
	}

	_, other := env.newTenant("beta")
	var theirs faaspot.Usage
	expect(t, env.do(http.MethodGet, "/v1/usage", other, ""), http.StatusOK, &theirs)
	if theirs.Tenant != "beta" || theirs.Total != (faaspot.UsageDay{}) || theirs.BytesStored != 0 {
		t.Errorf("another tenant's usage = %+v, want none", theirs)
	}

	var op faaspot.Usage
	expect(t, env.do(http.MethodGet, "/v1/tenants/acme/usage?from="+today+"&to="+today, adminToken, ""), http.StatusOK, &op)
	if op.Tenant != "acme" || op.From != today || len(op.Days) != 1 || op.Total != want {
		t.Errorf("operator's view = %+v", op)
	}
	expectError(t, env.do(http.MethodGet, "/v1/tenants/nobody/usage", adminToken, ""), http.StatusNotFound, "not_found", "")
	if rec := env.do(http.MethodGet, "/v1/tenants/acme/usage", env.token, ""); rec.Code == http.StatusOK {
		t.Errorf("a tenant's token read the operator's route: %d", rec.Code)
	}
}

// TestUsageBadRange: a date that does not parse names its field; a range backwards or over 366
// days names "to".
func TestUsageBadRange(t *testing.T) {
	env := newEnv(t, nil)
	for _, tc := range []struct{ query, field string }{
		{"from=2025-13-01", "from"},
		{"from=yesterday", "from"},
		{"to=2025-02-30", "to"},
		{"from=2025-03-02&to=2025-03-01", "to"},
		{"from=2024-01-01&to=2025-01-01", "to"},
	} {
		expectError(t, env.do(http.MethodGet, "/v1/usage?"+tc.query, env.token, ""), http.StatusBadRequest, "invalid_argument", tc.field)
		expectError(t, env.do(http.MethodGet, "/v1/tenants/acme/usage?"+tc.query, adminToken, ""), http.StatusBadRequest, "invalid_argument", tc.field)
	}
	var u faaspot.Usage
	expect(t, env.do(http.MethodGet, "/v1/usage?from=2024-01-01&to=2024-12-31", env.token, ""), http.StatusOK, &u)
	if len(u.Days) != 366 || u.Days[365].Date != "2024-12-31" {
		t.Errorf("a leap year: %d days, last %+v", len(u.Days), u.Days[len(u.Days)-1])
	}
}

package cli

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/faaspot/faaspot"
)

// fakeUsage is the usage the fake API answers: two days, the first with use.
func fakeUsage(tenant, from, to string) faaspot.Usage {
	day := faaspot.UsageDay{Date: "2025-03-01", Runs: faaspot.UsageRuns{Completed: 2, Failed: 1}, WallSeconds: 3.5,
		GBSeconds: 0.4375, CPUSeconds: 1.25, Builds: 1, BuildSeconds: 12.5}
	total := day
	total.Date = ""
	return faaspot.Usage{Tenant: tenant, From: from, To: to, Days: []faaspot.UsageDay{day, {Date: "2025-03-02"}},
		Total: total, BytesStored: 4096}
}

// usageRoutes serves the tenant's usage (as "acme") and the operator's of any tenant but "nobody".
func (f *fakeAPI) usageRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/usage", f.tenant(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeJSON(w, http.StatusOK, fakeUsage("acme", r.URL.Query().Get("from"), r.URL.Query().Get("to")))
	}))
	mux.HandleFunc("GET /v1/tenants/{tenant}/usage", f.admin(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if r.PathValue("tenant") == "nobody" {
			notFoundJSON(w, "tenant")
			return
		}
		writeJSON(w, http.StatusOK, fakeUsage(r.PathValue("tenant"), "2025-03-01", "2025-03-02"))
	}))
}

// TestUsageCommand: `fas usage` prints the days with use and the total with the tenant's token,
// the JSON answer with -o json; --from and --to go in the query; --tenant asks the operator's
// route with the admin token; a date that does not parse is a usage error, nothing sent.
func TestUsageCommand(t *testing.T) {
	api := newFakeAPI(t)
	x := fasFor(t, api)

	out, errOut, code := x.run("usage", "--from", "2025-03-01", "--to", "2025-03-02")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := lines(out)
	want := [][]string{
		{"DATE", "COMPLETED", "FAILED", "TIMEOUT", "WALL", "S", "GB-S", "CPU", "S", "BUILDS", "BUILD", "S"},
		{"2025-03-01", "2", "1", "0", "3.500", "0.438", "1.250", "1", "12.500"},
		{"TOTAL", "2", "1", "0", "3.500", "0.438", "1.250", "1", "12.500"},
		{"tenant", "acme,", "2025-03-01", "to", "2025-03-02;", "bytes", "stored", "now:", "4096"},
	}
	if len(got) != len(want) {
		t.Fatalf("output:\n%s", out)
	}
	for i := range want {
		if f := strings.Fields(got[i]); !slices.Equal(f, want[i]) {
			t.Errorf("line %d = %q, want %q", i, f, want[i])
		}
	}
	reqs := api.requests()
	if r := reqs[len(reqs)-1]; r.Path != "/v1/usage" || r.Query != "from=2025-03-01&to=2025-03-02" || r.Auth != "Token "+tenantTok {
		t.Errorf("request = %+v", r)
	}

	out, errOut, code = x.run("usage", "--tenant", "beta", "-o", "json")
	var u faaspot.Usage
	if code != exitOK || json.Unmarshal([]byte(out), &u) != nil || u.Tenant != "beta" || len(u.Days) != 2 || u.BytesStored != 4096 {
		t.Fatalf("exit %d, usage %+v: %s %s", code, u, out, errOut)
	}
	reqs = api.requests()
	if r := reqs[len(reqs)-1]; r.Path != "/v1/tenants/beta/usage" || r.Query != "" || r.Auth != "Token "+adminTok {
		t.Errorf("operator's request = %+v", r)
	}
	if _, errOut, code = x.run("usage", "--tenant", "nobody"); code != exitFail || !strings.Contains(errOut, "not found") {
		t.Errorf("unknown tenant: exit %d, %q", code, errOut)
	}

	before := len(api.requests())
	for _, args := range [][]string{{"usage", "--from", "March"}, {"usage", "--to", "2025-02-30"}, {"usage", "extra"}} {
		if _, errOut, code := x.run(args...); code != exitUsage || errOut == "" {
			t.Errorf("%q: exit %d, %q; want a usage error", args, code, errOut)
		}
	}
	if n := len(api.requests()); n != before {
		t.Errorf("%d requests sent for bad command lines", n-before)
	}
}

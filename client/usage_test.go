package client

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// TestUsage: the range goes in the query as UTC days (none for zero times: the server's
// default), the tenant's name in the operator's path; the answer decodes; a refusal is an
// *APIError naming its field.
func TestUsage(t *testing.T) {
	const answer = `{"tenant":"acme","from":"2025-03-01","to":"2025-03-02","days":[` +
		`{"date":"2025-03-01","runs":{"completed":2,"failed":1,"timeout":0},"wall_seconds":3.5,"gb_seconds":0.4375,` +
		`"cpu_seconds":1.25,"builds":1,"builds_failed":0,"build_seconds":12.5},` +
		`{"date":"2025-03-02","runs":{"completed":0,"failed":0,"timeout":0},"wall_seconds":0,"gb_seconds":0,` +
		`"cpu_seconds":0,"builds":0,"builds_failed":0,"build_seconds":0}],` +
		`"total":{"runs":{"completed":2,"failed":1,"timeout":0},"wall_seconds":3.5,"gb_seconds":0.4375,` +
		`"cpu_seconds":1.25,"builds":1,"builds_failed":0,"build_seconds":12.5},"bytes_stored":4096}`
	a := newCanned(t, http.StatusOK, answer)
	c := New(a.srv.URL, "tok")
	east := time.FixedZone("UTC+5", 5*3600)
	u, err := c.Usage(t.Context(), time.Date(2025, 3, 1, 3, 0, 0, 0, east), time.Date(2025, 3, 2, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if a.method != http.MethodGet || a.path != "/v1/usage" || a.query != "from=2025-02-28&to=2025-03-02" {
		t.Errorf("request %s %s?%s", a.method, a.path, a.query)
	}
	if u.Tenant != "acme" || len(u.Days) != 2 || u.Days[0].Runs.Completed != 2 || u.Total.CPUSeconds != 1.25 || u.BytesStored != 4096 {
		t.Errorf("usage = %+v", u)
	}
	if _, err := c.TenantUsage(t.Context(), "a b", time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if a.path != "/v1/tenants/a%20b/usage" || a.query != "" {
		t.Errorf("operator's request %s?%s", a.path, a.query)
	}

	bad := newCanned(t, http.StatusBadRequest, `{"error":{"code":"invalid_argument","message":"bad range","field":"to"}}`)
	_, err = New(bad.srv.URL, "tok").Usage(t.Context(), time.Time{}, time.Time{})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Err.Field != "to" {
		t.Errorf("error = %v, want a 400 naming to", err)
	}
}

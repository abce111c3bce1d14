package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// adminFailBurst is how many failed admin-token attempts an address may make before 429 (the
// api's adminFailBurst).
const adminFailBurst = 10

// adminFrom serves one admin request from the client address remote, with token ("" for none).
func (e *apiEnv) adminFrom(remote, token string) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/v1/tenants", nil)
	req.RemoteAddr = remote
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func TestAdminTokenFailuresLimited(t *testing.T) {
	env := newEnv(t, nil)
	const attacker, operator = "203.0.113.9:40000", "198.51.100.7:50000"
	for i := range adminFailBurst {
		token := []string{"", adminToken + "x", strings.Repeat("a", len(adminToken))}[i%3]
		if rec := env.adminFrom(attacker, token); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failed attempt %d: status %d, want 401", i+1, rec.Code)
		}
	}
	rec := env.adminFrom(attacker, "wrong")
	expectError(t, rec, http.StatusTooManyRequests, "quota_exceeded", "")
	if rec.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// Once the address is over its budget, even the right token is refused: otherwise the
	// answer (429 or 200) would tell the attacker which guess was right.
	expectError(t, env.adminFrom(attacker, adminToken), http.StatusTooManyRequests, "quota_exceeded", "")
	// Another port of the same address shares the budget; another address has its own.
	expectError(t, env.adminFrom("203.0.113.9:40001", "wrong"), http.StatusTooManyRequests, "quota_exceeded", "")
	expect(t, env.adminFrom(operator, adminToken), http.StatusOK, nil)
	if rec := env.adminFrom(operator, "wrong"); rec.Code != http.StatusUnauthorized {
		t.Errorf("the operator's address: status %d, want 401", rec.Code)
	}
}

func TestAdminTokenSuccessesFree(t *testing.T) {
	env := newEnv(t, nil)
	const operator = "198.51.100.7:50000"
	for range 5 * adminFailBurst {
		expect(t, env.adminFrom(operator, adminToken), http.StatusOK, nil)
	}
	for i := range adminFailBurst {
		if rec := env.adminFrom(operator, "wrong"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failed attempt %d after successes: status %d, want 401", i+1, rec.Code)
		}
	}
}

func TestAdminTokenFailuresIPv6Prefix(t *testing.T) {
	env := newEnv(t, nil)
	// One host usually holds a whole /64: its addresses share one budget.
	for i := range adminFailBurst {
		remote := fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1)
		if rec := env.adminFrom(remote, "wrong"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failed attempt %d: status %d, want 401", i+1, rec.Code)
		}
	}
	expectError(t, env.adminFrom("[2001:db8:1:2:ffff::1]:443", "wrong"), http.StatusTooManyRequests, "quota_exceeded", "")
	if rec := env.adminFrom("[2001:db8:1:3::1]:443", "wrong"); rec.Code != http.StatusUnauthorized {
		t.Errorf("another /64: status %d, want 401", rec.Code)
	}
	if rec := env.adminFrom("[::ffff:203.0.113.10]:443", "wrong"); rec.Code != http.StatusUnauthorized {
		t.Errorf("an IPv4-mapped address: status %d, want 401", rec.Code)
	}
}

package api_test

import (
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/faaspot/faaspot/api"
	"github.com/faaspot/faaspot/metrics"
)

// TestMetricsLabelsBounded sends unauthenticated requests with random long methods to random and
// known paths (404s and 405s) and checks that they add no series after the first few: label
// values come from the route templates and a fixed set of methods, never from the request.
func TestMetricsLabelsBounded(t *testing.T) {
	env := newEnv(t, nil)
	reg := prometheus.NewRegistry()
	srv := api.New(env.cfg, storeDeps(env.store, nil, nil), metrics.New(reg), reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	h := srv.Handler()
	rng := rand.New(rand.NewPCG(1, 2))
	junk := func(n int) {
		for range n {
			for _, path := range []string{"/" + randomToken(rng, 1+rng.IntN(300)), "/v1/deployments", "/healthz", "/v1/tenants"} {
				req := httptest.NewRequest(http.MethodGet, path, nil)
				req.Method = randomToken(rng, 1+rng.IntN(2048))
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
					t.Fatalf("%.20s %.40s = %d, want 404 or 405", req.Method, path, rec.Code)
				}
				if strings.Contains(rec.Body.String(), req.Method) {
					t.Fatalf("the answer echoes the request's method: %.200s", rec.Body)
				}
			}
		}
	}
	junk(3)
	before := countSeries(t, reg)
	junk(60)
	after := countSeries(t, reg)
	if after != before {
		t.Errorf("240 junk requests grew the series from %d to %d", before, after)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	templates := routeTemplates(t, h)
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if badLabel(templates, l.GetName(), l.GetValue()) {
					t.Fatalf("%s has label %s=%.40q: not a route template or known method", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// badLabel tells whether a label value of the HTTP metrics could have come from request text:
// a method other than GET (the only one the junk requests' known routes take) or "other", a
// route that is neither a template of the router nor "unmatched".
func badLabel(templates map[string]bool, name, value string) bool {
	switch name {
	case "method":
		return value != metrics.MethodOther && value != http.MethodGet
	case "route":
		return value != metrics.RouteUnmatched && !templates[value]
	}
	return false
}

// routeTemplates returns the path templates of every route of h, a *mux.Router.
func routeTemplates(t *testing.T, h http.Handler) map[string]bool {
	t.Helper()
	r, ok := h.(*mux.Router)
	if !ok {
		t.Fatalf("Handler is a %T, not a *mux.Router", h)
	}
	out := map[string]bool{}
	err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		if tpl, err := route.GetPathTemplate(); err == nil {
			out[tpl] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// randomToken is n random letters: a valid HTTP method or path segment.
func randomToken(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('A' + rng.IntN(26))
	}
	return string(b)
}

// countSeries is the number of series of every faaspot_http_* family in reg.
func countSeries(t *testing.T, reg *prometheus.Registry) int {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "faaspot_http_") {
			n += len(f.GetMetric())
		}
	}
	return n
}

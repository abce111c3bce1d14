package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/faaspot/faaspot/api"
)

// TestAccessLog: with the access log on, each request writes one INFO line with its method, the
// route's template, the status and the duration, and never the token or the path's values; off,
// none.
func TestAccessLog(t *testing.T) {
	for _, on := range []bool{true, false} {
		env := newEnv(t, func(c *api.Config) { c.AccessLog = on })
		rec := env.do(http.MethodGet, "/v1/deployments/SECRET-NAME", env.token, "")
		if rec.Code != http.StatusNotFound {
			t.Fatalf("GET a missing deployment = %d", rec.Code)
		}
		var lines []string
		for line := range strings.Lines(env.logs.String()) {
			if strings.Contains(line, `msg="http request"`) {
				lines = append(lines, line)
			}
		}
		if !on {
			if len(lines) != 0 {
				t.Errorf("access log off, lines %q", lines)
			}
			continue
		}
		if len(lines) != 1 {
			t.Fatalf("access lines = %q, want one", lines)
		}
		for _, want := range []string{"level=INFO", "method=GET", "route=/v1/deployments/{name}", "status=404", "duration_ms="} {
			if !strings.Contains(lines[0], want) {
				t.Errorf("line %q lacks %q", lines[0], want)
			}
		}
		if strings.Contains(lines[0], "SECRET-NAME") || strings.Contains(env.logs.String(), env.token) {
			t.Errorf("the log holds the path's value or the token: %s", env.logs.String())
		}
	}
}

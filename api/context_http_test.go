package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestCreateDeploymentContextRefused: a context-file text nested too deep (issue 9: 5,000 deep
// answered 202 and every run failed) or holding nan/inf (no JSON form) is a 400 naming context,
// and nothing is stored.
func TestCreateDeploymentContextRefused(t *testing.T) {
	for name, text := range map[string]string{
		"arrays 5,000 deep":        "a = " + strings.Repeat("[", 5000) + "1" + strings.Repeat("]", 5000),
		"inline tables 5,000 deep": "x = " + strings.Repeat("{a = ", 5000) + "1" + strings.Repeat("}", 5000),
		"dotted key 5,000 deep":    strings.TrimSuffix(strings.Repeat("a.", 5000), ".") + " = 1",
		"nan":                      "k = nan",
	} {
		t.Run(name, func(t *testing.T) {
			env := newEnv(t, nil)
			body := jsonBody(map[string]any{"name": "fn", "code": validCode, "context": text})
			expectError(t, env.do(http.MethodPost, "/v1/deployments", env.token, body), http.StatusBadRequest, "invalid_argument", "context")
			if names := env.listNames(); len(names) != 0 {
				t.Errorf("deployments after a refused context: %v", names)
			}
		})
	}
}

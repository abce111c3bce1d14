// Package prometheus holds the Prometheus rules shipped for faaspotd; its test runs promtool on
// them so that `make test` checks the rules and their unit tests.
package prometheus

import (
	"os"
	"os/exec"
	"testing"
)

// promtool returns promtool's path, skipping the test without it unless
// FAASPOT_TEST_PROMETHEUS=required.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("FAASPOT_TEST_PROMETHEUS") == "required" {
			t.Fatal("promtool not found and FAASPOT_TEST_PROMETHEUS=required")
		}
		t.Skip("promtool not found (Debian: apt-get install prometheus); set FAASPOT_TEST_PROMETHEUS=required to fail instead")
	}
	return path
}

// TestRules: the rules pass `promtool check rules` and their unit tests `promtool test rules`.
func TestRules(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", "faaspot-rules.yml"},
		{"test", "rules", "faaspot-rules.test.yml"},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}

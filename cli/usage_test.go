package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestUsageErrorsExitTwo: every mistake on the command line exits 2 with one line on stderr
// naming it, prints nothing on stdout and sends nothing, although a server and tokens are
// configured.
func TestUsageErrorsExitTwo(t *testing.T) {
	api := newFakeAPI(t)
	x := fasFor(t, api)
	dir := t.TempDir()
	code := filepath.Join(dir, "f.py")
	if err := os.WriteFile(code, []byte("def main(args, context):\n    return 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "fas needs a command: completion, deployments"},
		{"unknown command", []string{"logs", "abc"}, `unknown command "logs" for "fas"`},
		{"misspelt command", []string{"deploymnets", "list"}, `did you mean "deployments"`},
		{"group without subcommand", []string{"deployments"}, "fas deployments needs a command: create, delete, get, list, rollback, run, versions"},
		{"unknown subcommand", []string{"deployments", "bogus"}, `unknown command "bogus" for "fas deployments"`},
		{"unknown subcommand by alias", []string{"dep", "bogus"}, `unknown command "bogus" for "fas deployments"`},
		{"unknown nested subcommand", []string{"tenants", "tokens", "bogus"}, `unknown command "bogus" for "fas tenants tokens"`},
		{"unknown completion shell", []string{"completion", "tcsh"}, `unknown command "tcsh" for "fas completion"`},
		{"completion with an argument", []string{"completion", "bash", "extra"}, `unknown command "extra"`},
		{"unknown help topic", []string{"help", "bogus"}, `unknown help topic "bogus"`},
		{"unknown flag", []string{"deployments", "list", "--bogus"}, "unknown flag: --bogus"},
		{"unknown shorthand", []string{"executions", "list", "-z"}, "unknown shorthand flag: 'z'"},
		{"flag without value", []string{"executions", "list", "--limit"}, "flag needs an argument"},
		{"bad int value", []string{"executions", "list", "--limit", "many"}, `invalid argument "many" for "--limit"`},
		{"bad output", []string{"deployments", "list", "-o", "yaml"}, `--output must be table or json, not "yaml"`},
		{"too few args", []string{"deployments", "run"}, "usage: fas deployments run NAME"},
		{"execution without id", []string{"executions", "get"}, "usage: fas executions get ID"},
		{"too many args", []string{"deployments", "get", "a", "b"}, "usage: fas deployments get NAME"},
		{"args to a command without", []string{"deployments", "list", "x"}, "fas deployments list takes no arguments"},
		{"create without --file", []string{"deployments", "create", "x"}, "--file is required"},
		{"bad memory", []string{"deployments", "create", "x", "--file", code, "--memory", "lots"}, `invalid argument "lots" for "--memory"`},
		{"zero memory", []string{"deployments", "create", "x", "--file", code, "--memory", "0"}, `invalid argument "0" for "--memory"`},
		{"bad timeout", []string{"deployments", "create", "x", "--file", code, "--timeout", "1.5s"}, `invalid argument "1.5s" for "--timeout"`},
		{"negative timeout", []string{"deployments", "create", "x", "--file", code, "--timeout", "-3"}, `invalid argument "-3" for "--timeout"`},
		{"bad cpus", []string{"deployments", "create", "x", "--file", code, "--cpus", "two"}, `invalid argument "two" for "--cpus"`},
		{"zero cpus", []string{"deployments", "create", "x", "--file", code, "--cpus", "0"}, "--cpus must be more than 0"},
		{"nan cpus", []string{"deployments", "create", "x", "--file", code, "--cpus", "NaN"}, "--cpus must be more than 0"},
		{"zero attempts", []string{"deployments", "create", "x", "--file", code, "--max-attempts", "0"}, `invalid argument "0" for "--max-attempts"`},
		{"bad attempts", []string{"deployments", "create", "x", "--file", code, "--max-attempts", "2.5"}, `invalid argument "2.5" for "--max-attempts"`},
		{"backoff without attempts", []string{"deployments", "create", "x", "--file", code, "--retry-backoff", "30s"}, "--retry-backoff needs --max-attempts"},
		{"negative backoff", []string{"deployments", "create", "x", "--file", code, "--max-attempts", "3", "--retry-backoff", "-1"}, `invalid argument "-1" for "--retry-backoff"`},
		{"backoff over an hour", []string{"deployments", "create", "x", "--file", code, "--max-attempts", "3", "--retry-backoff", "2h"}, "up to 1h"},
		{"dead letters, zero limit", []string{"executions", "dead-letters", "--limit", "0"}, "--limit must be from 1 to 1000, not 0"},
		{"dead letters, limit too high", []string{"executions", "dead-letters", "--limit", "1001"}, "--limit must be from 1 to 1000, not 1001"},
		{"dead letters with an argument", []string{"executions", "dead-letters", "x"}, "fas executions dead-letters takes no arguments"},
		{"retry without id", []string{"executions", "retry"}, "usage: fas executions retry ID"},
		{"create, empty callback url", []string{"deployments", "create", "x", "--file", code, "--callback-url", ""}, "--callback-url must not be empty"},
		{"create, callback url without a scheme", []string{"deployments", "create", "x", "--file", code, "--callback-url", "hooks.example.com/x"},
			`--callback-url must be an http:// or https:// URL with a host, not "hooks.example.com/x"`},
		{"run, empty callback url", []string{"deployments", "run", "x", "--callback-url="}, "--callback-url must not be empty"},
		{"run, ftp callback url", []string{"deployments", "run", "x", "--callback-url", "ftp://h/x", "--wait"}, "--callback-url must be an http:// or https:// URL"},
		{"webhook secret with an argument", []string{"webhook-secret", "rotate"}, "fas webhook-secret takes no arguments"},
		{"bad parameters", []string{"deployments", "run", "x", "--parameters", "novalue"}, "is not key=value"},
		{"bad json", []string{"deployments", "run", "x", "--json", "[1]"}, "--json must be a JSON object"},
		{"tenant delete without --yes", []string{"tenants", "delete", "acme"}, "add --yes"},
		{"revoke without id", []string{"tenants", "tokens", "revoke", "acme"}, "usage: fas tenants tokens revoke TENANT TOKEN_ID"},
		{"negative quota", []string{"tenants", "quotas", "acme", "--max-deployments", "-1"}, "quotas must be 0"},
		{"login without url", []string{"login", "--token", "t"}, "login needs --url"},
		{"login with a bad url", []string{"login", "--url", "ftp://x", "--token", "t"}, "must start with http://"},
		{"version with an argument", []string{"version", "x"}, "fas version takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(api.requests())
			out, errOut, code := x.run(tt.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr %q", code, errOut)
			}
			if out != "" || !strings.HasPrefix(errOut, "fas: ") || len(lines(errOut)) != 1 || !strings.Contains(errOut, tt.want) {
				t.Errorf("stdout %q, stderr %q; want one line 'fas: …%s…'", out, errOut, tt.want)
			}
			if !strings.Contains(errOut, "--help') ") && !strings.HasSuffix(errOut, "--help')\n") {
				t.Errorf("stderr %q does not point at --help", errOut)
			}
			if n := len(api.requests()) - before; n != 0 {
				t.Errorf("a usage error sent %d requests", n)
			}
		})
	}
}

// TestHelpExitsZero: -h, --help and fas help print help on stdout and exit 0.
func TestHelpExitsZero(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"-h", []string{"-h"}, "Available Commands:"},
		{"--help", []string{"--help"}, "fas completion bash"},
		{"help", []string{"help"}, "Available Commands:"},
		{"help topic", []string{"help", "deployments", "create"}, "--memory"},
		{"create -h", []string{"deployments", "create", "-h"}, "--timeout"},
		{"create help shows examples", []string{"deployments", "create", "--help"}, "Examples:"},
		{"group -h", []string{"tenants", "tokens", "-h"}, "revoke"},
		{"help beats a missing argument", []string{"deployments", "run", "-h"}, "--parameters"},
		{"completion help", []string{"completion", "bash", "-h"}, "bash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := newFas(t, nil).run(tt.args...)
			if code != 0 || errOut != "" || !strings.Contains(out, "Usage:") || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d, stderr %q, stdout %q; want 0, help with %q", code, errOut, out, tt.want)
			}
			if strings.Contains(out, "Usage:\n  fas tenants tokens\n") {
				t.Errorf("a group is shown as a command of its own: %q", out)
			}
		})
	}
}

// TestEveryCommandHasExamples: the help of each command of fas shows how to use it.
func TestEveryCommandHasExamples(t *testing.T) {
	a := &app{env: Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Parent() != nil && c.Parent().Name() == "completion" || c.Name() == "completion" {
			return // cobra's own, with its own help per shell
		}
		if c.IsAvailableCommand() && strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has no examples", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(a.rootCommand())
}

// TestVersion: fas version and fas --version print the version given at build time.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
		out, errOut, code := newFas(t, nil).run(args...)
		if code != 0 || out != "fas 1.2.3\n" || errOut != "" {
			t.Errorf("fas %v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	if out, _, code := newFas(t, nil).run("version", "-o", "json"); code != 0 || !strings.Contains(out, `"version": "1.2.3"`) {
		t.Errorf("version -o json: %d %q", code, out)
	}
	if got := BuildVersion("v9"); got != "v9" {
		t.Errorf("BuildVersion(v9) = %q", got)
	}
	if got := BuildVersion("dev"); got == "" {
		t.Errorf("BuildVersion(dev) is empty")
	}
}

// TestFailuresExitOne: a command that ran and failed exits 1, not 2.
func TestFailuresExitOne(t *testing.T) {
	api := newFakeAPI(t)
	tests := []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{"no configuration", nil, []string{"deployments", "list"}, "fas login"},
		{"bad token", map[string]string{"FAASPOT_URL": api.srv.URL, "FAASPOT_TOKEN": "wrong"}, []string{"deployments", "list"}, "unauthorized"},
		{"missing file", map[string]string{"FAASPOT_URL": api.srv.URL, "FAASPOT_TOKEN": tenantTok}, []string{"deployments", "create", "x", "--file", "/nonexistent/f.py"}, "/nonexistent/f.py"},
		{"unknown tenant", map[string]string{"FAASPOT_URL": api.srv.URL, "FAASPOT_ADMIN_TOKEN": adminTok}, []string{"tenants", "delete", "nope", "--yes"}, "tenant not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := newFas(t, tt.vars).run(tt.args...)
			if code != 1 || !strings.HasPrefix(errOut, "fas: ") || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, errOut, tt.want)
			}
		})
	}
}

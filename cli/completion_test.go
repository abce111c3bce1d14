package cli

import (
	"reflect"
	"strings"
	"testing"
)

// complete asks fas for the completions of a command line, as the shell scripts do, and returns
// the candidates (descriptions dropped) and the directive line.
func complete(x *fas, args ...string) ([]string, string, int) {
	out, _, code := x.run(append([]string{"__complete"}, args...)...)
	var got []string
	directive := ""
	for _, l := range lines(out) {
		if strings.HasPrefix(l, ":") {
			directive = l
			continue
		}
		if !strings.HasPrefix(l, "Completion ended") {
			got = append(got, strings.SplitN(l, "\t", 2)[0])
		}
	}
	return got, directive, code
}

// TestCompletion: deployment names, execution ids, tenants and token ids complete from the API,
// with the configured URL and tokens; no candidate is a file.
func TestCompletion(t *testing.T) {
	api := newFakeAPI(t)
	x := fasFor(t, api)
	for _, args := range [][]string{{"tenants", "create", "acme"}, {"tenants", "create", "beta"}, {"tenants", "tokens", "issue", "acme"}} {
		if _, errOut, code := x.run(args...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"deployment to get", []string{"deployments", "get", ""}, []string{"hello", "world"}},
		{"deployment by prefix", []string{"deployments", "run", "he"}, []string{"hello"}},
		{"deployment through an alias", []string{"dep", "delete", "w"}, []string{"world"}},
		{"deployment to update", []string{"deployments", "create", ""}, []string{"hello", "world"}},
		{"deployment to roll back", []string{"deployments", "rollback", "h"}, []string{"hello"}},
		{"version to roll back to", []string{"deployments", "rollback", "hello", "--to", ""}, []string{"4", "3", "2", "1"}},
		{"version to run", []string{"deployments", "run", "hello", "--version", "1"}, []string{"1"}},
		{"no versions before NAME", []string{"deployments", "rollback", "--to", ""}, nil},
		{"only the first argument", []string{"deployments", "get", "hello", ""}, nil},
		{"deployment flag", []string{"executions", "list", "--deployment", ""}, []string{"hello", "world"}},
		{"execution ids", []string{"executions", "logs", ""}, []string{"e1aaaa", "e2bbbb"}},
		{"execution by prefix", []string{"executions", "get", "e2"}, []string{"e2bbbb"}},
		{"failed executions to retry", []string{"executions", "retry", ""}, []string{"e2bbbb"}},
		{"a completed execution is not retried", []string{"executions", "retry", "e1"}, nil},
		{"tenants", []string{"tenants", "delete", ""}, []string{"acme", "beta"}},
		{"tenant by prefix", []string{"tenants", "tokens", "issue", "b"}, []string{"beta"}},
		{"token ids", []string{"tenants", "tokens", "revoke", "acme", ""}, []string{"tok3"}},
		{"no such prefix", []string{"deployments", "get", "zz"}, nil},
		{"output values", []string{"deployments", "list", "-o", ""}, []string{"table", "json"}},
		{"webhook secret takes no argument", []string{"webhook-secret", ""}, nil},
		{"help topics", []string{"help", "ten"}, []string{"tenants"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, directive, code := complete(x, tt.args...)
			if code != 0 || !reflect.DeepEqual(got, tt.want) || directive != ":4" {
				t.Errorf("completions %q, directive %q, exit %d; want %q and :4 (no files)", got, directive, code, tt.want)
			}
		})
	}
}

// TestCompletionFailures: when the API cannot answer, completion offers nothing (no files, no
// error text among the candidates) and exits 0.
func TestCompletionFailures(t *testing.T) {
	api := newFakeAPI(t)
	down := newFakeAPI(t)
	down.setFail(true)
	tests := []struct {
		name string
		vars map[string]string
		args []string
	}{
		{"server error", map[string]string{"FAASPOT_URL": down.srv.URL, "FAASPOT_TOKEN": tenantTok}, []string{"deployments", "get", ""}},
		{"unreachable", map[string]string{"FAASPOT_URL": "http://127.0.0.1:1", "FAASPOT_TOKEN": tenantTok}, []string{"executions", "get", ""}},
		{"wrong token", map[string]string{"FAASPOT_URL": api.srv.URL, "FAASPOT_TOKEN": "wrong"}, []string{"deployments", "run", ""}},
		{"not configured", nil, []string{"deployments", "get", ""}},
		{"no admin token", map[string]string{"FAASPOT_URL": api.srv.URL, "FAASPOT_TOKEN": tenantTok}, []string{"tenants", "delete", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, directive, code := complete(newFas(t, tt.vars), tt.args...)
			if code != 0 || len(got) != 0 || directive != ":4" {
				t.Errorf("completions %q, directive %q, exit %d; want none, :4, 0", got, directive, code)
			}
		})
	}
	for _, r := range api.requests() {
		if strings.HasPrefix(r.Path, "/v1/tenants") {
			t.Errorf("completion without an admin token sent %s %s", r.Method, r.Path)
		}
	}
}

// TestCompletionUsesFlags: --url and --token on the line being completed are used, as the
// command itself would use them.
func TestCompletionUsesFlags(t *testing.T) {
	api := newFakeAPI(t)
	x := newFas(t, map[string]string{"FAASPOT_URL": "http://127.0.0.1:1", "FAASPOT_TOKEN": "wrong"})
	got, _, _ := complete(x, "--url", api.srv.URL, "--token", tenantTok, "deployments", "get", "")
	if !reflect.DeepEqual(got, []string{"hello", "world"}) {
		t.Errorf("completions %q", got)
	}
}

// TestCompletionScripts: fas completion SHELL prints a script for each shell.
func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		out, errOut, code := newFas(t, nil).run("completion", shell)
		if code != 0 || errOut != "" || !strings.Contains(out, "__complete") {
			t.Errorf("completion %s: exit %d, stderr %q, %d bytes", shell, code, errOut, len(out))
		}
	}
}

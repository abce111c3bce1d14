package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestLogin: fas login checks and saves what it is given; for the same URL it keeps the token it
// was not given, for another URL it drops it.
func TestLogin(t *testing.T) {
	api := newFakeAPI(t)
	other := newFakeAPI(t)
	x := newFas(t, nil)
	steps := []struct {
		name     string
		args     []string
		wantCode int
		want     config
	}{
		{name: "tenant token", args: []string{"login", "--url", api.srv.URL + "/", "--token", tenantTok},
			want: config{URL: api.srv.URL, Token: tenantTok}},
		{name: "admin token kept with the tenant's", args: []string{"login", "--url", api.srv.URL, "--admin-token", adminTok},
			want: config{URL: api.srv.URL, Token: tenantTok, AdminToken: adminTok}},
		{name: "a wrong admin token changes nothing", args: []string{"login", "--url", api.srv.URL, "--admin-token", "wrong"}, wantCode: 1,
			want: config{URL: api.srv.URL, Token: tenantTok, AdminToken: adminTok}},
		{name: "another server drops the admin token", args: []string{"login", "--url", other.srv.URL, "--token", tenantTok},
			want: config{URL: other.srv.URL, Token: tenantTok}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			_, errOut, code := x.run(s.args...)
			if code != s.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", code, s.wantCode, errOut)
			}
			path := filepath.Join(x.home, ".faaspot", "config.json")
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var got config
			if err := json.Unmarshal(b, &got); err != nil || got != s.want {
				t.Errorf("config file %s (%v), want %+v", b, err, s.want)
			}
			if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
				t.Errorf("config file mode: %v %v", info, err)
			}
		})
	}
	// What was saved is what the commands use.
	if out, errOut, code := x.run("deployments", "list", "-o", "json"); code != 0 || out == "" {
		t.Errorf("list after login: %d %q %q", code, out, errOut)
	}
}

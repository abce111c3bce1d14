package registry

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dockerregistry "github.com/docker/docker/api/types/registry"
)

// TestHeader: the X-Registry-Auth header is the base64url JSON of the AuthConfig, with the
// registry's host; anonymous credentials still make one.
func TestHeader(t *testing.T) {
	a := Address{Host: "reg.example:5000", Prefix: "p"}
	for _, c := range []Credentials{{Username: "ci", Password: "s3cr+t/?"}, {}} {
		h, err := c.Header(a)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(h, "+/") {
			t.Errorf("header %q is not base64url", h)
		}
		got, err := dockerregistry.DecodeAuthConfig(h)
		if err != nil {
			t.Fatal(err)
		}
		if got.Username != c.Username || got.Password != c.Password || got.ServerAddress != "reg.example:5000" {
			t.Errorf("header decodes to %+v, want %+v at reg.example:5000", got, c)
		}
	}
}

func TestCredentialsNeverLogThePassword(t *testing.T) {
	var b strings.Builder
	c := Credentials{Username: "u", Password: "hunter2", Source: "s"}
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "creds", c)
	if strings.Contains(b.String(), "hunter2") || !strings.Contains(b.String(), "creds.username=u") {
		t.Errorf("log line %q", b.String())
	}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(&c)} {
		if strings.Contains(s, "hunter2") || !strings.Contains(s, "u") {
			t.Errorf("printed as %q", s)
		}
	}
}

func TestLoadCredentials(t *testing.T) {
	a := Address{Host: "reg.example:5000"}
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	writeFile(t, pwFile, "from-file\n")
	cfgDir := filepath.Join(dir, "docker")
	auth := base64.StdEncoding.EncodeToString([]byte("alice:from:config"))
	writeFile(t, filepath.Join(cfgDir, "config.json"), fmt.Sprintf(
		`{"auths": {"other:5000": {"auth": "eDp5"}, "https://reg.example:5000/v1/": {"auth": %q}}}`, auth))
	helperDir := filepath.Join(dir, "helper")
	writeFile(t, filepath.Join(helperDir, "config.json"), `{"credsStore": "secretservice", "auths": {"reg.example:5000": {}}}`)
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	tests := []struct {
		name, user, file string
		getenv           func(string) string
		want             Credentials
		wantErr          bool
	}{
		{name: "settings win", user: "bob", file: pwFile, getenv: env("DOCKER_CONFIG", cfgDir),
			want: Credentials{Username: "bob", Password: "from-file"}},
		{name: "DOCKER_CONFIG", getenv: env("DOCKER_CONFIG", cfgDir), want: Credentials{Username: "alice", Password: "from:config"}},
		{name: "HOME/.docker", getenv: env("HOME", filepath.Dir(cfgDir)+"/h"), want: Credentials{}},
		{name: "credential helper: none", getenv: env("DOCKER_CONFIG", helperDir), want: Credentials{}},
		{name: "no config at all", getenv: env(), want: Credentials{}},
		{name: "username alone", user: "bob", getenv: env(), wantErr: true},
		{name: "password file missing", user: "bob", file: filepath.Join(dir, "nope"), getenv: env(), wantErr: true},
	}
	if err := os.MkdirAll(filepath.Join(dir, "h", ".docker"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "h", ".docker", "config.json"), fmt.Sprintf(`{"auths": {"reg.example:5000": {"auth": %q}}}`, auth))
	tests[2].want = Credentials{Username: "alice", Password: "from:config"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadCredentials(a, tt.user, tt.file, tt.getenv)
			if (err != nil) != tt.wantErr || got.Username != tt.want.Username || got.Password != tt.want.Password {
				t.Errorf("LoadCredentials = %+v, %v; want %+v, error %v", got, err, tt.want, tt.wantErr)
			}
			if err == nil && got.Source == "" {
				t.Error("no source given")
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

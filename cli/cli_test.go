package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseParameters(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]any
		bad      bool
	}{
		{name: "empty", in: "", want: map[string]any{}},
		{name: "seed example", in: "name=user1", want: map[string]any{"name": "user1"}},
		{name: "two", in: "k=v,k2=v2", want: map[string]any{"k": "v", "k2": "v2"}},
		{name: "escaped comma", in: `list=a\,b,x=1`, want: map[string]any{"list": "a,b", "x": "1"}},
		{name: "equals in value", in: "q=a=b", want: map[string]any{"q": "a=b"}},
		{name: "empty value", in: "k=", want: map[string]any{"k": ""}},
		{name: "no equals", in: "novalue", bad: true},
		{name: "empty key", in: "=v", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseParameters(tt.in)
			if tt.bad {
				if err == nil {
					t.Fatalf("parseParameters(%q) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseParameters(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestLoadConfigPrecedence(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".faaspot"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".faaspot", "config.json"), []byte(`{"url":"http://file:1","token":"file-token"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	env := Env{Home: home, Getenv: func(k string) string { return vars[k] }}
	cfg, err := loadConfig(env, "", "")
	if err != nil || cfg.URL != "http://file:1" || cfg.Token != "file-token" {
		t.Errorf("from file: %+v %v", cfg, err)
	}
	vars["FAASPOT_URL"], vars["FAASPOT_TOKEN"] = "http://env:2", "env-token"
	if cfg, _ = loadConfig(env, "", ""); cfg.URL != "http://env:2" || cfg.Token != "env-token" {
		t.Errorf("env must win over the file: %+v", cfg)
	}
	if cfg, _ = loadConfig(env, "http://flag:3", "flag-token"); cfg.URL != "http://flag:3" || cfg.Token != "flag-token" {
		t.Errorf("flags must win over env: %+v", cfg)
	}
	if _, err := loadConfig(Env{Home: t.TempDir(), Getenv: func(string) string { return "" }}, "", ""); err == nil ||
		!strings.Contains(err.Error(), "fas login") {
		t.Errorf("no configuration: %v", err)
	}
}

package registry

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	dockerregistry "github.com/docker/docker/api/types/registry"
)

// Credentials log in to the registry. The zero value is anonymous. Their LogValue never shows
// the password.
type Credentials struct {
	Username, Password string
	// Source says where they came from, for the log: a setting, the Docker CLI's config, or none.
	Source string
}

// LogValue shows the username and the source, never the password.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", c.Username), slog.String("source", c.Source))
}

// String names the username and the source, never the password (for %v and %+v).
func (c Credentials) String() string {
	if c.Username == "" {
		return "anonymous (" + c.Source + ")"
	}
	return c.Username + " (" + c.Source + ")"
}

// GoString is String, for %#v.
func (c Credentials) GoString() string { return c.String() }

// Header is the Engine API's X-Registry-Auth for a push or pull from a (RegistryAuth in the
// client's options): the base64url JSON of an AuthConfig. Anonymous credentials still make one
// (with the server address only): some engines refuse a push without the header.
func (c Credentials) Header(a Address) (string, error) {
	return dockerregistry.EncodeAuthConfig(dockerregistry.AuthConfig{Username: c.Username, Password: c.Password,
		ServerAddress: a.Host})
}

// LoadCredentials finds the credentials of the registry at a: username with the password read
// from passwordFile when both are set (its trailing newline dropped); otherwise the "auths" entry
// of a's host in the Docker CLI's config ($DOCKER_CONFIG/config.json, else
// $HOME/.docker/config.json, as getenv gives them), its base64 "auth" ("user:password");
// otherwise none. Credential helpers (credsStore, credHelpers) are not run: a host whose entry
// has no "auth" gets none, and Source says why.
func LoadCredentials(a Address, username, passwordFile string, getenv func(string) string) (Credentials, error) {
	switch {
	case username != "" && passwordFile != "":
		b, err := os.ReadFile(passwordFile)
		if err != nil {
			return Credentials{}, fmt.Errorf("registry password file: %w", err)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return Credentials{}, fmt.Errorf("registry password file %s is empty", passwordFile)
		}
		return Credentials{Username: username, Password: pw, Source: "FAASPOT_REGISTRY_USERNAME and FAASPOT_REGISTRY_PASSWORD_FILE"}, nil
	case username != "" || passwordFile != "":
		return Credentials{}, errors.New("set both FAASPOT_REGISTRY_USERNAME and FAASPOT_REGISTRY_PASSWORD_FILE, or neither")
	}
	dir := getenv("DOCKER_CONFIG")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			return Credentials{Source: "none"}, nil
		}
		dir = filepath.Join(home, ".docker")
	}
	return fromDockerConfig(filepath.Join(dir, "config.json"), a.Host)
}

// dockerConfig is the part of the Docker CLI's config.json read here.
type dockerConfig struct {
	Auths map[string]struct {
		Auth string `json:"auth"`
	} `json:"auths"`
	CredsStore  string            `json:"credsStore"`
	CredHelpers map[string]string `json:"credHelpers"`
}

// fromDockerConfig reads host's credentials from the Docker CLI's config at path; a missing file
// is no credentials.
func fromDockerConfig(path, host string) (Credentials, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Credentials{Source: "none"}, nil
	}
	if err != nil {
		return Credentials{}, fmt.Errorf("docker config: %w", err)
	}
	var cfg dockerConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return Credentials{}, fmt.Errorf("docker config %s: %w", path, err)
	}
	for key, entry := range cfg.Auths {
		if authHost(key) != host || entry.Auth == "" {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(entry.Auth)
		if err != nil {
			return Credentials{}, fmt.Errorf("docker config %s: the auth of %s is not base64", path, host)
		}
		user, pw, ok := strings.Cut(string(raw), ":")
		if !ok || user == "" {
			return Credentials{}, fmt.Errorf("docker config %s: the auth of %s is not user:password", path, host)
		}
		return Credentials{Username: user, Password: pw, Source: "docker config " + path}, nil
	}
	if cfg.CredHelpers[host] != "" || cfg.CredsStore != "" {
		return Credentials{Source: "none (docker config " + path + " leaves them to a credential helper, which faaspot does not run)"}, nil
	}
	return Credentials{Source: "none"}, nil
}

// authHost is the HOST:PORT of a key of "auths": the Docker CLI writes "host:port", older ones
// "https://host:port/v1/".
func authHost(key string) string {
	if _, rest, ok := strings.Cut(key, "://"); ok {
		key = rest
	}
	host, _, _ := strings.Cut(key, "/")
	return host
}

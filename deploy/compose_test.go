// Package deploy holds no code: its tests check the deploy files beside them (the Compose file,
// the Prometheus and Grafana provisioning, the Dockerfile, the systemd units) against the daemon
// they deploy.
package deploy

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/faaspot/faaspot/daemon"
)

// testEnv fills the settings env.example leaves for the operator, as deploy/.env would.
func testEnv(t *testing.T) map[string]string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return map[string]string{"DOCKER_GID": "105", "FAASPOT_ADMIN_TOKEN": hex.EncodeToString(b),
		"GRAFANA_ADMIN_PASSWORD": "test-password"}
}

// loadCompose loads compose.yaml the way `docker compose` does (schema validation, interpolation
// from env.example, then env over it), without touching an engine.
func loadCompose(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{"compose.yaml"}, cli.WithWorkingDirectory("."),
		cli.WithEnvFiles("env.example"), cli.WithDotEnv, cli.WithEnv(list), cli.WithName("faaspot-test"))
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func mustLoadCompose(t *testing.T) (*types.Project, map[string]string) {
	t.Helper()
	env := testEnv(t)
	p, err := loadCompose(t, env)
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	return p, env
}

// TestComposeRequiresOperatorSettings: the example settings alone are refused, naming what is
// missing, so nobody starts the stack with an empty admin token or a guessed socket group.
func TestComposeRequiresOperatorSettings(t *testing.T) {
	for _, name := range []string{"DOCKER_GID", "FAASPOT_ADMIN_TOKEN", "GRAFANA_ADMIN_PASSWORD"} {
		env := testEnv(t)
		delete(env, name)
		_, err := loadCompose(t, env)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("without %s: err = %v, want it named", name, err)
		}
	}
}

// TestComposeServices: the five services, Redis persistent on a declared volume.
func TestComposeServices(t *testing.T) {
	p, _ := mustLoadCompose(t)
	want := []string{"api", "grafana", "prometheus", "redis", "worker"}
	if got := p.ServiceNames(); !slices.Equal(sortedCopy(got), want) {
		t.Fatalf("services = %v, want %v", got, want)
	}
	redis := p.Services["redis"]
	if i := slices.Index(redis.Command, "--appendonly"); i < 0 || i+1 >= len(redis.Command) || redis.Command[i+1] != "yes" {
		t.Errorf("redis command %q: want --appendonly yes", redis.Command)
	}
	if v := volumeAt(redis, "/data"); v == nil || v.Type != types.VolumeTypeVolume {
		t.Errorf("redis /data is %+v, want a named volume", v)
	}
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if _, declared := p.Volumes[v.Source]; v.Type == types.VolumeTypeVolume && !declared {
				t.Errorf("%s: volume %q is not declared", name, v.Source)
			}
		}
		if s.Restart == "" {
			t.Errorf("%s has no restart policy", name)
		}
	}
}

// TestComposePortsOnLoopback: nothing is published beyond this host.
func TestComposePortsOnLoopback(t *testing.T) {
	p, _ := mustLoadCompose(t)
	published := 0
	for name, s := range p.Services {
		for _, port := range s.Ports {
			published++
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s:%d on %q, want 127.0.0.1", name, port.Published, port.Target, port.HostIP)
			}
		}
	}
	if published != 3 {
		t.Errorf("%d ports published, want 3 (API, Prometheus, Grafana)", published)
	}
	if !publishes(p.Services["api"], listenPort(t, p.Services["api"])) {
		t.Errorf("api does not publish its FAASPOT_LISTEN port")
	}
	if len(p.Services["worker"].Ports) != 0 || len(p.Services["redis"].Ports) != 0 {
		t.Errorf("the worker and Redis must not be published")
	}
}

// TestComposeNodes: the api and worker nodes are configurations the daemon accepts, of their
// roles, sharing Redis and the contexts' key, each with its own data volume and node id, on the
// host's engine through its socket and group.
func TestComposeNodes(t *testing.T) {
	p, env := mustLoadCompose(t)
	known := knownVariables()
	cfgs := map[string]daemon.Config{}
	for _, name := range []string{"api", "worker"} {
		s := p.Services[name]
		vars := map[string]string{}
		for k, v := range s.Environment {
			if strings.HasPrefix(k, "FAASPOT_") && !known[k] {
				t.Errorf("%s sets %s, which faaspotd does not read", name, k)
			}
			if v != nil {
				vars[k] = *v
			}
		}
		cfg := daemon.DefaultConfig()
		if err := cfg.LoadEnv(func(k string) string { return vars[k] }); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: the daemon refuses its configuration: %v", name, err)
		}
		if string(cfg.Role) != name {
			t.Errorf("%s runs role %q", name, cfg.Role)
		}
		if want := secretPath(t, s, "secret_key"); cfg.SecretKeyFile != want {
			t.Errorf("%s: FAASPOT_SECRET_KEY_FILE = %q, want the secret at %q", name, cfg.SecretKeyFile, want)
		}
		if v := volumeAt(s, cfg.DataDir); v == nil || v.Type != types.VolumeTypeVolume {
			t.Errorf("%s: data dir %s is not on a volume", name, cfg.DataDir)
		}
		// The worker needs the engine; the API node opens none and must not hold the socket,
		// which is root on the host.
		sock := volumeAt(s, "/var/run/docker.sock")
		switch wantEngine := cfg.Role.RunsWorkers(); {
		case wantEngine && (sock == nil || sock.Source != "/var/run/docker.sock"):
			t.Errorf("%s has no Docker socket", name)
		case wantEngine && !slices.Equal(s.GroupAdd, []string{env["DOCKER_GID"]}):
			t.Errorf("%s: group_add = %v, want the socket's group %s", name, s.GroupAdd, env["DOCKER_GID"])
		case !wantEngine && (sock != nil || len(s.GroupAdd) != 0):
			t.Errorf("%s opens no engine but gets the Docker socket (%v) or its group (%v)", name, sock, s.GroupAdd)
		}
		if u, err := url.Parse(cfg.RedisURL); err != nil || p.Services[u.Hostname()].Name != "redis" {
			t.Errorf("%s: FAASPOT_REDIS_URL %q does not name a service", name, cfg.RedisURL)
		}
		cfgs[name] = cfg
	}
	api, worker := cfgs["api"], cfgs["worker"]
	if api.RedisURL != worker.RedisURL || api.KeyPrefix != worker.KeyPrefix {
		t.Errorf("api and worker use different stores: %q%s, %q%s", api.RedisURL, api.KeyPrefix, worker.RedisURL, worker.KeyPrefix)
	}
	apiData, workerData := volumeAt(p.Services["api"], api.DataDir), volumeAt(p.Services["worker"], worker.DataDir)
	if api.NodeID == worker.NodeID || apiData == nil || workerData == nil || apiData.Source == workerData.Source {
		t.Errorf("api and worker share a node id or data volume")
	}
	if api.AdminToken != env["FAASPOT_ADMIN_TOKEN"] {
		t.Errorf("the api node does not get the admin token")
	}
	if worker.WarmChannel != "attach" {
		t.Errorf("worker: FAASPOT_WARM_CHANNEL = %q; a socket directory inside the container cannot be bound by the host's engine", worker.WarmChannel)
	}
	if f := p.Secrets["secret_key"].File; filepath.Base(f) != "secret.key" || !strings.Contains(f, "secrets") {
		t.Errorf("secret_key comes from %q, want ./secrets/secret.key (ignored by git)", f)
	}
}

// knownVariables are the FAASPOT_* variables faaspotd reads: those LoadEnv asks for, and the
// profiling listener read by cmd/faaspotd.
func knownVariables() map[string]bool {
	known := map[string]bool{"FAASPOT_PPROF_LISTEN": true}
	cfg := daemon.DefaultConfig()
	_ = cfg.LoadEnv(func(k string) string { known[k] = true; return "" })
	return known
}

// secretPath is where service s finds the secret named source.
func secretPath(t *testing.T, s types.ServiceConfig, source string) string {
	for _, sec := range s.Secrets {
		if sec.Source != source {
			continue
		}
		if filepath.IsAbs(sec.Target) {
			return sec.Target
		}
		return "/run/secrets/" + cmp.Or(sec.Target, sec.Source)
	}
	t.Errorf("%s does not get the secret %s", s.Name, source)
	return ""
}

// volumeAt is s's mount at target, or nil.
func volumeAt(s types.ServiceConfig, target string) *types.ServiceVolumeConfig {
	for i := range s.Volumes {
		if s.Volumes[i].Target == target {
			return &s.Volumes[i]
		}
	}
	return nil
}

// listenPort is the port of a faaspotd service's FAASPOT_LISTEN.
func listenPort(t *testing.T, s types.ServiceConfig) string {
	v := s.Environment["FAASPOT_LISTEN"]
	if v == nil {
		t.Fatalf("%s has no FAASPOT_LISTEN", s.Name)
	}
	_, port, err := net.SplitHostPort(*v)
	if err != nil {
		t.Fatalf("%s: FAASPOT_LISTEN %q: %v", s.Name, *v, err)
	}
	return port
}

// publishes reports whether s publishes port on the host.
func publishes(s types.ServiceConfig, port string) bool {
	return slices.ContainsFunc(s.Ports, func(p types.ServicePortConfig) bool { return p.Published == port })
}

// mountedFile checks that s mounts the repository file rel (relative to deploy/) read-only and
// returns where it is in the container.
func mountedFile(t *testing.T, s types.ServiceConfig, rel string) string {
	t.Helper()
	abs, _ := filepath.Abs(rel)
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && v.Source == abs {
			if !v.ReadOnly {
				t.Errorf("%s mounts %s writable", s.Name, rel)
			}
			if _, err := os.Stat(abs); err != nil {
				t.Errorf("%s mounts %s: %v", s.Name, rel, err)
			}
			return v.Target
		}
	}
	t.Errorf("%s does not mount %s", s.Name, rel)
	return ""
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

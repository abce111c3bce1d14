package daemon

import (
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/sandbox"
)

// env is a map-backed getenv.
type env map[string]string

func (e env) get(name string) string { return e[name] }

func TestLoadEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     env
		want    func(c *Config) // adjusts DefaultConfig to the expected result
		wantErr []string        // every variable the error must name
	}{
		{name: "nothing set keeps the defaults", env: env{}, want: func(c *Config) {}},
		{name: "empty values keep the defaults", env: env{"FAASPOT_LISTEN": "", "FAASPOT_WORKERS": ""}, want: func(c *Config) {}},
		{
			name: "strings",
			env: env{
				"FAASPOT_LISTEN": ":9090", "FAASPOT_REDIS_URL": "redis://127.0.0.1:6379/2", "FAASPOT_KEY_PREFIX": "t:",
				"FAASPOT_ADMIN_TOKEN": "adm", "FAASPOT_BASE_IMAGE": "local/py:3", "FAASPOT_PIP_INDEX_URL": "http://127.0.0.1:1/simple",
				"FAASPOT_BUILD_NETWORK": "host", "FAASPOT_SANDBOX_NETWORK": "egress", "FAASPOT_RUNTIME": "runsc",
				"FAASPOT_ROLE": "worker", "FAASPOT_SECRET_KEY_FILE": "/etc/faaspot/key", "FAASPOT_DEV_TENANT": "dev",
				"FAASPOT_WRITE_CLIENT_CONFIG": "/tmp/c.json",
			},
			want: func(c *Config) {
				c.Listen, c.RedisURL, c.KeyPrefix, c.AdminToken = ":9090", "redis://127.0.0.1:6379/2", "t:", "adm"
				c.BaseImage, c.PipIndexURL, c.BuildNetwork = "local/py:3", "http://127.0.0.1:1/simple", "host"
				c.SandboxNetwork, c.Runtime, c.Role = "egress", "runsc", "worker"
				c.SecretKeyFile, c.DevTenant, c.ClientConfig = "/etc/faaspot/key", "dev", "/tmp/c.json"
			},
		},
		{
			name: "numbers",
			env: env{
				"FAASPOT_DEFAULT_MEMORY_MB": "128", "FAASPOT_DEFAULT_TIMEOUT_S": "10", "FAASPOT_DEFAULT_CPUS": "0.5",
				"FAASPOT_MAX_MEMORY_MB": "4096", "FAASPOT_MAX_TIMEOUT_S": "60", "FAASPOT_MAX_CPUS": "4",
				"FAASPOT_WORKERS": "16", "FAASPOT_BUILD_WORKERS": "1",
			},
			want: func(c *Config) {
				c.DefaultMemMB, c.DefaultTimeout, c.DefaultCPUs = 128, 10, 0.5
				c.MaxMemMB, c.MaxTimeout, c.MaxCPUs = 4096, 60, 4
				c.Workers, c.BuildWorkers = 16, 1
			},
		},
		{
			name: "durations as Go durations",
			env:  env{"FAASPOT_RESULT_TTL": "168h", "FAASPOT_SYNC_WAIT": "90s"},
			want: func(c *Config) { c.ResultTTL, c.SyncWait = 168*time.Hour, 90*time.Second },
		},
		{
			name: "durations as plain seconds",
			env:  env{"FAASPOT_RESULT_TTL": "3600", "FAASPOT_SYNC_WAIT": "30"},
			want: func(c *Config) { c.ResultTTL, c.SyncWait = time.Hour, 30*time.Second },
		},
		{name: "bad whole number", env: env{"FAASPOT_WORKERS": "eight"}, wantErr: []string{"FAASPOT_WORKERS", `"eight"`}},
		{name: "fraction for a whole number", env: env{"FAASPOT_DEFAULT_MEMORY_MB": "1.5"}, wantErr: []string{"FAASPOT_DEFAULT_MEMORY_MB"}},
		{name: "bad float", env: env{"FAASPOT_MAX_CPUS": "two"}, wantErr: []string{"FAASPOT_MAX_CPUS"}},
		{
			name: "HTTP timeouts",
			env:  env{"FAASPOT_HTTP_READ_TIMEOUT": "10s", "FAASPOT_HTTP_IDLE_TIMEOUT": "120"},
			want: func(c *Config) { c.HTTPReadTimeout, c.HTTPIdleTimeout = 10*time.Second, 2*time.Minute },
		},
		{name: "bad HTTP timeout", env: env{"FAASPOT_HTTP_IDLE_TIMEOUT": "long"}, wantErr: []string{"FAASPOT_HTTP_IDLE_TIMEOUT"}},
		{
			name: "janitor interval",
			env:  env{"FAASPOT_JANITOR_INTERVAL": "0"},
			want: func(c *Config) { c.JanitorInterval = 0 },
		},
		{name: "bad duration", env: env{"FAASPOT_SYNC_WAIT": "soon"}, wantErr: []string{"FAASPOT_SYNC_WAIT", `"soon"`}},
		{
			name: "typed values",
			env:  env{"FAASPOT_ROLE": "api", "FAASPOT_WARM_MODE": "process"},
			want: func(c *Config) { c.Role, c.WarmMode = RoleAPI, sandbox.ModeProcess },
		},
		{
			name: "metrics tenant label",
			env:  env{"FAASPOT_METRICS_TENANT_LABEL": "true", "FAASPOT_METRICS_TENANT_LIMIT": "7"},
			want: func(c *Config) { c.MetricsTenantLabel, c.MetricsTenantLimit = true, 7 },
		},
		{name: "bad role", env: env{"FAASPOT_ROLE": "leader"}, wantErr: []string{"FAASPOT_ROLE", `"leader"`}},
		{name: "bad warm mode", env: env{"FAASPOT_WARM_MODE": "thread"}, wantErr: []string{"FAASPOT_WARM_MODE", `"thread"`}},
		{
			name:    "every bad variable is named",
			env:     env{"FAASPOT_WORKERS": "x", "FAASPOT_RESULT_TTL": "1 week", "FAASPOT_DEFAULT_CPUS": "?"},
			wantErr: []string{"FAASPOT_WORKERS", "FAASPOT_RESULT_TTL", "FAASPOT_DEFAULT_CPUS"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DefaultConfig()
			err := got.LoadEnv(tt.env.get)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatal("LoadEnv accepted bad values")
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not name %s", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadEnv: %v", err)
			}
			want := DefaultConfig()
			tt.want(&want)
			if got != want {
				t.Errorf("config =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestDefaultConfigIsValid(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	if c.Listen != "127.0.0.1:8080" || c.BaseImage != "python:3.12-slim" || c.SandboxNetwork != "none" || c.RedisURL != "" {
		t.Errorf("defaults differ from DESIGN.md §6: %+v", c)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(c *Config)
		wantErr string // "" for valid
	}{
		{name: "defaults", change: func(c *Config) {}},
		{name: "bad role", change: func(c *Config) { c.Role = "both" }, wantErr: "role must be all, api or worker"},
		{name: "empty role", change: func(c *Config) { c.Role = "" }, wantErr: "role must be"},
		{name: "api role without Redis", change: func(c *Config) { c.Role = "api" }, wantErr: "needs a shared Redis"},
		{name: "worker role without Redis", change: func(c *Config) { c.Role = "worker" }, wantErr: "needs a shared Redis"},
		{name: "api role with Redis", change: func(c *Config) { c.Role, c.RedisURL = "api", "redis://r:6379" }},
		{name: "api role needs no workers", change: func(c *Config) { c.Role, c.RedisURL, c.Workers, c.BuildWorkers = "api", "redis://r", 0, 0 }},
		{name: "worker role with Redis", change: func(c *Config) { c.Role, c.RedisURL = "worker", "redis://r:6379" }},
		{name: "embedded store, no workers", change: func(c *Config) { c.Workers = 0 }, wantErr: "must run (FAASPOT_WORKERS) and build"},
		{name: "embedded store, no build workers", change: func(c *Config) { c.BuildWorkers = 0 }, wantErr: "must run (FAASPOT_WORKERS) and build"},
		{name: "negative workers", change: func(c *Config) { c.Workers = -1 }, wantErr: "must not be negative"},
		{name: "build-only worker", change: func(c *Config) { c.Role, c.RedisURL, c.Workers = "worker", "redis://r", 0 }},
		{name: "run-only worker", change: func(c *Config) { c.Role, c.RedisURL, c.BuildWorkers = "worker", "redis://r", 0 }},
		{name: "all-in-one build-only on Redis", change: func(c *Config) { c.RedisURL, c.Workers = "redis://r", 0 }},
		{name: "idle worker", change: func(c *Config) { c.Role, c.RedisURL, c.Workers, c.BuildWorkers = "worker", "redis://r", 0, 0 }, wantErr: "would do nothing"},
		{name: "min replicas on Redis", change: func(c *Config) { c.RedisURL, c.RedisMinReplicas = "redis://r", 1 }},
		{name: "min replicas, embedded", change: func(c *Config) { c.RedisMinReplicas = 1 }, wantErr: "not the embedded store"},
		{name: "min replicas, no timeout", change: func(c *Config) { c.RedisURL, c.RedisMinReplicas, c.RedisReplicaTimeout = "redis://r", 1, 0 }, wantErr: "REPLICA_TIMEOUT"},
		{name: "json log", change: func(c *Config) { c.LogFormat = "json" }},
		{name: "no metrics tenant limit", change: func(c *Config) { c.MetricsTenantLimit = 0 }, wantErr: "metrics tenant limit"},
		{name: "bad log format", change: func(c *Config) { c.LogFormat = "xml" }, wantErr: `FAASPOT_LOG_FORMAT must be text or json, not "xml"`},
		{name: "default memory over the max", change: func(c *Config) { c.DefaultMemMB, c.MaxMemMB = 512, 256 }, wantErr: "memory limits"},
		{name: "tiny memory", change: func(c *Config) { c.DefaultMemMB = 8 }, wantErr: "memory limits"},
		{name: "default timeout over the max", change: func(c *Config) { c.DefaultTimeout, c.MaxTimeout = 60, 30 }, wantErr: "timeouts"},
		{name: "zero timeout", change: func(c *Config) { c.DefaultTimeout = 0 }, wantErr: "timeouts"},
		{name: "default cpus over the max", change: func(c *Config) { c.DefaultCPUs, c.MaxCPUs = 4, 2 }, wantErr: "cpus"},
		{name: "zero cpus", change: func(c *Config) { c.DefaultCPUs = 0 }, wantErr: "cpus"},
		{name: "short result TTL", change: func(c *Config) { c.ResultTTL = 30 * time.Second }, wantErr: "result TTL"},
		{name: "short sync wait", change: func(c *Config) { c.SyncWait = 100 * time.Millisecond }, wantErr: "sync wait"},
		{name: "negative janitor interval", change: func(c *Config) { c.JanitorInterval = -time.Second }, wantErr: "janitor"},
		{name: "no base image", change: func(c *Config) { c.BaseImage = " " }, wantErr: "base image"},
		{name: "no admin token", change: func(c *Config) { c.AdminToken = "" }},
		{name: "short admin token", change: func(c *Config) { c.AdminToken = strings.Repeat("a", 31) }, wantErr: "FAASPOT_ADMIN_TOKEN must be at least 32 characters, it has 31"},
		{name: "admin token of 32", change: func(c *Config) { c.AdminToken = strings.Repeat("a", 32) }},
		{name: "admin token in spaces", change: func(c *Config) { c.AdminToken = " " + strings.Repeat("a", 40) }, wantErr: "FAASPOT_ADMIN_TOKEN must not begin or end"},
		{name: "zero read timeout", change: func(c *Config) { c.HTTPReadTimeout = 0 }, wantErr: "FAASPOT_HTTP_READ_TIMEOUT"},
		{name: "short idle timeout", change: func(c *Config) { c.HTTPIdleTimeout = 100 * time.Millisecond }, wantErr: "FAASPOT_HTTP_IDLE_TIMEOUT"},
		{name: "Redis URL with TLS", change: func(c *Config) { c.RedisURL = "rediss://app:pw@redis.example:6380/0" }},
		{name: "bad Redis URL", change: func(c *Config) { c.RedisURL = "redis://:pw@host:port/0" }, wantErr: "FAASPOT_REDIS_URL"},
		{
			name:    "several errors at once",
			change:  func(c *Config) { c.Role, c.BaseImage, c.SyncWait = "x", "", 0 },
			wantErr: "base image",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestRunLimits(t *testing.T) {
	cfg := DefaultConfig() // defaults 256 MB, 1 CPU, 30 s; caps 2048 MB, 2 CPUs, 900 s
	tests := []struct {
		name   string
		limits faaspot.Limits
		cfg    Config
		mem    int64
		nano   int64
		time   time.Duration
	}{
		{name: "defaults", cfg: cfg, mem: 256 << 20, nano: 1e9, time: 30 * time.Second},
		{name: "negative values mean defaults", cfg: cfg, limits: faaspot.Limits{MemoryMB: -1, CPUs: -1, TimeoutS: -1},
			mem: 256 << 20, nano: 1e9, time: 30 * time.Second},
		{name: "explicit", cfg: cfg, limits: faaspot.Limits{MemoryMB: 512, CPUs: 0.5, TimeoutS: 5},
			mem: 512 << 20, nano: 500_000_000, time: 5 * time.Second},
		{name: "fractional cpus", cfg: cfg, limits: faaspot.Limits{CPUs: 0.01}, mem: 256 << 20, nano: 10_000_000, time: 30 * time.Second},
		{name: "caps", cfg: cfg, limits: faaspot.Limits{MemoryMB: 1 << 20, CPUs: 64, TimeoutS: 86400},
			mem: 2048 << 20, nano: 2e9, time: 900 * time.Second},
		{name: "caps apply to defaults too", limits: faaspot.Limits{},
			cfg: Config{DefaultMemMB: 4096, DefaultCPUs: 8, DefaultTimeout: 1000, MaxMemMB: 1024, MaxCPUs: 1.5, MaxTimeout: 60},
			mem: 1024 << 20, nano: 1_500_000_000, time: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runLimits(tt.limits, tt.cfg)
			if got.MemoryBytes != tt.mem || got.NanoCPUs != tt.nano || got.Timeout != tt.time {
				t.Errorf("runLimits = %d bytes, %d nanocpus, %v; want %d, %d, %v",
					got.MemoryBytes, got.NanoCPUs, got.Timeout, tt.mem, tt.nano, tt.time)
			}
			if got.OutputBytes != outputLimit || got.ResultBytes != resultLimit {
				t.Errorf("output caps = %d/%d, want %d/%d", got.OutputBytes, got.ResultBytes, outputLimit, resultLimit)
			}
		})
	}
}

// TestValidateReclaimIdle: workers tick every ReclaimIdle/4 and time.NewTicker panics on a
// non-positive interval, so a zero ReclaimIdle must be refused before Open starts them.
func TestValidateReclaimIdle(t *testing.T) {
	c := DefaultConfig()
	c.ReclaimIdle = 0
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "reclaim idle") {
		t.Errorf("Validate with ReclaimIdle 0 = %v, want an error naming the reclaim idle time", err)
	}
}

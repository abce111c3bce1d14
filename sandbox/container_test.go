package sandbox

import (
	"cmp"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot/hardening"
)

// TestHostConfig: a run's container gets hardening's host configuration for the operator's
// settings and the run's limits (hardening's own tests cover what that holds), without an init
// process in fork mode (the runner is the init).
func TestHostConfig(t *testing.T) {
	limits := Limits{MemoryBytes: 256 << 20, NanoCPUs: 500_000_000, Timeout: 30 * time.Second,
		OutputBytes: 1 << 10, ResultBytes: 1 << 20}
	gvisor := DefaultConfig()
	gvisor.Runtime, gvisor.Network = "runsc", "faaspot-egress"
	process := Config{Config: hardening.Config{User: "1000:1000", PidsLimit: 16}, Mode: ModeProcess}
	tests := []struct {
		name string
		cfg  Config
		mode Mode // the version's own (PoolPolicy.Mode)
	}{
		{name: "defaults", cfg: DefaultConfig()},
		{name: "runtime and network", cfg: gvisor},
		{name: "process mode", cfg: process},
		{name: "fork mode", cfg: Config{Mode: ModeFork}},
		{name: "a version in fork mode on a process-mode node", cfg: process, mode: ModeFork},
		{name: "a version in process mode on a fork-mode node", cfg: Config{Mode: ModeFork}, mode: ModeProcess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := hostConfig(tt.cfg, Request{Limits: limits, Policy: PoolPolicy{Mode: tt.mode}})
			want := hardening.HostConfig(tt.cfg.Config, hardening.Resources{MemoryBytes: limits.MemoryBytes, NanoCPUs: limits.NanoCPUs})
			mode := cmp.Or(tt.mode, tt.cfg.Mode, DefaultConfig().Mode)
			if init := got.Init != nil && *got.Init; init != (mode == ModeProcess) {
				t.Errorf("Init = %v in %s mode", init, mode)
			}
			want.Init = got.Init
			if gj, wj := mustJSON(t, got), mustJSON(t, want); gj != wj {
				t.Errorf("hostConfig = %s\nwant hardening's %s", gj, wj)
			}
			if got.Memory != limits.MemoryBytes || got.NanoCPUs != limits.NanoCPUs || got.Runtime != tt.cfg.Runtime {
				t.Errorf("memory %d cpus %d runtime %q; want the run's limits and the operator's runtime", got.Memory, got.NanoCPUs, got.Runtime)
			}
		})
	}
}

func TestContainerConfig(t *testing.T) {
	req := Request{Image: "faaspot/t-aa/d-bb:0123", TenantID: "aa", ExecutionID: "e1", Key: "aa/bb/3/",
		Args: []byte(`{"password":"ARG-VALUE"}`), Context: []byte(`{"secret":"CTX-VALUE"}`)}
	tests := []struct {
		name     string
		cfg      Config
		wantUser string
	}{
		{name: "defaults: the tenant's own user", cfg: DefaultConfig(), wantUser: hardening.Config{}.TenantUser("aa")},
		{name: "tenant range", cfg: Config{Config: hardening.Config{UIDBase: 7000, UIDCount: 1}}, wantUser: "7000:7000"},
		{name: "other user, process mode, node", wantUser: "1000:1000",
			cfg: Config{Config: hardening.Config{User: "1000:1000", Network: "none", PidsLimit: 1, NoFile: 1, TmpfsBytes: 1, Node: "n1"}, Mode: ModeProcess}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := containerConfig(tt.cfg, req)
			if tt.cfg.User == "" && cc.User == hardening.DefaultUser {
				t.Error("the run's container has the user shared by every tenant")
			}
			if cc.Image != req.Image {
				t.Errorf("Image = %q", cc.Image)
			}
			if cc.User != tt.wantUser || hardening.IsRoot(cc.User) {
				t.Errorf("User = %q, want the non-root %q", cc.User, tt.wantUser)
			}
			if !cc.OpenStdin || !cc.StdinOnce || !cc.AttachStdin || !cc.AttachStdout || !cc.AttachStderr {
				t.Errorf("stdin/stdout attachment incomplete: %+v", cc)
			}
			if cc.Tty {
				t.Error("Tty is set: stdout and stderr would be merged")
			}
			// The runner serves requests on stdin; nothing of a run goes on the command line.
			if want := []string{"--serve", string(tt.cfg.Mode)}; !slices.Equal(cc.Cmd, want) {
				t.Errorf("Cmd = %q, want %q", cc.Cmd, want)
			}
			if len(cc.Env) != 0 || len(cc.Entrypoint) != 0 {
				t.Errorf("args or context may leak through Env %v / Entrypoint %v", cc.Env, cc.Entrypoint)
			}
			if len(cc.ExposedPorts) != 0 || len(cc.Volumes) != 0 {
				t.Error("ports or volumes declared")
			}
			wantLabels := map[string]string{LabelManaged: "true", LabelRole: hardening.RoleSandbox, LabelTenant: "aa",
				LabelExecution: "e1", LabelNode: tt.cfg.Node, LabelKey: "aa/bb/3/"}
			if !maps.Equal(cc.Labels, wantLabels) {
				t.Errorf("Labels = %v, want %v", cc.Labels, wantLabels)
			}
			for _, v := range cc.Labels {
				if strings.Contains(v, "VALUE") {
					t.Errorf("a label carries args or context: %q", v)
				}
			}
		})
	}
}

// TestContainerConfigTenants: two tenants' runs get different users, each the same on every run.
func TestContainerConfigTenants(t *testing.T) {
	users := map[string]string{}
	for _, tenant := range []string{"0a1b2c3d4e5f6071", "8899aabbccddeeff", "t1", "t2"} {
		user := containerConfig(DefaultConfig(), Request{TenantID: tenant}).User
		if other, dup := users[user]; dup || hardening.IsRoot(user) {
			t.Errorf("tenant %s runs as %q (shared with %q)", tenant, user, other)
		}
		if again := containerConfig(DefaultConfig(), Request{TenantID: tenant, ExecutionID: "e2"}).User; again != user {
			t.Errorf("tenant %s: %q then %q", tenant, user, again)
		}
		users[user] = tenant
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestContainerConfigMode: a version's own mode (PoolPolicy.Mode) wins over the node's.
func TestContainerConfigMode(t *testing.T) {
	for _, tt := range []struct{ node, version, want Mode }{
		{node: ModeProcess, want: ModeProcess},
		{node: ModeFork, want: ModeFork},
		{node: ModeProcess, version: ModeFork, want: ModeFork},
		{node: ModeFork, version: ModeProcess, want: ModeProcess},
	} {
		cc := containerConfig(Config{Mode: tt.node}, Request{TenantID: "aa", Policy: PoolPolicy{Mode: tt.version}})
		if want := []string{"--serve", string(tt.want)}; !slices.Equal(cc.Cmd, want) {
			t.Errorf("node %s, version %q: Cmd = %q, want %q", tt.node, tt.version, cc.Cmd, want)
		}
	}
}

package sandbox

import (
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestHostConfig(t *testing.T) {
	limits := Limits{MemoryBytes: 256 << 20, NanoCPUs: 500_000_000, Timeout: 30 * time.Second,
		OutputBytes: 1 << 10, ResultBytes: 1 << 20}
	withNetwork := DefaultConfig()
	withNetwork.Network = "faaspot-egress"
	gvisor := DefaultConfig()
	gvisor.Runtime = "runsc"
	noNetworkSet := DefaultConfig()
	noNetworkSet.Network = ""
	small := Config{Network: "none", User: "1000:1000", PidsLimit: 16, NoFile: 64, TmpfsBytes: 1 << 20}

	tests := []struct {
		name        string
		cfg         Config
		limits      Limits
		wantNetwork string
		wantRuntime string
	}{
		{name: "defaults", cfg: DefaultConfig(), limits: limits, wantNetwork: "none"},
		{name: "network left empty means none", cfg: noNetworkSet, limits: limits, wantNetwork: "none"},
		{name: "operator-allowed network", cfg: withNetwork, limits: limits, wantNetwork: "faaspot-egress"},
		{name: "runtime passthrough", cfg: gvisor, limits: limits, wantNetwork: "none", wantRuntime: "runsc"},
		{name: "small settings", cfg: small, wantNetwork: "none",
			limits: Limits{MemoryBytes: 16 << 20, NanoCPUs: 10_000_000, Timeout: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := hostConfig(tt.cfg, tt.limits)
			r := hc.Resources
			if r.Memory != tt.limits.MemoryBytes || r.MemorySwap != r.Memory {
				t.Errorf("Memory = %d, MemorySwap = %d; want both %d (no swap)", r.Memory, r.MemorySwap, tt.limits.MemoryBytes)
			}
			if r.NanoCPUs != tt.limits.NanoCPUs {
				t.Errorf("NanoCPUs = %d, want %d", r.NanoCPUs, tt.limits.NanoCPUs)
			}
			if r.PidsLimit == nil || *r.PidsLimit != tt.cfg.PidsLimit || *r.PidsLimit <= 0 {
				t.Errorf("PidsLimit = %v, want %d", r.PidsLimit, tt.cfg.PidsLimit)
			}
			if len(r.Ulimits) != 1 || r.Ulimits[0].Name != "nofile" ||
				r.Ulimits[0].Soft != tt.cfg.NoFile || r.Ulimits[0].Hard != tt.cfg.NoFile {
				t.Errorf("Ulimits = %+v, want nofile %d/%d", r.Ulimits, tt.cfg.NoFile, tt.cfg.NoFile)
			}
			if hc.Init == nil || !*hc.Init {
				t.Error("no init process: the runner would be PID 1, immune to its own signals")
			}
			if !hc.ReadonlyRootfs {
				t.Error("root filesystem is writable")
			}
			tmp, ok := hc.Tmpfs["/tmp"]
			if !ok || len(hc.Tmpfs) != 1 {
				t.Fatalf("Tmpfs = %v, want only /tmp", hc.Tmpfs)
			}
			opts := strings.Split(tmp, ",")
			for _, want := range []string{"nosuid", "nodev", "size=" + strconv.FormatInt(tt.cfg.TmpfsBytes, 10)} {
				if !slices.Contains(opts, want) {
					t.Errorf("/tmp options %q lack %q", tmp, want)
				}
			}
			if !slices.Equal(hc.CapDrop, []string{"ALL"}) || len(hc.CapAdd) != 0 {
				t.Errorf("CapDrop = %v, CapAdd = %v; want ALL dropped, none added", hc.CapDrop, hc.CapAdd)
			}
			if !slices.Contains(hc.SecurityOpt, "no-new-privileges") {
				t.Errorf("SecurityOpt = %v lacks no-new-privileges", hc.SecurityOpt)
			}
			if string(hc.NetworkMode) != tt.wantNetwork {
				t.Errorf("NetworkMode = %q, want %q", hc.NetworkMode, tt.wantNetwork)
			}
			if hc.Runtime != tt.wantRuntime {
				t.Errorf("Runtime = %q, want %q", hc.Runtime, tt.wantRuntime)
			}
			if len(hc.Binds) != 0 || len(hc.Mounts) != 0 || len(hc.VolumesFrom) != 0 || len(r.Devices) != 0 {
				t.Errorf("host paths reach the container: binds %v mounts %v volumes-from %v devices %v",
					hc.Binds, hc.Mounts, hc.VolumesFrom, r.Devices)
			}
			if hc.Privileged || hc.PidMode != "" || hc.IpcMode != "" || hc.UsernsMode != "" || hc.UTSMode != "" {
				t.Errorf("host namespaces or privileges: privileged=%v pid=%q ipc=%q userns=%q uts=%q",
					hc.Privileged, hc.PidMode, hc.IpcMode, hc.UsernsMode, hc.UTSMode)
			}
			if len(hc.PortBindings) != 0 || hc.PublishAllPorts {
				t.Error("ports are published")
			}
			if hc.AutoRemove {
				t.Error("AutoRemove is set: the sandbox inspects the container after exit (OOM) and removes it itself")
			}
		})
	}
}

// TestHostConfigZeroConfig documents what a Config not built from DefaultConfig gives.
func TestHostConfigZeroConfig(t *testing.T) {
	s, err := New(nil, Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg != DefaultConfig() {
		t.Errorf("a zero Config gives %+v, want the defaults %+v", s.cfg, DefaultConfig())
	}
	for _, user := range []string{"0", "0:0", "root", "root:root"} {
		if _, err := New(nil, Config{User: user}, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
			t.Errorf("New accepted the root user %q", user)
		}
	}
}

func TestContainerConfig(t *testing.T) {
	req := Request{Image: "faaspot/t-aa/d-bb:0123", TenantID: "aa", ExecutionID: "e1", Key: "aa/bb/3/",
		Args: []byte(`{"password":"ARG-VALUE"}`), Context: []byte(`{"secret":"CTX-VALUE"}`)}
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "defaults", cfg: DefaultConfig()},
		{name: "other user, process mode", cfg: Config{User: "1000:1000", Network: "none", PidsLimit: 1, NoFile: 1, TmpfsBytes: 1, Mode: "process"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := containerConfig(tt.cfg, req)
			if cc.Image != req.Image {
				t.Errorf("Image = %q", cc.Image)
			}
			if cc.User != tt.cfg.User || cc.User == "" || strings.HasPrefix(cc.User, "0:") || cc.User == "0" || cc.User == "root" {
				t.Errorf("User = %q, want the non-root %q", cc.User, tt.cfg.User)
			}
			if !cc.OpenStdin || !cc.StdinOnce || !cc.AttachStdin || !cc.AttachStdout || !cc.AttachStderr {
				t.Errorf("stdin/stdout attachment incomplete: %+v", cc)
			}
			if cc.Tty {
				t.Error("Tty is set: stdout and stderr would be merged")
			}
			// The runner serves requests on stdin; nothing of a run goes on the command line.
			if want := []string{"--serve", tt.cfg.Mode}; !slices.Equal(cc.Cmd, want) {
				t.Errorf("Cmd = %q, want %q", cc.Cmd, want)
			}
			if len(cc.Env) != 0 || len(cc.Entrypoint) != 0 {
				t.Errorf("args or context may leak through Env %v / Entrypoint %v", cc.Env, cc.Entrypoint)
			}
			if len(cc.ExposedPorts) != 0 || len(cc.Volumes) != 0 {
				t.Error("ports or volumes declared")
			}
			wantLabels := map[string]string{LabelManaged: "true", LabelRole: "sandbox", LabelTenant: "aa", LabelExecution: "e1",
				LabelNode: tt.cfg.Node, LabelKey: "aa/bb/3/"}
			if len(cc.Labels) != len(wantLabels) {
				t.Errorf("Labels = %v, want %v", cc.Labels, wantLabels)
			}
			for k, v := range wantLabels {
				if cc.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, cc.Labels[k], v)
				}
			}
			for _, v := range cc.Labels {
				if strings.Contains(v, "VALUE") {
					t.Errorf("a label carries args or context: %q", v)
				}
			}
		})
	}
}

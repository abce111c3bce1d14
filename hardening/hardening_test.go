package hardening

import (
	"encoding/json"
	"errors"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares v, as indented JSON, with testdata/name, rewriting the file with -update.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the rendered value:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

var (
	runResources   = Resources{MemoryBytes: 256 << 20, NanoCPUs: 500_000_000}
	buildResources = Resources{MemoryBytes: 1 << 30, NanoCPUs: 1_500_000_000}
)

// configs are the operator settings every rendering is tested with; want is cfg after defaults.
var configs = []struct {
	name   string
	golden string
	cfg    Config
	want   Config
}{
	{name: "defaults", golden: "defaults", cfg: DefaultConfig(), want: DefaultConfig()},
	{name: "zero config is the default", golden: "defaults", cfg: Config{}, want: DefaultConfig()},
	{name: "operator-allowed network", golden: "network", cfg: Config{Network: "faaspot-egress"},
		want: withFields(func(c *Config) { c.Network = "faaspot-egress" })},
	{name: "runtime passthrough and node", golden: "runtime", cfg: Config{Runtime: "runsc", Node: "node-a"},
		want: withFields(func(c *Config) { c.Runtime, c.Node = "runsc", "node-a" })},
	{name: "small settings", golden: "small",
		cfg: Config{Network: "none", User: "1000:1000", PidsLimit: 16, NoFile: 64, TmpfsBytes: 1 << 20,
			UIDBase: 5000, UIDCount: 10, ShmBytes: 1 << 20, OOMScoreAdj: 1000},
		want: Config{Network: "none", User: "1000:1000", PidsLimit: 16, NoFile: 64, TmpfsBytes: 1 << 20,
			UIDBase: 5000, UIDCount: 10, ShmBytes: 1 << 20, OOMScoreAdj: 1000}},
	{name: "negative limits take the defaults", golden: "defaults",
		cfg:  Config{PidsLimit: -1, NoFile: -1, TmpfsBytes: -1, UIDBase: -1, UIDCount: -1, ShmBytes: -1, OOMScoreAdj: -1},
		want: DefaultConfig()},
}

func withFields(set func(*Config)) Config {
	c := DefaultConfig()
	set(&c)
	return c
}

func TestWithDefaults(t *testing.T) {
	for _, tt := range configs {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.WithDefaults(); got != tt.want {
				t.Errorf("WithDefaults = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestRender pins everything rendered from each configuration in testdata/<golden>.golden;
// configurations that must render the same (zero fields, the defaults) share a file.
func TestRender(t *testing.T) {
	for _, tt := range configs {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, tt.golden+".golden", map[string]any{
				"host_config":       HostConfig(tt.cfg, runResources),
				"container_sandbox": ContainerConfig(tt.cfg, RoleSandbox),
				"container_check":   ContainerConfig(tt.cfg, RoleCheck),
				"container_tenant":  ContainerConfig(tt.cfg.ForTenant("0a1b2c3d4e5f6071"), RoleSandbox),
				"build_options":     BuildOptions(tt.cfg, buildResources),
				"host_config_stage": StageHostConfig(tt.cfg, buildResources, 512<<20),
			})
		})
	}
}

func TestHostConfig(t *testing.T) {
	for _, tt := range configs {
		t.Run(tt.name, func(t *testing.T) {
			hc := HostConfig(tt.cfg, runResources)
			checkHardened(t, hc, tt.want, runResources)
		})
	}
	t.Run("resources", func(t *testing.T) {
		res := Resources{MemoryBytes: 16 << 20, NanoCPUs: 10_000_000}
		checkHardened(t, HostConfig(DefaultConfig(), res), DefaultConfig(), res)
	})
}

// checkHardened asserts every property of DESIGN.md §4 on a host configuration rendered from
// cfg (after defaults) and res: the golden files pin the rest.
func checkHardened(t *testing.T, hc *container.HostConfig, cfg Config, res Resources) {
	t.Helper()
	r := hc.Resources
	if r.Memory != res.MemoryBytes || r.MemorySwap != r.Memory {
		t.Errorf("Memory = %d, MemorySwap = %d; want both %d (no swap)", r.Memory, r.MemorySwap, res.MemoryBytes)
	}
	if r.NanoCPUs != res.NanoCPUs {
		t.Errorf("NanoCPUs = %d, want %d", r.NanoCPUs, res.NanoCPUs)
	}
	if r.PidsLimit == nil || *r.PidsLimit != cfg.PidsLimit || *r.PidsLimit <= 0 {
		t.Errorf("PidsLimit = %v, want %d", r.PidsLimit, cfg.PidsLimit)
	}
	if len(r.Ulimits) != 2 || *r.Ulimits[0] != (container.Ulimit{Name: "nofile", Soft: cfg.NoFile, Hard: cfg.NoFile}) ||
		*r.Ulimits[1] != (container.Ulimit{Name: "core"}) {
		t.Errorf("Ulimits = %+v, want nofile %d/%d and core 0/0 (no core dumps)", r.Ulimits, cfg.NoFile, cfg.NoFile)
	}
	if hc.OomScoreAdj != cfg.OOMScoreAdj || hc.OomScoreAdj <= 0 {
		t.Errorf("OomScoreAdj = %d, want the raised %d", hc.OomScoreAdj, cfg.OOMScoreAdj)
	}
	if hc.IpcMode != "private" || hc.CgroupnsMode != "private" {
		t.Errorf("IPC namespace %q, cgroup namespace %q; want both private", hc.IpcMode, hc.CgroupnsMode)
	}
	if hc.ShmSize != cfg.ShmBytes || hc.ShmSize <= 0 {
		t.Errorf("ShmSize = %d, want the bounded %d", hc.ShmSize, cfg.ShmBytes)
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
	for _, want := range []string{"nosuid", "nodev", "noexec", "size=" + strconv.FormatInt(cfg.TmpfsBytes, 10)} {
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
	if string(hc.NetworkMode) != cfg.Network || hc.NetworkMode == "" {
		t.Errorf("NetworkMode = %q, want %q", hc.NetworkMode, cfg.Network)
	}
	if hc.Runtime != cfg.Runtime {
		t.Errorf("Runtime = %q, want %q", hc.Runtime, cfg.Runtime)
	}
	if hc.LogConfig.Type != "none" {
		t.Errorf("log driver %q, want none: the engine must not store a run's output", hc.LogConfig.Type)
	}
	if len(hc.Binds) != 0 || len(hc.Mounts) != 0 || len(hc.VolumesFrom) != 0 || len(r.Devices) != 0 {
		t.Errorf("host paths reach the container: binds %v mounts %v volumes-from %v devices %v",
			hc.Binds, hc.Mounts, hc.VolumesFrom, r.Devices)
	}
	if hc.Privileged || hc.PidMode != "" || hc.UsernsMode != "" || hc.UTSMode != "" {
		t.Errorf("host namespaces or privileges: privileged=%v pid=%q userns=%q uts=%q",
			hc.Privileged, hc.PidMode, hc.UsernsMode, hc.UTSMode)
	}
	if len(hc.PortBindings) != 0 || hc.PublishAllPorts {
		t.Error("ports are published")
	}
	if hc.AutoRemove {
		t.Error("AutoRemove is set: callers inspect the container after exit (OOM) and remove it themselves")
	}
}

func TestContainerConfig(t *testing.T) {
	for _, tt := range configs {
		for _, role := range []string{RoleSandbox, RoleCheck} {
			t.Run(tt.name+"/"+role, func(t *testing.T) {
				cc := ContainerConfig(tt.cfg, role)
				want := tt.want.User
				if want == "" {
					want = DefaultUser // no tenant
				}
				if cc.User != want || IsRoot(cc.User) {
					t.Errorf("User = %q, want the non-root %q", cc.User, want)
				}
				wantLabels := map[string]string{LabelManaged: "true", LabelRole: role, LabelNode: tt.cfg.Node}
				if !maps.Equal(cc.Labels, wantLabels) {
					t.Errorf("Labels = %v, want %v", cc.Labels, wantLabels)
				}
				if cc.Image != "" || len(cc.Cmd) != 0 || len(cc.Entrypoint) != 0 || len(cc.Env) != 0 || cc.Tty {
					t.Errorf("the hardened part sets what is the caller's: %+v", cc)
				}
			})
		}
	}
	// The labels are the caller's to extend: a second call is not affected.
	ContainerConfig(Config{}, RoleSandbox).Labels["x"] = "y"
	if _, ok := ContainerConfig(Config{}, RoleSandbox).Labels["x"]; ok {
		t.Error("ContainerConfig shares its labels between calls")
	}
}

func TestBuildOptions(t *testing.T) {
	for _, tt := range configs {
		t.Run(tt.name, func(t *testing.T) {
			opts := BuildOptions(tt.cfg, buildResources)
			if opts.Memory != buildResources.MemoryBytes || opts.MemorySwap != opts.Memory {
				t.Errorf("Memory = %d, MemorySwap = %d; want both %d", opts.Memory, opts.MemorySwap, buildResources.MemoryBytes)
			}
			if opts.CPUPeriod != 100_000 || opts.CPUQuota != 150_000 {
				t.Errorf("CPU quota %d per %d µs, want 150000 per 100000 (1.5 CPUs)", opts.CPUQuota, opts.CPUPeriod)
			}
			wantUlimits := []container.Ulimit{{Name: "nofile", Soft: tt.want.NoFile, Hard: tt.want.NoFile},
				{Name: "core"}, {Name: "nproc", Soft: tt.want.PidsLimit, Hard: tt.want.PidsLimit}}
			if len(opts.Ulimits) != len(wantUlimits) {
				t.Fatalf("Ulimits = %+v, want %+v", opts.Ulimits, wantUlimits)
			}
			for i, u := range opts.Ulimits {
				if *u != wantUlimits[i] {
					t.Errorf("Ulimits[%d] = %+v, want %+v", i, *u, wantUlimits[i])
				}
			}
			if opts.ShmSize != tt.want.ShmBytes {
				t.Errorf("ShmSize = %d, want %d", opts.ShmSize, tt.want.ShmBytes)
			}
			if !maps.Equal(opts.Labels, ImageLabels(tt.cfg)) || opts.Labels[LabelManaged] != "true" {
				t.Errorf("Labels = %v, want %v", opts.Labels, ImageLabels(tt.cfg))
			}
			if opts.NetworkMode != "" {
				t.Errorf("NetworkMode = %q: the build network is the caller's", opts.NetworkMode)
			}
		})
	}
}

func TestImageLabels(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want map[string]string
	}{
		{name: "no node", want: map[string]string{LabelManaged: "true"}},
		{name: "node", cfg: Config{Node: "n1"}, want: map[string]string{LabelManaged: "true", LabelNode: "n1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ImageLabels(tt.cfg); !maps.Equal(got, tt.want) {
				t.Errorf("ImageLabels = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		user string
		root bool
	}{
		{user: "", root: false}, // the default user
		{user: "65534:65534"},
		{user: "1000"},
		{user: "10:0"}, // root group, not root
		{user: "0", root: true},
		{user: "0:0", root: true},
		{user: "root", root: true},
		{user: "root:root", root: true},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			err := Config{User: tt.user}.Validate()
			if got := errors.Is(err, ErrRootUser); got != tt.root || (err != nil) != tt.root {
				t.Errorf("Validate(user %q) = %v, want root %v", tt.user, err, tt.root)
			}
		})
	}
	ranges := []struct {
		name  string
		cfg   Config
		valid bool
	}{
		{name: "default range", cfg: Config{}, valid: true},
		{name: "range up to the largest uid", cfg: Config{UIDBase: maxUID - 9, UIDCount: 10}, valid: true},
		{name: "range past the largest uid", cfg: Config{UIDBase: maxUID - 9, UIDCount: 11}},
		{name: "base past the largest uid", cfg: Config{UIDBase: maxUID + 1, UIDCount: 1}},
		{name: "huge count", cfg: Config{UIDCount: 1 << 62}},
		{name: "OOM score 1000", cfg: Config{OOMScoreAdj: 1000}, valid: true},
		{name: "OOM score past 1000", cfg: Config{OOMScoreAdj: 1001}},
	}
	for _, tt := range ranges {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err == nil) != tt.valid || (err != nil && !errors.Is(err, ErrInvalid)) {
				t.Errorf("Validate = %v, want valid %v (or ErrInvalid)", err, tt.valid)
			}
		})
	}
}

func TestNodeFilter(t *testing.T) {
	f := NodeFilter("node-a")
	got := f.Get("label")
	slices.Sort(got)
	want := []string{LabelManaged + "=true", LabelNode + "=node-a"}
	if !slices.Equal(got, want) || len(f.Keys()) != 1 {
		t.Errorf("filter = %v, want only labels %v (every role)", f, want)
	}
}

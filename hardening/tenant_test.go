package hardening

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// uidOf parses the uid and gid of a "uid:gid" user.
func uidOf(t *testing.T, user string) (uid, gid int64) {
	t.Helper()
	u, g, ok := strings.Cut(user, ":")
	uid, err1 := strconv.ParseInt(u, 10, 64)
	gid, err2 := strconv.ParseInt(g, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("user %q is not numeric uid:gid", user)
	}
	return uid, gid
}

// TestTenantUser: each tenant gets its own non-root uid (and the same gid), derived from its id
// alone, inside the configured range; an operator's fixed user and tenant-less containers keep
// theirs.
func TestTenantUser(t *testing.T) {
	// Pinned: the derivation must not change between releases (a tenant's processes keep their
	// uid across an upgrade, and every node agrees).
	pinned := map[string]string{"0a1b2c3d4e5f6071": "", "ffffffffffffffff": "", "t1": ""}
	for tenant := range pinned {
		pinned[tenant] = Config{}.TenantUser(tenant)
	}
	golden(t, "tenant_users.golden", pinned)

	for _, cfg := range []Config{{}, {UIDBase: 5000, UIDCount: 10}, {UIDBase: 1, UIDCount: 1}, {UIDBase: maxUID, UIDCount: 1}} {
		def := cfg.WithDefaults()
		for i := range 50 {
			tenant := fmt.Sprintf("%016x", i*7919)
			user := cfg.TenantUser(tenant)
			uid, gid := uidOf(t, user)
			if uid != gid || uid < def.UIDBase || uid >= def.UIDBase+def.UIDCount || uid == 0 || IsRoot(user) {
				t.Fatalf("range %d+%d: tenant %s runs as %q", def.UIDBase, def.UIDCount, tenant, user)
			}
			if again := cfg.TenantUser(tenant); again != user {
				t.Fatalf("tenant %s: %q then %q: not deterministic", tenant, user, again)
			}
			if fc := cfg.ForTenant(tenant); fc.User != user || ContainerConfig(fc, RoleSandbox).User != user {
				t.Fatalf("ForTenant(%s).User = %q, want %q", tenant, fc.User, user)
			}
		}
	}

	// Different tenants, different uids: a sample of 100 tenant ids (random-looking, as the
	// store makes them) in the default range holds no two alike.
	seen := map[string]string{}
	for i := range 100 {
		tenant := fmt.Sprintf("%016x", uint64(i+1)*0x9e3779b97f4a7c15)
		user := Config{}.TenantUser(tenant)
		if other, dup := seen[user]; dup {
			t.Errorf("tenants %s and %s share user %s", other, tenant, user)
		}
		seen[user] = tenant
	}

	tests := []struct {
		name, tenant, want string
		cfg                Config
	}{
		{name: "no tenant", want: DefaultUser},
		{name: "operator's fixed user", cfg: Config{User: "1000:1000"}, tenant: "t1", want: "1000:1000"},
		{name: "fixed user, no tenant", cfg: Config{User: "1000:1000"}, want: "1000:1000"},
		{name: "range of one", cfg: Config{UIDBase: 4242, UIDCount: 1}, tenant: "t1", want: "4242:4242"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.TenantUser(tt.tenant); got != tt.want {
				t.Errorf("TenantUser(%q) = %q, want %q", tt.tenant, got, tt.want)
			}
		})
	}
}

// TestStageHostConfig: a build stage is confined as a run (checkHardened) but for its /tmp,
// sized for packages and executable, and its memory, which holds that /tmp too.
func TestStageHostConfig(t *testing.T) {
	const disk = 512 << 20
	for _, tt := range configs {
		t.Run(tt.name, func(t *testing.T) {
			hc := StageHostConfig(tt.cfg, buildResources, disk)
			want := buildResources
			want.MemoryBytes += disk
			hc.Tmpfs["/tmp"] += ",noexec" // checked apart below
			cfg := tt.want
			cfg.TmpfsBytes = disk
			checkHardened(t, hc, cfg, want)
			if got := StageHostConfig(tt.cfg, buildResources, disk).Tmpfs["/tmp"]; got != fmt.Sprintf("rw,nosuid,nodev,mode=1777,size=%d", disk) {
				t.Errorf("/tmp options %q", got)
			}
		})
	}
}

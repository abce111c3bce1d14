// Package hardening is the one definition of how faaspot confines a container that runs tenant
// code (DESIGN.md §4): the sandbox's run containers, the image builder's check containers and, as
// far as the build API allows, the steps of image builds. It holds pure functions from the
// operator's settings (Config) and one container's resources (Resources) to Docker API types;
// callers add what is theirs (image, command, stdin wiring, their own labels) and never weaken
// what these functions return.
package hardening

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Labels on every container (and image) faaspot makes.
const (
	// LabelManaged is "true" on everything faaspot made.
	LabelManaged = "io.faaspot.managed"
	// LabelRole says what a container is for: RoleSandbox or RoleCheck.
	LabelRole = "io.faaspot.role"
	// LabelNode names the node that made a container, so that it removes its own orphans and
	// never another node's on a shared engine.
	LabelNode = "io.faaspot.node"
)

// Roles of containers (the value of LabelRole).
const (
	// RoleSandbox is a container that runs a deployment's function.
	RoleSandbox = "sandbox"
	// RoleCheck is a throwaway container that validates a deployment's code at build time.
	RoleCheck = "check"
	// RoleBuild is a throwaway container that fetches or installs a deployment's requirements
	// at build time (see StageHostConfig).
	RoleBuild = "build"
)

// Config is the operator's hardening settings, the same for every container of a node. Zero
// fields take their DefaultConfig value wherever a Config is rendered, so a partial Config is
// never less hardened than the default.
type Config struct {
	// Network is the container network mode: "none" (default) or an operator-allowed network.
	Network string
	// Runtime is an optional OCI runtime (e.g. "runsc"); empty uses the engine's default.
	Runtime string
	// User, when set, is the uid:gid every container runs as, whatever its tenant; it must be
	// non-root (see Validate). Empty (the default): each tenant's containers run under a host uid
	// and gid of their own (see TenantUser), so that per-uid kernel limits (RLIMIT_NPROC,
	// inotify instances, pipe buffers, message queues) are per tenant.
	User string
	// UIDBase and UIDCount are the host uid (and gid) range tenants' users are drawn from:
	// [UIDBase, UIDBase+UIDCount). Pick a range no host user, subordinate id range
	// (/etc/subuid, /etc/subgid) or other container runtime uses.
	UIDBase  int64
	UIDCount int64
	// PidsLimit caps processes and threads in a container.
	PidsLimit int64
	// NoFile caps open file descriptors per process.
	NoFile int64
	// TmpfsBytes sizes the writable /tmp.
	TmpfsBytes int64
	// ShmBytes sizes the container's private /dev/shm.
	ShmBytes int64
	// OOMScoreAdj raises the OOM score of every process of a container (1 to 1000), so that
	// under memory pressure the kernel kills tenant code before the host's services.
	OOMScoreAdj int
	// Node labels the containers of this node (LabelNode).
	Node string
}

// Resources are the limits of one container, already defaulted and capped by the caller. Zero
// means unlimited: callers always set both.
type Resources struct {
	MemoryBytes int64
	NanoCPUs    int64
}

// DefaultUser is the unprivileged uid:gid of containers that belong to no tenant (nobody on
// Debian-based images).
const DefaultUser = "65534:65534"

// Defaults of the per-tenant uid range: uids 200000 to 1199999.
const (
	DefaultUIDBase  = 200_000
	DefaultUIDCount = 1_000_000
)

// maxUID is the largest uid a range may reach ((uid_t)-1 means "no change" to the kernel).
const maxUID = 1<<32 - 2

// DefaultConfig is the hardened default: no network, a uid per tenant, 128 processes, 1024
// files, 64 MiB of /tmp, 16 MiB of /dev/shm, OOM score adjustment 500.
func DefaultConfig() Config {
	return Config{Network: "none", UIDBase: DefaultUIDBase, UIDCount: DefaultUIDCount, PidsLimit: 128,
		NoFile: 1024, TmpfsBytes: 64 << 20, ShmBytes: 16 << 20, OOMScoreAdj: 500}
}

// WithDefaults returns c with its zero fields (and non-positive limits) set from DefaultConfig.
// Runtime, User and Node have no default.
func (c Config) WithDefaults() Config {
	def := DefaultConfig()
	if c.Network == "" {
		c.Network = def.Network
	}
	for _, f := range []struct{ v, def *int64 }{{&c.UIDBase, &def.UIDBase}, {&c.UIDCount, &def.UIDCount},
		{&c.PidsLimit, &def.PidsLimit}, {&c.NoFile, &def.NoFile}, {&c.TmpfsBytes, &def.TmpfsBytes},
		{&c.ShmBytes, &def.ShmBytes}} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	if c.OOMScoreAdj <= 0 {
		c.OOMScoreAdj = def.OOMScoreAdj
	}
	return c
}

// TenantUser returns the "uid:gid" the containers of tenant run as: User when the operator set
// one; DefaultUser for no tenant (""); otherwise the tenant's own uid, derived from its id
// alone (the same on every node and every start), in [UIDBase, UIDBase+UIDCount), with a gid
// of the same number. Two tenants share a uid with probability 1/UIDCount per pair: for n
// tenants some pair does with probability about n²/(2·UIDCount), so size UIDCount well above
// n² (a shared uid shares the per-uid limits, nothing else: files are the image's, read-only).
func (c Config) TenantUser(tenant string) string {
	c = c.WithDefaults()
	switch {
	case c.User != "":
		return c.User
	case tenant == "":
		return DefaultUser
	}
	id := tenantID(c.UIDBase, c.UIDCount, tenant)
	return fmt.Sprintf("%d:%d", id, id)
}

// ForTenant returns c with User set to tenant's user (TenantUser): the configuration of that
// tenant's containers.
func (c Config) ForTenant(tenant string) Config {
	c.User = c.TenantUser(tenant)
	return c
}

// tenantID maps a tenant id onto [base, base+count) by its SHA-256.
func tenantID(base, count int64, tenant string) int64 {
	sum := sha256.Sum256([]byte("faaspot tenant uid\x00" + tenant))
	return base + int64(binary.BigEndian.Uint64(sum[:8])%uint64(count))
}

// ErrRootUser means a Config names the root user: containers of tenant code never run as root.
var ErrRootUser = errors.New("containers must run as a non-root user")

// ErrInvalid means a Config's uid range or OOM score adjustment is out of bounds.
var ErrInvalid = errors.New("invalid hardening setting")

// Validate returns an error wrapping ErrRootUser when c runs containers as root, ErrInvalid
// when its uid range ends past the largest uid or its OOM score adjustment past 1000.
func (c Config) Validate() error {
	c = c.WithDefaults()
	if IsRoot(c.User) {
		return fmt.Errorf("user %q: %w", c.User, ErrRootUser)
	}
	if c.UIDBase > maxUID || c.UIDCount > maxUID-c.UIDBase+1 {
		return fmt.Errorf("uid range %d+%d ends past %d: %w", c.UIDBase, c.UIDCount, int64(maxUID), ErrInvalid)
	}
	if c.OOMScoreAdj > 1000 {
		return fmt.Errorf("OOM score adjustment %d is above 1000: %w", c.OOMScoreAdj, ErrInvalid)
	}
	return nil
}

// IsRoot reports whether a "uid[:gid]" user runs as root.
func IsRoot(user string) bool {
	uid, _, _ := strings.Cut(user, ":")
	return uid == "0" || uid == "root"
}

// Labels returns the labels of a container of role made by cfg's node: LabelManaged, LabelRole
// and LabelNode (set even when cfg.Node is empty). The map is the caller's to extend.
func Labels(cfg Config, role string) map[string]string {
	return map[string]string{LabelManaged: "true", LabelRole: role, LabelNode: cfg.Node}
}

// ImageLabels returns the labels of an image built by cfg's node: LabelManaged and, when
// cfg.Node is set, LabelNode. Containers inherit them; an image has no role.
func ImageLabels(cfg Config) map[string]string {
	labels := map[string]string{LabelManaged: "true"}
	if cfg.Node != "" {
		labels[LabelNode] = cfg.Node
	}
	return labels
}

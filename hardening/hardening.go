// Package hardening is the one definition of how faaspot confines a container that runs tenant
// code (DESIGN.md §4): the sandbox's run containers, the image builder's check containers and, as
// far as the build API allows, the steps of image builds. It holds pure functions from the
// operator's settings (Config) and one container's resources (Resources) to Docker API types;
// callers add what is theirs (image, command, stdin wiring, their own labels) and never weaken
// what these functions return.
package hardening

import (
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
)

// Config is the operator's hardening settings, the same for every container of a node. Zero
// fields take their DefaultConfig value wherever a Config is rendered, so a partial Config is
// never less hardened than the default.
type Config struct {
	// Network is the container network mode: "none" (default) or an operator-allowed network.
	Network string
	// Runtime is an optional OCI runtime (e.g. "runsc"); empty uses the engine's default.
	Runtime string
	// User is the uid:gid containers run as; it must be non-root (see Validate).
	User string
	// PidsLimit caps processes and threads in a container.
	PidsLimit int64
	// NoFile caps open file descriptors per process.
	NoFile int64
	// TmpfsBytes sizes the writable /tmp.
	TmpfsBytes int64
	// Node labels the containers of this node (LabelNode).
	Node string
}

// Resources are the limits of one container, already defaulted and capped by the caller. Zero
// means unlimited: callers always set both.
type Resources struct {
	MemoryBytes int64
	NanoCPUs    int64
}

// DefaultUser is the unprivileged uid:gid containers run as (nobody on Debian-based images).
const DefaultUser = "65534:65534"

// DefaultConfig is the hardened default: no network, nobody, 128 processes, 1024 files, 64 MiB
// of /tmp.
func DefaultConfig() Config {
	return Config{Network: "none", User: DefaultUser, PidsLimit: 128, NoFile: 1024, TmpfsBytes: 64 << 20}
}

// WithDefaults returns c with its zero fields (and non-positive limits) set from DefaultConfig.
// Runtime and Node have no default.
func (c Config) WithDefaults() Config {
	def := DefaultConfig()
	if c.Network == "" {
		c.Network = def.Network
	}
	if c.User == "" {
		c.User = def.User
	}
	if c.PidsLimit <= 0 {
		c.PidsLimit = def.PidsLimit
	}
	if c.NoFile <= 0 {
		c.NoFile = def.NoFile
	}
	if c.TmpfsBytes <= 0 {
		c.TmpfsBytes = def.TmpfsBytes
	}
	return c
}

// ErrRootUser means a Config names the root user: containers of tenant code never run as root.
var ErrRootUser = errors.New("containers must run as a non-root user")

// Validate returns an error wrapping ErrRootUser when c runs containers as root.
func (c Config) Validate() error {
	if user := c.WithDefaults().User; IsRoot(user) {
		return fmt.Errorf("user %q: %w", user, ErrRootUser)
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

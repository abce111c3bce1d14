// Package registry is faaspot's side of an image registry (FAASPOT_REGISTRY): the address images
// are named under, the credentials the engine is handed for a push or a pull (the Engine API's
// X-Registry-Auth), and the one call of the Registry HTTP API v2 the engine has no counterpart
// for: deleting a manifest.
package registry

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// Address is where images go: a registry's HOST:PORT and an optional PREFIX (a path of
// repository components) under which every repository is named.
type Address struct {
	Host   string // HOST:PORT
	Prefix string // "" or "a/b"
}

var (
	// hostName is a DNS name (components of letters, digits and inner hyphens) or an IPv4 address.
	hostName = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$`)
	// pathComponent is one component of a repository name (distribution's grammar).
	pathComponent = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$`)
)

// Parse reads HOST:PORT[/PREFIX]: no scheme, no tag or digest, a port from 1 to 65535, and a
// prefix of lowercase repository components. "" is the zero Address (no registry).
func Parse(s string) (Address, error) {
	if s == "" {
		return Address{}, nil
	}
	if strings.Contains(s, "://") {
		return Address{}, fmt.Errorf("registry %q: give HOST:PORT[/PREFIX], without a scheme", s)
	}
	if strings.ContainsAny(s, "@ \t") {
		return Address{}, fmt.Errorf("registry %q: give HOST:PORT[/PREFIX], without a digest or spaces", s)
	}
	hostPort, prefix, _ := strings.Cut(strings.TrimSuffix(s, "/"), "/")
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return Address{}, fmt.Errorf("registry %q: HOST:PORT needed before the first /: %w", s, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return Address{}, fmt.Errorf("registry %q: port %q is not from 1 to 65535", s, port)
	}
	if net.ParseIP(host) == nil && !hostName.MatchString(host) {
		return Address{}, fmt.Errorf("registry %q: %q is not a host name or an IP address", s, host)
	}
	if prefix != "" {
		for _, c := range strings.Split(prefix, "/") {
			if !pathComponent.MatchString(c) {
				return Address{}, fmt.Errorf("registry %q: prefix component %q must be lowercase letters and digits, "+
					"separated by . _ or - (a \":\" there would be a tag)", s, c)
			}
		}
	}
	return Address{Host: hostPort, Prefix: prefix}, nil
}

// IsZero reports whether a is no registry.
func (a Address) IsZero() bool { return a.Host == "" }

// String is HOST:PORT[/PREFIX], as Parse reads it.
func (a Address) String() string {
	if a.Prefix == "" {
		return a.Host
	}
	return a.Host + "/" + a.Prefix
}

// Qualify names repo (a repository name without a registry) in the registry: HOST:PORT[/PREFIX]/repo.
// The zero Address returns repo unchanged.
func (a Address) Qualify(repo string) string {
	if a.IsZero() {
		return repo
	}
	return a.String() + "/" + repo
}

// Local is Qualify's inverse: ref without the registry's HOST:PORT[/PREFIX]/, and whether ref was
// named in it. The zero Address names nothing.
func (a Address) Local(ref string) (string, bool) {
	if a.IsZero() {
		return ref, false
	}
	return strings.CutPrefix(ref, a.String()+"/")
}

// Path is the repository's name in the registry's HTTP API: [PREFIX/]repo.
func (a Address) Path(repo string) string {
	if a.Prefix == "" {
		return repo
	}
	return a.Prefix + "/" + repo
}

// loopback reports whether the registry's host is a loopback address (or "localhost"): the engine
// speaks plain HTTP to those, and so does Client.
func (a Address) loopback() bool {
	host, _, err := net.SplitHostPort(a.Host)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ErrNoRegistry is returned for a registry call made without a registry.
var ErrNoRegistry = errors.New("no registry is configured")

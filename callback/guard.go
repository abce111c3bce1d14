// Package callback delivers execution records to the URLs tenants name, safely: a Guard refuses
// addresses inside the operator's network (loopback, private, link-local, cloud metadata, ...)
// unless the operator allows them, both when a URL is accepted and at every connection, after
// DNS resolution and on every redirect; a Sender posts a signed body through it.
package callback

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// MaxURLLength bounds a callback URL.
const MaxURLLength = 2048

// ErrRefused means a callback URL or address is not acceptable; the message says why.
var ErrRefused = errors.New("callback address refused")

// ErrResolve means a callback URL's host could not be looked up for a passing reason (a DNS
// server's failure or time-out): try again later. A host that does not exist is ErrRefused.
var ErrResolve = errors.New("callback host lookup failed")

// msgInside is the reason an address is refused. It does not name the address: a tenant must
// not learn the server's network through it.
const msgInside = "inside the server's network (loopback, private, link-local or reserved)"

// Guard decides which addresses callbacks may reach. Its zero value refuses every address
// forbidden below and allows the rest (the public internet).
type Guard struct {
	// Allow lists prefixes reachable even though forbidden by default (e.g. an operator's
	// internal receivers, or 127.0.0.0/8 in tests).
	Allow []netip.Prefix
	// Resolver resolves host names; nil uses net.DefaultResolver.
	Resolver interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	}
}

// forbidden are the prefixes a callback may not reach by default, besides what netip's
// predicates name (loopback, private, link-local, multicast, unspecified).
var forbidden = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated)
	netip.MustParsePrefix("2001::/32"),       // Teredo: carries an IPv4 address, obfuscated
}

// nat64 carries IPv4 addresses in its low 32 bits, 6to4 in its bits 16 to 47: they are judged as
// those addresses.
var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// Forbidden reports whether a is inside the operator's network by default: loopback, private
// (RFC 1918, fc00::/7: which holds AWS's fd00:ec2::254), link-local (169.254.0.0/16, holding the
// cloud metadata address, and fe80::/10), multicast, unspecified, or reserved.
// An address with a zone (fe80::1%eth0) is forbidden: zones belong to link-local addresses.
func Forbidden(a netip.Addr) bool {
	if a.Zone() != "" {
		return true
	}
	a = a.Unmap()
	switch b := a.As16(); {
	case a.Is6() && nat64.Contains(a):
		a = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	case a.Is6() && sixTo4.Contains(a):
		a = netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
	}
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() || !a.IsValid() {
		return true
	}
	for _, p := range forbidden {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Allowed reports whether a callback may connect to a: inside an allowed prefix, or not
// forbidden.
func (g *Guard) Allowed(a netip.Addr) bool {
	if a.Zone() != "" {
		return false
	}
	a = a.Unmap()
	for _, p := range g.Allow {
		if p.Contains(a) {
			return true
		}
	}
	return !Forbidden(a)
}

// ParseURL checks the form of a callback URL: absolute http or https, with a host, without a
// fragment, at most MaxURLLength bytes. Errors wrap ErrRefused.
func ParseURL(raw string) (*url.URL, error) {
	if len(raw) > MaxURLLength {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrRefused, MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: not a URL", ErrRefused)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: the scheme must be http or https", ErrRefused)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%w: no host", ErrRefused)
	}
	if strings.Contains(u.Host, "%") {
		return nil, fmt.Errorf("%w: an address with a zone", ErrRefused)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, fmt.Errorf("%w: a fragment is not sent to a server", ErrRefused)
	}
	return u, nil
}

// CheckURL checks raw's form (ParseURL) and that every address its host resolves to is allowed
// now. Delivery checks again at every connection: a host's addresses may change. Errors wrap
// ErrRefused, with the reason.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := ParseURL(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if !g.Allowed(a) {
			return fmt.Errorf("%w: %s resolves to an address %s", ErrRefused, host, msgInside)
		}
	}
	return nil
}

// resolve returns host's addresses: itself when it is an IP literal.
func (g *Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a}, nil
	}
	var r interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	} = net.DefaultResolver
	if g.Resolver != nil {
		r = g.Resolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	var dnsErr *net.DNSError
	switch {
	case err == nil && len(addrs) > 0:
		return addrs, nil
	case err == nil || (errors.As(err, &dnsErr) && dnsErr.IsNotFound):
		return nil, fmt.Errorf("%w: host %s does not resolve", ErrRefused, host)
	}
	return nil, fmt.Errorf("%w: %s: %w", ErrResolve, host, err)
}

// ParseAllow parses a list of CIDRs (or single addresses) separated by commas or spaces, as
// FAASPOT_CALLBACK_ALLOW holds them.
func ParseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a CIDR prefix or an address", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Zone() != "" {
			return nil, fmt.Errorf("%q has a zone", f)
		}
		if p.Addr().Is4In6() { // addresses are judged unmapped: so is the prefix
			if p.Bits() < 96 {
				return nil, fmt.Errorf("%q mixes IPv4-mapped and other addresses", f)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

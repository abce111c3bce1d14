package callback

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestForbidden(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.9.8.7", true},
		{"::1", true},
		{"10.1.2.3", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"192.168.1.1", true},
		{"169.254.169.254", true}, // cloud metadata
		{"fd00:ec2::254", true},   // AWS metadata over IPv6
		{"fe80::1", true},
		{"::ffff:127.0.0.1", true}, // IPv4-mapped loopback
		{"::ffff:169.254.169.254", true},
		{"64:ff9b::a9fe:a9fe", true}, // NAT64 of 169.254.169.254
		{"0.0.0.0", true},
		{"::", true},
		{"100.64.0.1", true},
		{"224.0.0.1", true},
		{"255.255.255.255", true},
		{"198.18.0.1", true},
		{"8.8.8.8", false},
		{"93.184.216.34", false},
		{"172.32.0.1", false},
		{"2606:4700::1111", false},
		{"64:ff9b::808:808", false},       // NAT64 of 8.8.8.8
		{"64:ff9b::a9fe:a9fe%eth0", true}, // a zone hides nothing
		{"64:ff9b::a00:1%1", true},
		{"fec0::1%1", true},
		{"2001:db8::1%x", true},
		{"2606:4700::1111%eth0", true},
		{"2002:a9fe:a9fe::1", true},   // 6to4 of 169.254.169.254
		{"2002:0808:0808::1", false},  // 6to4 of 8.8.8.8
		{"2001:0:4136:e378::1", true}, // Teredo
		{"::7f00:1", true},            // IPv4-compatible 127.0.0.1
	} {
		if got := Forbidden(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Forbidden(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

// fakeResolver answers from a map; it never sends a query.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range f[host] {
		out = append(out, netip.MustParseAddr(s))
	}
	switch {
	case host == "flaky.test":
		return nil, &net.DNSError{Err: "i/o timeout", Name: host, IsTimeout: true}
	case len(out) == 0:
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

func TestCheckURL(t *testing.T) {
	res := fakeResolver{
		"public.test":   {"93.184.216.34"},
		"internal.test": {"10.0.0.7"},
		"mixed.test":    {"93.184.216.34", "169.254.169.254"},
	}
	for _, tc := range []struct {
		name, url, allow, refusal string
	}{
		{name: "public host", url: "https://public.test/hook"},
		{name: "public literal", url: "http://93.184.216.34:8080/x?y=1"},
		{name: "private by DNS", url: "https://internal.test/", refusal: "internal.test resolves to an address inside"},
		{name: "one bad address of several", url: "https://mixed.test/", refusal: "resolves to an address inside"},
		{name: "zoned literal", url: "http://[64:ff9b::a9fe:a9fe%25lo]/latest/meta-data/", refusal: "zone"},
		{name: "metadata literal", url: "http://169.254.169.254/latest/meta-data/", refusal: "inside the server's network"},
		{name: "loopback literal", url: "http://127.0.0.1:9/", refusal: "127.0.0.1"},
		{name: "IPv6 loopback", url: "http://[::1]:9/", refusal: "::1"},
		{name: "allowed by the operator", url: "https://internal.test/", allow: "10.0.0.0/8"},
		{name: "allowed single address", url: "http://127.0.0.1:9/", allow: "127.0.0.1"},
		{name: "unknown host", url: "https://nowhere.test/", refusal: "does not resolve"},
		{name: "ftp", url: "ftp://public.test/", refusal: "scheme"},
		{name: "relative", url: "/hook", refusal: "scheme"},
		{name: "no host", url: "http:///x", refusal: "no host"},
		{name: "fragment", url: "https://public.test/#x", refusal: "fragment"},
		{name: "too long", url: "https://public.test/" + strings.Repeat("a", MaxURLLength), refusal: "longer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			allow, err := ParseAllow(tc.allow)
			if err != nil {
				t.Fatal(err)
			}
			g := &Guard{Allow: allow, Resolver: res}
			err = g.CheckURL(context.Background(), tc.url)
			if tc.refusal == "" {
				if err != nil {
					t.Fatalf("CheckURL: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.refusal) {
				t.Fatalf("CheckURL = %v, want a refusal naming %q", err, tc.refusal)
			}
			if strings.Contains(err.Error(), "10.0.0.7") || strings.Contains(err.Error(), "169.254") && !strings.Contains(tc.url, "169.254") {
				t.Errorf("the refusal names a resolved address: %v", err)
			}
		})
	}
	// A lookup that fails for a passing reason is not a refusal: try again later.
	err := (&Guard{Resolver: res}).CheckURL(context.Background(), "https://flaky.test/")
	if !errors.Is(err, ErrResolve) || errors.Is(err, ErrRefused) {
		t.Errorf("CheckURL with a DNS time-out = %v, want ErrResolve", err)
	}
}

func TestParseAllow(t *testing.T) {
	got, err := ParseAllow("127.0.0.0/8, 10.1.2.3 fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.0/8", "10.1.2.3/32", "fd00::/8"}
	if len(got) != len(want) {
		t.Fatalf("ParseAllow = %v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("prefix %d = %s, want %s", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "fe80::/10%eth0", "::ffff:0:0/64"} {
		if _, err := ParseAllow(bad); err == nil {
			t.Errorf("ParseAllow accepted %q", bad)
		}
	}
	if got, err := ParseAllow("::ffff:10.0.0.0/104"); err != nil || got[0].String() != "10.0.0.0/8" {
		t.Errorf("an IPv4-mapped prefix = %v, %v; want it as 10.0.0.0/8", got, err)
	}
}

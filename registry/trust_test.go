package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// viaLoopback is an HTTP client for srv (its TLS certificate trusted when it has one) that dials
// 127.0.0.1 at the port asked, whatever the host name: a registry named example.com, which is
// not loopback and is in httptest's certificate, served here.
func viaLoopback(srv *httptest.Server) *http.Client {
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}
	return &http.Client{Transport: tr}
}

// port is srv's port.
func port(srv *httptest.Server) string {
	_, p, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return p
}

// spy counts the requests it is sent and those that carried an Authorization header.
type spy struct {
	mu               sync.Mutex
	requests, authed int
}

func (s *spy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if r.Header.Get("Authorization") != "" {
		s.authed++
	}
	w.WriteHeader(http.StatusNotFound)
}

func (s *spy) counts() (requests, authed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.authed
}

// TestDigestChecked: a Docker-Content-Digest that is not sha256:<64 hex> goes into no URL.
func TestDigestChecked(t *testing.T) {
	for _, d := range []string{"", "sha256:aa", "sha256:" + strings.Repeat("A", 64), "sha512:" + strings.Repeat("a", 128),
		digestA + "/../../other", "sha256:" + strings.Repeat("a", 63) + "?"} {
		f := &fakeRegistry{allowDelete: true, tags: map[string]string{"faaspot/t-1/d-2:h1": d}}
		err := serve(t, f, "").DeleteManifest(t.Context(), "faaspot/t-1/d-2", "h1")
		if err == nil || !strings.Contains(err.Error(), "no sha256 digest") {
			t.Errorf("digest %q: DeleteManifest = %v, want an error", d, err)
		}
		if len(f.calls) != 1 {
			t.Errorf("digest %q: calls %q, want the HEAD only", d, f.calls)
		}
	}
}

// TestNoPlainHTTPOffLoopback: a registry that is not on loopback and answers HTTPS in plain
// HTTP is an error; no request, and so no credentials, goes to it in clear.
func TestNoPlainHTTPOffLoopback(t *testing.T) {
	f := &fakeRegistry{allowDelete: true, tags: map[string]string{"faaspot/t-1/d-2:h1": digestA}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	a, err := Parse("example.com:" + port(srv))
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(a, Credentials{Username: "u", Password: "secret"}, viaLoopback(srv))
	if err := c.DeleteManifest(t.Context(), "faaspot/t-1/d-2", "h1"); !errors.Is(err, errPlainHTTP) {
		t.Errorf("DeleteManifest = %v, want errPlainHTTP", err)
	}
	if len(f.calls) != 0 || len(f.tags) != 1 {
		t.Errorf("the registry got %q over plain HTTP, want nothing", f.calls)
	}
}

// TestTokenRealmChecked: the credentials go to a token realm on the registry's host name, over
// HTTPS, or over plain HTTP when the registry is on loopback; any other realm is refused before
// it is asked anything.
func TestTokenRealmChecked(t *testing.T) {
	tests := []struct {
		name  string
		tls   bool                                     // the registry is example.com over HTTPS, else 127.0.0.1 over HTTP
		realm func(reg, plain *httptest.Server) string // the challenge's realm
		ok    bool                                     // the token server is asked, with the credentials
	}{
		{name: "HTTPS on the registry's host", tls: true, ok: true,
			realm: func(reg, _ *httptest.Server) string { return "https://example.com:" + port(reg) + "/token" }},
		{name: "HTTPS on another host", tls: true,
			realm: func(reg, _ *httptest.Server) string { return "https://auth.example.com:" + port(reg) + "/token" }},
		{name: "plain HTTP on the registry's host, off loopback", tls: true,
			realm: func(_, plain *httptest.Server) string { return "http://example.com:" + port(plain) + "/token" }},
		{name: "plain HTTP on a loopback registry's host", ok: true,
			realm: func(reg, _ *httptest.Server) string { return reg.URL + "/token" }},
		{name: "another name of a loopback registry's host",
			realm: func(reg, _ *httptest.Server) string { return "http://localhost:" + port(reg) + "/token" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tokens, plain spy
			plainSrv := httptest.NewServer(&plain)
			defer plainSrv.Close()
			var realm string
			mux := http.NewServeMux()
			mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
				tokens.ServeHTTP(httptest.NewRecorder(), r)
				fmt.Fprint(w, `{"token": "tok"}`)
			})
			mux.HandleFunc("/v2/", func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer tok" {
					w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`",service="reg"`)
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				w.WriteHeader(http.StatusNotFound)
			})
			reg := httptest.NewUnstartedServer(mux)
			host := "127.0.0.1"
			if tt.tls {
				reg.StartTLS()
				host = "example.com"
			} else {
				reg.Start()
			}
			defer reg.Close()
			realm = tt.realm(reg, plainSrv)
			a, err := Parse(host + ":" + port(reg))
			if err != nil {
				t.Fatal(err)
			}
			err = NewClient(a, Credentials{Username: "u", Password: "secret"}, viaLoopback(reg)).DeleteManifest(t.Context(), "faaspot/t-1/d-2", "h1")
			if tt.ok != (err == nil) || (!tt.ok && !strings.Contains(fmt.Sprint(err), "token realm refused")) {
				t.Errorf("DeleteManifest = %v, want ok %v", err, tt.ok)
			}
			wantTokens := 0
			if tt.ok {
				wantTokens = 1
			}
			if n, authed := tokens.counts(); n != wantTokens || authed != wantTokens {
				t.Errorf("token server asked %d times (%d with credentials), want %d", n, authed, wantTokens)
			}
			if n, _ := plain.counts(); n != 0 {
				t.Errorf("the plain-HTTP server was asked %d times, want 0", n)
			}
		})
	}
}

// TestRedirectChecked: a redirect of a registry request is followed only where a token realm
// may be: plain HTTP off loopback and other hosts are refused, the credentials not sent.
func TestRedirectChecked(t *testing.T) {
	var plain, other spy
	plainSrv := httptest.NewServer(&plain)
	defer plainSrv.Close()
	f := &fakeRegistry{allowDelete: true, user: "u", pw: "secret", tags: map[string]string{"faaspot/t-1/d-2:h1": digestA}}
	var target string
	mux := http.NewServeMux()
	mux.Handle("/moved/", http.StripPrefix("/moved", f))
	mux.Handle("/other/", &other)
	mux.HandleFunc("/v2/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+r.URL.Path, http.StatusTemporaryRedirect)
	})
	reg := httptest.NewTLSServer(mux)
	defer reg.Close()
	a, _ := Parse("example.com:" + port(reg))
	c := NewClient(a, Credentials{Username: "u", Password: "secret"}, viaLoopback(reg))
	for _, to := range []string{"http://example.com:" + port(plainSrv), "https://other.example.com:" + port(reg) + "/other"} {
		target = to
		if err := c.DeleteManifest(t.Context(), "faaspot/t-1/d-2", "h1"); err == nil || !strings.Contains(err.Error(), "redirect refused") {
			t.Errorf("redirect to %s: DeleteManifest = %v, want it refused", to, err)
		}
	}
	if n, _ := plain.counts(); n != 0 {
		t.Errorf("the plain-HTTP server was asked %d times, want 0", n)
	}
	if n, _ := other.counts(); n != 0 {
		t.Errorf("the other host was asked %d times, want 0", n)
	}
	target = "https://example.com:" + port(reg) + "/moved"
	if err := c.DeleteManifest(t.Context(), "faaspot/t-1/d-2", "h1"); err != nil || len(f.tags) != 0 {
		t.Errorf("redirect on the registry's host over HTTPS: DeleteManifest = %v, tags left %v", err, f.tags)
	}
}

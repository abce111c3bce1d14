package integration

import (
	"bytes"
	"io"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// proxied returns env with each FAASPOT_URL naming a daemon of startNode replaced by the address
// of a proxy on 127.0.0.1 that sends every exchange through the validating transport: the CLI
// and the Python client, run as processes, are checked as the Go client is. The proxy stops
// when t ends.
func (c *openAPICheck) proxied(t testing.TB, env []string) []string {
	if c == nil {
		return env
	}
	out := slices.Clone(env)
	for i, kv := range out {
		base, ok := strings.CutPrefix(kv, "FAASPOT_URL=")
		c.mu.Lock()
		known, proxy := c.nodes[base], c.proxies[base]
		c.mu.Unlock()
		if !ok || !known {
			continue
		}
		if proxy == "" {
			proxy = c.startProxy(t, base)
		}
		out[i] = "FAASPOT_URL=" + proxy
	}
	return out
}

// startProxy starts a reverse proxy to the daemon at base whose requests go through
// http.DefaultTransport (validating), their bodies kept so that they are validated too.
func (c *openAPICheck) startProxy(t testing.TB, base string) string {
	target, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{FlushInterval: -1, Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = target.Host
		if b, err := io.ReadAll(pr.In.Body); err == nil && len(b) > 0 {
			pr.Out.Body, pr.Out.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
			pr.Out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		}
	}}
	srv := httptest.NewServer(rp) // listens on 127.0.0.1
	c.mu.Lock()
	c.proxies[base] = srv.URL
	c.mu.Unlock()
	t.Cleanup(func() {
		srv.Close()
		c.mu.Lock()
		delete(c.proxies, base)
		c.mu.Unlock()
	})
	return srv.URL
}

package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/daemon"
)

// edgeAdminToken is long enough for the daemon's check (32 characters at least).
const edgeAdminToken = "edge-admin-token-0123456789abcdef0123456789"

// startEdgeNode starts an API-only daemon (no workers: nothing runs) on 127.0.0.1:0 over the
// suite's Redis, with short HTTP timeouts, and returns its base URL.
func startEdgeNode(t *testing.T) string {
	t.Helper()
	cfg := daemon.DefaultConfig()
	cfg.Listen, cfg.RedisURL, cfg.Role = "127.0.0.1:0", env.redisURL, daemon.RoleAPI
	cfg.KeyPrefix = fmt.Sprintf("edge%d:", time.Now().UnixNano())
	cfg.AdminToken, cfg.SecretKeyFile = edgeAdminToken, env.keyFile
	cfg.NodeID, cfg.BaseImage = "it-"+faaspot.NewID()[:12], env.baseImage
	cfg.HTTPReadTimeout, cfg.HTTPIdleTimeout = time.Second, time.Second
	logs := &syncBuffer{}
	d := daemon.New(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Open(ctx); err != nil {
		t.Fatalf("open daemon: %v", err)
	}
	t.Cleanup(func() {
		_ = d.Close()
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	})
	return d.Addr()
}

// TestEdgeHTTP attacks a daemon the way an unauthenticated client could: junk methods and paths
// must not grow /metrics, slow and idle connections are cut off, admin-token guesses are
// limited, and a short admin token is refused at start-up.
func TestEdgeHTTP(t *testing.T) {
	addr := startEdgeNode(t)
	t.Run("junk requests add no series", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 9))
		junk := func(n int) { // 405s on known routes, 404s on random paths
			for i := range n {
				method := strings.Repeat(string(rune('A'+rng.IntN(26))), 2048) + fmt.Sprint(rng.Int())
				path := []string{"/v1/deployments", "/healthz", fmt.Sprintf("/x%d/%d", rng.Int(), rng.Int())}[i%3]
				code := rawRequest(t, addr, method+" "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
				if code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
					t.Fatalf("%.10s… %s = %d, want 404 or 405", method, path, code)
				}
			}
		}
		junk(3)
		httpSeries(t, addr) // the scrape itself is counted once it is answered
		before := httpSeries(t, addr)
		junk(30)
		if after := httpSeries(t, addr); after != before {
			t.Errorf("30 requests with 2 KB methods grew the faaspot_http_* lines of /metrics from %d to %d", before, after)
		}
	})
	t.Run("trickled body cut off", func(t *testing.T) {
		c := dialTCP(t, addr)
		fmt.Fprintf(c, "POST /v1/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Token %s\r\nContent-Length: 100\r\n\r\n", edgeAdminToken)
		sent := make(chan int, 1)
		go func() {
			n := 0
			for ; n < 100; n++ {
				if _, err := c.Write([]byte{' '}); err != nil {
					break
				}
				time.Sleep(200 * time.Millisecond) // the attack's pace: 100 bytes would take 20 s
			}
			sent <- n
		}()
		waitClosed(t, c)
		_ = c.Close()
		if n := <-sent; n >= 100 {
			t.Errorf("the server read all %d trickled bytes", n)
		}
	})
	t.Run("idle keep-alive closed", func(t *testing.T) {
		c := dialTCP(t, addr)
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("healthz over keep-alive: %v %v", resp, err)
		}
		waitClosed(t, c)
	})
	t.Run("admin token guesses limited", func(t *testing.T) {
		n := &node{url: "http://" + addr}
		for i := range 10 {
			if a := n.raw(t, http.MethodGet, "/v1/tenants", "", fmt.Sprintf("guess-%d", i)); a.status != http.StatusUnauthorized {
				t.Fatalf("guess %d: %d, want 401", i, a.status)
			}
		}
		a := n.raw(t, http.MethodGet, "/v1/tenants", "", "guess-again")
		if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
			t.Errorf("11th guess: %d, Retry-After %q; want 429 with Retry-After", a.status, a.header.Get("Retry-After"))
		}
	})
	t.Run("short admin token refused", func(t *testing.T) {
		cfg := daemon.DefaultConfig()
		cfg.AdminToken = "it-admin-token"
		err := daemon.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil))).Open(context.Background())
		if err == nil || !strings.Contains(err.Error(), "FAASPOT_ADMIN_TOKEN") {
			t.Errorf("Open with a 14-character admin token = %v, want an error naming FAASPOT_ADMIN_TOKEN", err)
		}
	})
}

// dialTCP connects to addr; the connection is closed when the test ends.
func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitClosed reads c until the server closes it; 10 s is a hang guard, far above the node's
// 1 s timeouts.
func waitClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept the connection open")
	}
}

// rawRequest sends text as one request on a new connection and returns the answer's status.
func rawRequest(t *testing.T, addr, text string) int {
	t.Helper()
	c := dialTCP(t, addr)
	defer c.Close()
	if _, err := io.WriteString(c, text); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("answer: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// httpSeries counts the faaspot_http_* sample lines of the node's /metrics.
func httpSeries(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "faaspot_http_") {
			n++
		}
	}
	return n
}

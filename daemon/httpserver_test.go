package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveHTTP serves h with newHTTPServer(cfg) on 127.0.0.1:0 until the test ends; it returns the
// address.
func serveHTTP(t *testing.T, cfg Config, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(cfg, h)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return ln.Addr().String()
}

// dial connects to addr; the connection is closed when the test ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// awaitClose reads from c until the server closes it, failing the test if that takes longer than
// hang (a guard, not a timing assumption). It returns how long it waited.
func awaitClose(t *testing.T, c net.Conn, hang time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(hang))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %v", hang)
	}
	return time.Since(start)
}

// httpTestConfig is DefaultConfig with the given read and idle timeouts.
func httpTestConfig(read, idle time.Duration) Config {
	cfg := DefaultConfig()
	cfg.HTTPReadTimeout, cfg.HTTPIdleTimeout = read, idle
	return cfg
}

func TestHTTPServerCutsTrickledBody(t *testing.T) {
	const size = 100 // bytes announced; trickled at 1 per 200 ms they would take 20 s
	readErr := make(chan error, 1)
	addr := serveHTTP(t, httpTestConfig(time.Second, time.Minute), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
	}))
	c := dial(t, addr)
	if _, err := fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size); err != nil {
		t.Fatal(err)
	}
	sent := make(chan int, 1)
	go func() { // trickle until the server hangs up
		n := 0
		for ; n < size; n++ {
			if _, err := c.Write([]byte{'x'}); err != nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		sent <- n
	}()
	awaitClose(t, c, 10*time.Second)
	select {
	case err := <-readErr:
		if err == nil {
			t.Error("the handler read the whole trickled body")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler is still reading the body")
	}
	_ = c.Close()
	if n := <-sent; n >= size {
		t.Errorf("the client trickled all %d bytes", n)
	}
}

func TestHTTPServerClosesIdleConnection(t *testing.T) {
	const idle = time.Second
	addr := serveHTTP(t, httpTestConfig(time.Minute, idle), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	c := dial(t, addr)
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		t.Fatal("the server did not keep the connection alive")
	}
	// The connection now idles: the server closes it once the idle timeout has passed.
	if waited := awaitClose(t, c, 10*time.Second); waited < idle/2 {
		t.Errorf("closed after %v, before the idle timeout of %v", waited, idle)
	}
}

func TestHTTPServerClosesSilentConnection(t *testing.T) {
	addr := serveHTTP(t, httpTestConfig(time.Second, time.Minute), http.NotFoundHandler())
	c := dial(t, addr)
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n"); err != nil { // headers never end
		t.Fatal(err)
	}
	awaitClose(t, c, 10*time.Second)
}

// TestHTTPServerLongWait checks that a handler that waits longer than the read timeout once it
// has read its body (a sync run, a build wait) still answers, its context alive.
func TestHTTPServerLongWait(t *testing.T) {
	const read = 500 * time.Millisecond
	addr := serveHTTP(t, httpTestConfig(read, time.Minute), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select {
		case <-r.Context().Done():
			http.Error(w, "cancelled", http.StatusServiceUnavailable)
		case <-time.After(3 * read):
			_, _ = w.Write(body)
		}
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/", strings.NewReader("args"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(got) != "args" {
		t.Errorf("answer = %d %q, want 200 \"args\"", resp.StatusCode, got)
	}
}

func TestNewHTTPServerTimeouts(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SyncWait, cfg.BuildWait, cfg.HTTPReadTimeout, cfg.HTTPIdleTimeout = time.Minute, 10*time.Minute, 30*time.Second, 90*time.Second
	srv := newHTTPServer(cfg, http.NotFoundHandler())
	if srv.ReadTimeout != 30*time.Second || srv.IdleTimeout != 90*time.Second || srv.ReadHeaderTimeout != 10*time.Second {
		t.Errorf("read %v, idle %v, header %v", srv.ReadTimeout, srv.IdleTimeout, srv.ReadHeaderTimeout)
	}
	// The answer is due after the body (30 s), the longest wait (the build's 10 min) and the margin.
	if want := 30*time.Second + 10*time.Minute + httpWriteMargin; srv.WriteTimeout != want {
		t.Errorf("write timeout %v, want %v", srv.WriteTimeout, want)
	}
	cfg.SyncWait, cfg.BuildWait, cfg.HTTPReadTimeout = 15*time.Minute, time.Minute, 2*time.Second
	srv = newHTTPServer(cfg, http.NotFoundHandler())
	if want := 2*time.Second + 15*time.Minute + httpWriteMargin; srv.WriteTimeout != want {
		t.Errorf("write timeout with a long sync wait %v, want %v", srv.WriteTimeout, want)
	}
	if srv.ReadHeaderTimeout != 2*time.Second {
		t.Errorf("header timeout %v, want the shorter read timeout", srv.ReadHeaderTimeout)
	}
}

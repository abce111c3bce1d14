package callback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/faaspot/faaspot"
)

// maxRedirects bounds the redirects one delivery follows.
const maxRedirects = 5

// Sender posts signed callbacks. Every connection it opens is checked by its Guard once the
// address is resolved (so neither DNS nor a redirect can lead it inside the server's network),
// and it never uses a proxy. It follows only redirects that keep the method and the body (307,
// 308), at most maxRedirects, never from https to http; any other redirect is the answer (a
// 3xx: not delivered, not retried).
type Sender struct {
	client *http.Client
}

// NewSender returns a Sender whose attempts each end within timeout.
func NewSender(g *Guard, timeout time.Duration) *Sender {
	d := &net.Dialer{Timeout: timeout, Control: func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: cannot parse the address %q", ErrRefused, address)
		}
		if !g.Allowed(ap.Addr()) {
			return fmt.Errorf("%w: the address is %s", ErrRefused, msgInside)
		}
		return nil
	}}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	return &Sender{client: &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: checkRedirect}}
}

func checkRedirect(req *http.Request, via []*http.Request) error {
	if code := req.Response.StatusCode; code != http.StatusTemporaryRedirect && code != http.StatusPermanentRedirect {
		return http.ErrUseLastResponse // a 301, 302 or 303 would turn the POST into a GET
	}
	switch prev := via[len(via)-1].URL.Scheme; {
	case len(via) >= maxRedirects:
		return fmt.Errorf("%w: more than %d redirects", ErrRefused, maxRedirects)
	case req.URL.Scheme != "http" && req.URL.Scheme != "https":
		return fmt.Errorf("%w: redirected to a %s URL", ErrRefused, req.URL.Scheme)
	case prev == "https" && req.URL.Scheme == "http":
		return fmt.Errorf("%w: redirected from https to http", ErrRefused)
	case strings.Contains(req.URL.Host, "%"):
		return fmt.Errorf("%w: redirected to an address with a zone", ErrRefused)
	}
	return nil
}

// Result is the outcome of one delivery attempt.
type Result struct {
	// Status is the HTTP status answered (0: no answer, see Err).
	Status int
	// Err says why no answer came; it wraps ErrRefused when the guard refused the address.
	Err error
}

// Delivered reports whether the receiver accepted the callback (a 2xx answer).
func (r Result) Delivered() bool { return r.Status >= 200 && r.Status < 300 }

// Retry reports whether a later attempt may succeed: a 5xx, 408 or 429 answer, or no answer for
// another reason than a refused address. Other 4xx answers and refusals are final.
func (r Result) Retry() bool {
	if r.Err != nil {
		return !errors.Is(r.Err, ErrRefused)
	}
	return r.Status >= 500 || r.Status == http.StatusRequestTimeout || r.Status == http.StatusTooManyRequests
}

// Send POSTs body (JSON) to rawURL, signed at now with each of secrets (faaspot.HeaderSignature:
// one v1 each; at least one), with the extra headers given.
func (s *Sender) Send(ctx context.Context, rawURL string, secrets []string, body []byte, now time.Time, headers map[string]string) Result {
	u, err := ParseURL(rawURL)
	if err != nil {
		return Result{Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return Result{Err: fmt.Errorf("%w: %v", ErrRefused, err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "faaspot-callback/1")
	req.Header.Set(faaspot.HeaderSignature, faaspot.SignCallback(secrets[0], now, body, secrets[1:]...))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return Result{Err: err}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	_ = resp.Body.Close()
	return Result{Status: resp.StatusCode}
}

// Close closes the idle connections.
func (s *Sender) Close() { s.client.CloseIdleConnections() }

package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// ErrDeleteDisabled is DeleteManifest's error when the registry does not allow deletes (it
// answers 405 unless its configuration has storage.delete.enabled: true).
var ErrDeleteDisabled = errors.New("the registry does not allow deletes (storage.delete.enabled is not true)")

// manifestTypes are the manifests asked for: the engine pushes Docker's schema 2 (asking for it
// by name keeps a registry from converting it, which would answer another digest), newer engines
// OCI's.
const manifestTypes = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"

// digestPattern is the only manifest digest DeleteManifest puts in a URL.
var digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// Client speaks the Registry HTTP API v2 to the registry at an Address, with its Credentials
// (HTTP basic auth, or the bearer token a token server gives for them when the registry asks for
// one). A loopback registry (127.0.0.0/8, ::1, localhost) is spoken to over plain HTTP, as the
// engine does by default; any other only over HTTPS, never falling back to plain HTTP (its
// credentials would go in clear). The credentials go only to the registry's host (see
// checkTarget): a token realm or a redirect elsewhere is refused. It is safe for concurrent use.
type Client struct {
	addr  Address
	creds Credentials
	http  *http.Client
}

// requestTimeout bounds one request of the default client: a registry that hangs must not
// hold the janitor.
const requestTimeout = 30 * time.Second

// NewClient returns a Client of the registry at a; hc nil is an HTTP client whose requests time
// out after requestTimeout. The Client uses a copy of hc that refuses redirects checkTarget
// refuses (then hc's own CheckRedirect, if any, decides).
func NewClient(a Address, c Credentials, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: requestTimeout}
	}
	own := *hc
	cl := &Client{addr: a, creds: c, http: &own}
	next := hc.CheckRedirect
	own.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := cl.checkTarget(req.URL); err != nil {
			return fmt.Errorf("redirect refused: %w", err)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return cl
}

// checkTarget reports (an error) when u is no place for the registry's credentials: it must be
// on the registry's host name (any port), over HTTPS, or over plain HTTP when the registry is a
// loopback one. So a token realm or a redirect named by an answer of the registry (or of
// whoever answers in its place on a plain-HTTP path) cannot send the credentials to another
// host, or in clear off this machine.
func (c *Client) checkTarget(u *url.URL) error {
	host, _, err := net.SplitHostPort(c.addr.Host)
	if err != nil {
		host = c.addr.Host
	}
	switch {
	case !strings.EqualFold(u.Hostname(), host):
		return fmt.Errorf("%s is not on the registry's host %s", u.Redacted(), host)
	case u.Scheme == "https", u.Scheme == "http" && c.addr.loopback():
		return nil
	}
	return fmt.Errorf("%s is not HTTPS (plain HTTP only for a loopback registry)", u.Redacted())
}

// DeleteManifest deletes the manifest that tag names in repo (a repository name without the
// registry: Address.Path adds the prefix): it asks for its digest (HEAD, Docker-Content-Digest)
// and deletes it by digest, which removes every tag of it. A manifest the registry does not have
// is no error; ErrDeleteDisabled comes back when the registry refuses deletes. The blobs stay
// until the registry's own garbage collection.
func (c *Client) DeleteManifest(ctx context.Context, repo, tag string) error {
	if c == nil || c.addr.IsZero() {
		return ErrNoRegistry
	}
	name := c.addr.Path(repo)
	resp, err := c.do(ctx, http.MethodHead, "/v2/"+name+"/manifests/"+tag)
	if err != nil {
		return fmt.Errorf("manifest of %s:%s: %w", name, tag, err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("manifest of %s:%s: the registry answered %s", name, tag, resp.Status)
	}
	digest := resp.Header.Get("Docker-Content-Digest")
	if !digestPattern.MatchString(digest) {
		return fmt.Errorf("manifest of %s:%s: the registry gave no sha256 digest (%.80q)", name, tag, digest)
	}
	resp, err = c.do(ctx, http.MethodDelete, "/v2/"+name+"/manifests/"+digest)
	if err != nil {
		return fmt.Errorf("delete manifest %s@%s: %w", name, digest, err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusAccepted, http.StatusOK, http.StatusNotFound:
		return nil
	case http.StatusMethodNotAllowed:
		return fmt.Errorf("delete manifest %s@%s: %w", name, digest, ErrDeleteDisabled)
	}
	return fmt.Errorf("delete manifest %s@%s: the registry answered %s", name, digest, resp.Status)
}

// do sends one request for path, answering a bearer challenge once; the caller closes the body.
func (c *Client) do(ctx context.Context, method, path string) (*http.Response, error) {
	resp, err := c.send(ctx, method, path, "")
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	challenge := resp.Header.Get("WWW-Authenticate")
	resp.Body.Close()
	switch {
	case strings.HasPrefix(strings.ToLower(challenge), "bearer "):
	case c.creds.Username == "":
		return nil, errors.New("the registry asks for credentials, and none are configured")
	default:
		return nil, fmt.Errorf("the registry refused the credentials of %s", c.creds)
	}
	token, err := c.token(ctx, challenge)
	if err != nil {
		return nil, err
	}
	return c.send(ctx, method, path, "Bearer "+token)
}

// errPlainHTTP is send's error when a registry that is not on loopback answers HTTPS in plain
// HTTP: its credentials are not sent in clear.
var errPlainHTTP = errors.New("the registry answers in plain HTTP; faaspot speaks plain HTTP only to a loopback registry " +
	"(127.0.0.0/8, ::1, localhost), so as not to send credentials in clear: serve it over HTTPS")

// send sends one request, with basic auth unless authorization is given, over HTTP for a loopback
// registry, else HTTPS only (errPlainHTTP when the registry answers that in plain HTTP).
func (c *Client) send(ctx context.Context, method, path, authorization string) (*http.Response, error) {
	if c.addr.loopback() {
		return c.sendTo(ctx, "http", method, path, authorization)
	}
	resp, err := c.sendTo(ctx, "https", method, path, authorization)
	if err != nil && strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return nil, fmt.Errorf("%s: %w", c.addr.Host, errPlainHTTP)
	}
	return resp, err
}

func (c *Client) sendTo(ctx context.Context, scheme, method, path, authorization string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, scheme+"://"+c.addr.Host+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", manifestTypes)
	switch {
	case authorization != "":
		req.Header.Set("Authorization", authorization)
	case c.creds.Username != "":
		req.SetBasicAuth(c.creds.Username, c.creds.Password)
	}
	return c.http.Do(req)
}

// token gets a bearer token from the token server a challenge names (realm, service, scope),
// logged in with the credentials. A realm checkTarget refuses (another host, or plain HTTP off
// loopback) is an error, asked nothing.
func (c *Client) token(ctx context.Context, challenge string) (string, error) {
	params := parseChallenge(challenge[len("bearer "):])
	realm, err := url.Parse(params["realm"])
	if err != nil || (realm.Scheme != "https" && realm.Scheme != "http") {
		return "", fmt.Errorf("the registry's token realm %.200q is not a URL", params["realm"])
	}
	if err := c.checkTarget(realm); err != nil {
		return "", fmt.Errorf("the registry's token realm refused: %w", err)
	}
	q := realm.Query()
	for _, k := range []string{"service", "scope"} {
		if params[k] != "" {
			q.Set(k, params[k])
		}
	}
	realm.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, realm.String(), nil)
	if err != nil {
		return "", err
	}
	if c.creds.Username != "" {
		req.SetBasicAuth(c.creds.Username, c.creds.Password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("registry token: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("registry token: the token server answered %s", resp.Status)
	}
	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return "", fmt.Errorf("registry token: %w", err)
	}
	if t := cmp.Or(body.Token, body.AccessToken); t != "" {
		return t, nil
	}
	return "", errors.New("registry token: the token server gave none")
}

// parseChallenge reads the key="value" pairs of a WWW-Authenticate challenge.
func parseChallenge(s string) map[string]string {
	out := map[string]string{}
	for s != "" {
		key, rest, ok := strings.Cut(strings.TrimLeft(s, " ,"), "=")
		if !ok {
			break
		}
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := strings.Index(rest[1:], `"`)
			if end < 0 {
				break
			}
			val, s = rest[1:1+end], rest[2+end:]
		} else {
			val, s, _ = strings.Cut(rest, ",")
		}
		out[strings.ToLower(strings.TrimSpace(key))] = val
	}
	return out
}

package imagebuilder

import (
	"net/url"
	"regexp"
	"strings"
)

// urlUserinfo matches the user information (credentials) of a URL in text.
var urlUserinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s]+@`)

// RedactURL returns text with the credentials of every URL in it replaced by "***"
// ("https://***@host/simple"): for logging a setting such as the package index.
func RedactURL(text string) string { return urlUserinfo.ReplaceAllString(text, "${1}***@") }

// minSecret is the shortest credential replaced wherever it appears (shorter ones would mangle
// the log; they are still removed from every URL).
const minSecret = 3

// redactor removes a package index's credentials from text: from every URL (RedactURL), and
// the index's password, or its user name when it has no password (a token), wherever they
// appear, percent-encoded or not.
type redactor struct{ secrets []string }

// newRedactor returns the redactor of the index URL indexURL (none when it has no credentials).
func newRedactor(indexURL string) redactor {
	u, err := url.Parse(indexURL)
	if err != nil || u.User == nil {
		return redactor{}
	}
	secret, ok := u.User.Password()
	if !ok || secret == "" {
		secret = u.User.Username()
	}
	var r redactor
	for _, s := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
		if len(s) >= minSecret {
			r.secrets = append(r.secrets, s)
		}
	}
	return r
}

// text returns s without the credentials.
func (r redactor) text(s string) string {
	s = RedactURL(s)
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, "***")
	}
	return s
}

// buildError returns err with its message and log redacted when it is a *BuildError.
func (r redactor) buildError(err error) error {
	if be, ok := err.(*BuildError); ok {
		return &BuildError{Kind: be.Kind, Message: r.text(be.Message), Log: r.text(be.Log)}
	}
	return err
}

// redactedIndex is the index URL without its credentials, as image tags hash it: changing only
// the credentials rebuilds nothing, and no tag is derived from a secret.
func redactedIndex(indexURL string) string {
	u, err := url.Parse(indexURL)
	if err != nil || u.User == nil {
		return RedactURL(indexURL)
	}
	u.User = nil
	return u.String()
}

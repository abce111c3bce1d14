package registry

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Digests of the fake registry's manifests.
var (
	digestA = "sha256:" + strings.Repeat("a", 64)
	digestB = "sha256:" + strings.Repeat("b", 64)
)

// fakeRegistry is a Registry HTTP API v2 of manifests only: tags to digests, basic auth when user
// is set, and deletes refused (405) unless allowed.
type fakeRegistry struct {
	mu          sync.Mutex
	tags        map[string]string // "name:tag" -> digest
	allowDelete bool
	user, pw    string
	calls       []string
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	if u, p, _ := r.BasicAuth(); f.user != "" && (u != f.user || p != f.pw) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	name, ref, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/manifests/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodHead:
		if !strings.Contains(r.Header.Get("Accept"), "application/vnd.docker.distribution.manifest.v2+json") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		d, ok := f.tags[name+":"+ref]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Docker-Content-Digest", d)
	case http.MethodDelete:
		if !f.allowDelete {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		found := false
		for k, d := range f.tags {
			if d == ref && strings.HasPrefix(k, name+":") {
				delete(f.tags, k)
				found = true
			}
		}
		if !found {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func serve(t *testing.T, f *fakeRegistry, prefix string) *Client {
	t.Helper()
	srv := httptest.NewServer(f) // on 127.0.0.1
	t.Cleanup(srv.Close)
	a, err := Parse(strings.TrimPrefix(srv.URL, "http://") + prefix)
	if err != nil {
		t.Fatal(err)
	}
	return NewClient(a, Credentials{Username: f.user, Password: f.pw}, srv.Client())
}

func TestDeleteManifest(t *testing.T) {
	f := &fakeRegistry{allowDelete: true, user: "u", pw: "p", tags: map[string]string{
		"team/faaspot/t-1/d-2:h1": digestA, "team/faaspot/t-1/d-2:h2": digestB}}
	c := serve(t, f, "/team")
	if err := c.DeleteManifest(t.Context(), "faaspot/t-1/d-2", "h1"); err != nil {
		t.Fatalf("DeleteManifest = %v", err)
	}
	want := []string{"HEAD /v2/team/faaspot/t-1/d-2/manifests/h1", "DELETE /v2/team/faaspot/t-1/d-2/manifests/" + digestA}
	if fmt.Sprint(f.calls) != fmt.Sprint(want) {
		t.Errorf("calls %q, want %q", f.calls, want)
	}
	if _, ok := f.tags["team/faaspot/t-1/d-2:h1"]; ok || len(f.tags) != 1 {
		t.Errorf("tags left %v, want h2 only", f.tags)
	}
	// A manifest the registry does not have: nothing to do.
	if err := c.DeleteManifest(t.Context(), "faaspot/t-1/d-2", "h1"); err != nil {
		t.Errorf("DeleteManifest of a missing manifest = %v, want nil", err)
	}
	f.allowDelete = false
	if err := c.DeleteManifest(t.Context(), "faaspot/t-1/d-2", "h2"); !errors.Is(err, ErrDeleteDisabled) {
		t.Errorf("DeleteManifest on a registry without deletes = %v, want ErrDeleteDisabled", err)
	}
	bad := NewClient(c.addr, Credentials{Username: "u", Password: "wrong"}, c.http)
	if err := bad.DeleteManifest(t.Context(), "faaspot/t-1/d-2", "h2"); err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("DeleteManifest with bad credentials = %v, want an error without the password", err)
	}
}

// TestDeleteManifestBearer: a registry that asks for a bearer token gets one from its token
// server, logged in with the credentials.
func TestDeleteManifestBearer(t *testing.T) {
	f := &fakeRegistry{allowDelete: true, tags: map[string]string{"faaspot/t-1/d-2:h1": digestA}}
	var tokenURL string
	mux := http.NewServeMux()
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		if u, p, _ := r.BasicAuth(); u != "u" || p != "p" || r.URL.Query().Get("scope") != "repository:faaspot/t-1/d-2:delete" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"token": "tok"}`)
	})
	mux.HandleFunc("/v2/", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+tokenURL+`",service="reg",scope="repository:faaspot/t-1/d-2:delete"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		f.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tokenURL = srv.URL + "/token"
	a, _ := Parse(strings.TrimPrefix(srv.URL, "http://"))
	if err := NewClient(a, Credentials{Username: "u", Password: "p"}, srv.Client()).DeleteManifest(t.Context(), "faaspot/t-1/d-2", "h1"); err != nil {
		t.Fatalf("DeleteManifest = %v", err)
	}
	if len(f.tags) != 0 {
		t.Errorf("tags left %v", f.tags)
	}
}

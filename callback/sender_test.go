package callback

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
)

// receiver is an HTTP server on addr (a loopback address) answering status, counting requests.
type receiver struct {
	*httptest.Server
	hits atomic.Int32
	body atomic.Value
	sig  atomic.Value
}

func newReceiver(t *testing.T, addr string, handler func(w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	rv := &receiver{}
	rv.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rv.hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		rv.body.Store(b)
		rv.sig.Store(r.Header.Get(faaspot.HeaderSignature))
		handler(w, r)
	}))
	rv.Listener = ln
	rv.Start()
	t.Cleanup(rv.Close)
	return rv
}

func status(code int) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

func loopbackSender(t *testing.T, allow string) *Sender {
	t.Helper()
	prefixes, err := ParseAllow(allow)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSender(&Guard{Allow: prefixes}, 2*time.Second)
	t.Cleanup(s.Close)
	return s
}

func TestSendSigned(t *testing.T) {
	rv := newReceiver(t, "127.0.0.1:0", status(http.StatusNoContent))
	s := loopbackSender(t, "127.0.0.1/32")
	now := time.Now()
	body := []byte(`{"id":"e1","status":"completed"}`)
	res := s.Send(context.Background(), rv.URL+"/hook", []string{"k3y"}, body, now, map[string]string{"X-Extra": "1"})
	if !res.Delivered() || res.Err != nil {
		t.Fatalf("Send = %+v, want delivered", res)
	}
	got := rv.body.Load().([]byte)
	if err := faaspot.VerifyCallback("k3y", rv.sig.Load().(string), got, now, time.Minute); err != nil {
		t.Fatalf("the receiver's signature does not verify: %v", err)
	}
	if err := faaspot.VerifyCallback("other", rv.sig.Load().(string), got, now, time.Minute); err == nil {
		t.Fatal("the signature verifies with another secret")
	}
}

func TestSendRefusesForbiddenAddresses(t *testing.T) {
	rv := newReceiver(t, "127.0.0.1:0", status(http.StatusOK))
	s := loopbackSender(t, "") // loopback not allowed
	res := s.Send(context.Background(), rv.URL, []string{"k"}, []byte("{}"), time.Now(), nil)
	if !errors.Is(res.Err, ErrRefused) || res.Retry() {
		t.Fatalf("Send = %+v, want a final refusal", res)
	}
	if n := rv.hits.Load(); n != 0 {
		t.Fatalf("the receiver got %d requests", n)
	}
}

// A redirect to an address the guard refuses is refused when connecting: the second server
// never sees a request.
func TestSendChecksRedirects(t *testing.T) {
	inside := newReceiver(t, "127.0.0.2:0", status(http.StatusOK))
	outside := newReceiver(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inside.URL+"/steal", http.StatusTemporaryRedirect)
	})
	s := loopbackSender(t, "127.0.0.1/32")
	res := s.Send(context.Background(), outside.URL, []string{"k"}, []byte("{}"), time.Now(), nil)
	if !errors.Is(res.Err, ErrRefused) {
		t.Fatalf("Send = %+v, want a refusal", res)
	}
	if outside.hits.Load() != 1 || inside.hits.Load() != 0 {
		t.Fatalf("hits: first %d, redirect target %d; want 1 and 0", outside.hits.Load(), inside.hits.Load())
	}

	ftp := newReceiver(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://127.0.0.1/x", http.StatusTemporaryRedirect)
	})
	if res := s.Send(context.Background(), ftp.URL, []string{"k"}, []byte("{}"), time.Now(), nil); !errors.Is(res.Err, ErrRefused) {
		t.Fatalf("redirect to ftp: %+v, want a refusal", res)
	}
}

// A 301, 302 or 303 is not followed (it would turn the POST into a body-less GET): it is the
// answer, final and not delivered.
func TestSendDoesNotFollowMethodChangingRedirects(t *testing.T) {
	target := newReceiver(t, "127.0.0.1:0", status(http.StatusOK))
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther} {
		first := newReceiver(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL, code)
		})
		res := loopbackSender(t, "127.0.0.1/32").Send(context.Background(), first.URL, []string{"k"}, []byte("{}"), time.Now(), nil)
		if res.Status != code || res.Delivered() || res.Retry() {
			t.Errorf("a %d: %+v; want it as the final answer", code, res)
		}
	}
	if n := target.hits.Load(); n != 0 {
		t.Fatalf("the redirect target got %d requests", n)
	}
}

func TestCheckRedirect(t *testing.T) {
	req := func(raw string, code int) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, raw, nil)
		r.Response = &http.Response{StatusCode: code}
		return r
	}
	via := func(raw string) []*http.Request { return []*http.Request{req(raw, 0)} }
	for _, tc := range []struct {
		name    string
		next    *http.Request
		via     []*http.Request
		refused bool
	}{
		{"307 https to https", req("https://b.test/", 307), via("https://a.test/"), false},
		{"308 http to https", req("https://b.test/", 308), via("http://a.test/"), false},
		{"307 https to http", req("http://b.test/", 307), via("https://a.test/"), true},
		{"307 to a zoned address", req("http://[fe80::1%25eth0]/", 307), via("http://a.test/"), true},
		{"too many", req("https://b.test/", 307), append(via("https://a.test/"), via("https://a.test/")[0],
			via("https://a.test/")[0], via("https://a.test/")[0], via("https://a.test/")[0]), true},
	} {
		err := checkRedirect(tc.next, tc.via)
		if got := errors.Is(err, ErrRefused); got != tc.refused {
			t.Errorf("%s: %v, refused %v", tc.name, err, tc.refused)
		}
	}
	if err := checkRedirect(req("https://b.test/", 302), via("https://a.test/")); !errors.Is(err, http.ErrUseLastResponse) {
		t.Errorf("a 302: %v, want the response kept as the answer", err)
	}
}

// A redirect to an allowed address keeps the body and the signature (307).
func TestSendFollowsAllowedRedirects(t *testing.T) {
	final := newReceiver(t, "127.0.0.2:0", status(http.StatusOK))
	first := newReceiver(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, final.URL, http.StatusTemporaryRedirect)
	})
	s := loopbackSender(t, "127.0.0.0/8")
	now := time.Now()
	res := s.Send(context.Background(), first.URL, []string{"k"}, []byte(`{"a":1}`), now, nil)
	if !res.Delivered() {
		t.Fatalf("Send = %+v", res)
	}
	if err := faaspot.VerifyCallback("k", final.sig.Load().(string), final.body.Load().([]byte), now, time.Minute); err != nil {
		t.Fatalf("signature after the redirect: %v", err)
	}
}

func TestResultRetry(t *testing.T) {
	for _, tc := range []struct {
		res         Result
		retry, done bool
	}{
		{Result{Status: 200}, false, true},
		{Result{Status: 204}, false, true},
		{Result{Status: 400}, false, false},
		{Result{Status: 404}, false, false},
		{Result{Status: 408}, true, false},
		{Result{Status: 429}, true, false},
		{Result{Status: 500}, true, false},
		{Result{Status: 503}, true, false},
		{Result{Err: errors.New("connection refused")}, true, false},
		{Result{Err: ErrRefused}, false, false},
	} {
		if tc.res.Retry() != tc.retry || tc.res.Delivered() != tc.done {
			t.Errorf("%+v: Retry %v Delivered %v, want %v %v", tc.res, tc.res.Retry(), tc.res.Delivered(), tc.retry, tc.done)
		}
	}
}

func TestSendUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddrPort(ln.Addr().String())
	_ = ln.Close() // nothing listens there now
	s := loopbackSender(t, "127.0.0.1/32")
	res := s.Send(context.Background(), "http://"+addr.String()+"/", []string{"k"}, []byte("{}"), time.Now(), nil)
	if res.Err == nil || !res.Retry() {
		t.Fatalf("Send = %+v, want a retryable connection failure", res)
	}
}

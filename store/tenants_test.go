package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

func TestTenants(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock(t0)
	s := mustOpenStore(t, store.Options{Now: clock.Now})
	acme, token := mustCreateTenant(t, s, "acme")
	clock.Advance(time.Minute)
	other, otherToken := mustCreateTenant(t, s, "other")

	if acme.ID == "" || acme.Name != "acme" || !acme.CreatedAt.Equal(t0) {
		t.Errorf("tenant = %+v, want created at %v", acme, t0)
	}
	if !other.CreatedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("second tenant created at %v, want a minute later", other.CreatedAt)
	}
	if !strings.HasPrefix(token, "fs_") || len(token) < 32 {
		t.Errorf("token %q is not a long random fs_ token", token)
	}
	if acme.ID == other.ID || token == otherToken {
		t.Error("two tenants share an id or a token")
	}

	lookups := []struct {
		name    string
		token   string
		want    faaspot.Tenant
		wantErr error
	}{
		{name: "first tenant", token: token, want: acme},
		{name: "second tenant", token: otherToken, want: other},
		{name: "unknown token", token: "fs_" + strings.Repeat("0", 64), wantErr: store.ErrNotFound},
		{name: "empty token", token: "", wantErr: store.ErrNotFound},
		{name: "hash of a token used as token", token: store.HashToken(token), wantErr: store.ErrNotFound},
		{name: "token with a suffix", token: token + "x", wantErr: store.ErrNotFound},
	}
	for _, tt := range lookups {
		t.Run("by token/"+tt.name, func(t *testing.T) {
			got, err := tenantByToken(ctx, s, tt.token)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("TenantByToken = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (got.ID != tt.want.ID || got.Name != tt.want.Name || !got.CreatedAt.Equal(tt.want.CreatedAt)) {
				t.Errorf("TenantByToken = %+v, want %+v", got, tt.want)
			}
		})
	}

	t.Run("by name", func(t *testing.T) {
		got, err := s.TenantByName(ctx, "acme")
		if err != nil || got.ID != acme.ID {
			t.Errorf("TenantByName(acme) = %+v, %v", got, err)
		}
		if _, err := s.TenantByName(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TenantByName(nobody) = %v, want ErrNotFound", err)
		}
	})

	t.Run("duplicate name", func(t *testing.T) {
		_, tok, err := s.CreateTenant(ctx, "acme")
		if !errors.Is(err, store.ErrExists) || tok != "" {
			t.Fatalf("CreateTenant(acme) again = %q, %v; want ErrExists", tok, err)
		}
		// The first tenant is untouched.
		if got, err := tenantByToken(ctx, s, token); err != nil || got.ID != acme.ID {
			t.Errorf("first tenant after the duplicate: %+v, %v", got, err)
		}
	})

	t.Run("tokens are stored only hashed", func(t *testing.T) {
		for _, tok := range []string{token, otherToken} {
			secret := strings.TrimPrefix(tok, "fs_")
			for _, text := range allText(t, s.mr) {
				if strings.Contains(text, secret) {
					t.Errorf("the clear token is stored: %q", text)
				}
			}
			if !s.mr.Exists(s.TokenKey("") + store.HashToken(tok)) {
				t.Errorf("no key for the token's hash")
			}
		}
	})
}

// TestTokensAndTenantDeletion: issue, list, revoke; deleting a tenant revokes every token and
// removes every key it owned, leaving other tenants untouched.
func TestTokensAndTenantDeletion(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock(t0)
	s := mustOpenStore(t, store.Options{Now: clock.Now})
	a, first := mustCreateTenant(t, s, "acme")
	b, other := mustCreateTenant(t, s, "other")
	mustPut(t, s, a.ID, spec("fn", "code", map[string]any{"k": "v"}))
	mustPut(t, s, b.ID, spec("fn", "code", nil))

	clock.Advance(time.Minute)
	id, second, err := s.IssueToken(ctx, a.ID)
	if err != nil || second == first || len(second) != 67 {
		t.Fatalf("IssueToken = %s %q %v", id, second, err)
	}
	toks, err := s.ListTokens(ctx, a.ID)
	if err != nil || len(toks) != 2 || !toks[0].CreatedAt.Equal(t0) || toks[1].ID != id || !toks[1].CreatedAt.Equal(clock.Now()) {
		t.Fatalf("ListTokens = %+v %v; want the first token, then %s a minute later", toks, err, id)
	}
	if err := s.RevokeToken(ctx, a.ID, id); err != nil {
		t.Fatal(err)
	}
	if _, err := tenantByToken(ctx, s, second); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoked token resolves: %v", err)
	}
	if err := s.RevokeToken(ctx, a.ID, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second revoke: %v", err)
	}

	deps, err := s.DeleteTenant(ctx, a.ID)
	if err != nil || len(deps) != 1 || deps[0].Name != "fn" {
		t.Fatalf("DeleteTenant = %+v %v", deps, err)
	}
	if _, err := tenantByToken(ctx, s, first); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the deleted tenant's token resolves: %v", err)
	}
	for _, k := range s.mr.Keys() {
		if strings.Contains(k, a.ID) {
			t.Errorf("key %s of the deleted tenant remains", k)
		}
	}
	if _, err := tenantByToken(ctx, s, other); err != nil {
		t.Errorf("the other tenant lost its token: %v", err)
	}
	if _, err := s.GetDeployment(ctx, b.ID, "fn"); err != nil {
		t.Errorf("the other tenant lost its deployment: %v", err)
	}
	if ts, _ := s.ListTenants(ctx); len(ts) != 1 || ts[0].Name != "other" {
		t.Errorf("ListTenants = %+v", ts)
	}
}

// TestCreateTenantRace: of concurrent creates of one name exactly one wins; the others get
// ErrExists and write nothing (one tenant record, one token).
func TestCreateTenantRace(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	const tries = 8
	errs := make(chan error, tries)
	for range tries {
		go func() {
			_, _, err := s.CreateTenant(ctx, "acme")
			errs <- err
		}()
	}
	won := 0
	for range tries {
		switch err := <-errs; {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrExists):
			t.Errorf("CreateTenant = %v, want nil or ErrExists", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d creates of one name won", won)
	}
	var records, tokens int
	for _, k := range s.mr.Keys() {
		switch {
		case strings.HasPrefix(k, s.prefix+"tenant:"):
			records++
		case strings.HasPrefix(k, s.prefix+"token:"):
			tokens++
		}
	}
	if records != 1 || tokens != 1 {
		t.Errorf("%d tenant records and %d tokens after one create: %v", records, tokens, s.mr.Keys())
	}
}

// tenantByToken resolves a token with no default rate.
func tenantByToken(ctx context.Context, s *testStore, token string) (faaspot.Tenant, error) {
	t, _, err := s.Authenticate(ctx, token, 0)
	return t, err
}

// TestAuthenticateRate: the request-rate bucket lives in Redis, so every API node (here two
// stores on one Redis) draws from the same one; the tenant's own quota overrides the default;
// other tenants are not touched; rate 0 means no limit. The bucket reads Redis' TIME, which the
// test sets (miniredis SetTime): the amounts below are exact.
func TestAuthenticateRate(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	peer, err := store.New(s.rdb, s.options(store.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	acme, token := mustCreateTenant(t, s, "acme")
	_, other := mustCreateTenant(t, s, "other")
	now := t0
	s.mr.SetTime(now)
	const rate = 5 // a burst of 10
	allowed := 0
	for i := range 20 {
		node := []*store.Store{s.Store, peer}[i%2]
		got, wait, err := node.Authenticate(ctx, token, rate)
		if err != nil || got.ID != acme.ID {
			t.Fatalf("Authenticate = %+v, %v", got, err)
		}
		if wait == 0 {
			allowed++
		} else if wait != time.Second/rate {
			t.Errorf("request %d waits %v, want a token's time (%v)", i, wait, time.Second/rate)
		}
	}
	if allowed != 10 {
		t.Errorf("%d of 20 requests at once allowed across two nodes, want the burst of 10", allowed)
	}
	if ttl := s.mr.TTL(s.TenantKey(acme.ID, "rate")); ttl != 3*time.Second {
		t.Errorf("bucket TTL = %v, want the time to refill it plus 1 s (3s)", ttl)
	}
	if _, wait, _ := s.Authenticate(ctx, other, rate); wait != 0 {
		t.Errorf("another tenant waits %v", wait)
	}
	if _, wait, err := s.Authenticate(ctx, token, 0); err != nil || wait != 0 {
		t.Errorf("no rate quota at all, with the bucket empty: wait %v, %v; want no limit", wait, err)
	}

	// 20 ms refill a tenth of a token at the default rate, 20 tokens at the tenant's own.
	now = now.Add(20 * time.Millisecond)
	s.mr.SetTime(now)
	if _, wait, _ := s.Authenticate(ctx, token, rate); wait == 0 {
		t.Errorf("20 ms after the burst, at %d/s, the tenant does not wait", rate)
	}
	if err := s.SetQuotas(ctx, acme.ID, faaspot.Quotas{RequestsPerSecond: 1000}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(20 * time.Millisecond)
	s.mr.SetTime(now)
	if _, wait, _ := s.Authenticate(ctx, token, rate); wait != 0 {
		t.Errorf("with its own quota of 1000/s the tenant still waits %v", wait)
	}

	// An idle tenant's bucket expires: it starts full again.
	s.mr.FastForward(3 * time.Second)
	if s.mr.Exists(s.TenantKey(acme.ID, "rate")) {
		t.Error("the bucket outlives its TTL")
	}
}

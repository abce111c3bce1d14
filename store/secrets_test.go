package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/faaspot/faaspot/store"
)

// TestContextEncryptedAtRest: the context is sealed with AES-256-GCM under the store's key, with a
// fresh nonce per write, bound to its record, and opens only with the right key and record.
func TestContextEncryptedAtRest(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	const secret = "s3cr3t-value-canary"
	mustPut(t, s, tn.ID, spec("fn", "code", map[string]any{"password": secret}))
	mustPut(t, s, tn.ID, spec("fn", "code", map[string]any{"password": secret}))

	v1, _ := s.mr.Get(s.TenantKey(tn.ID, "ctx:fn:1"))
	v2, _ := s.mr.Get(s.TenantKey(tn.ID, "ctx:fn:2"))
	for _, k := range s.mr.Keys() {
		if v, err := s.mr.Get(k); err == nil && strings.Contains(v, secret) {
			t.Errorf("key %s holds the secret in clear", k)
		}
	}
	if v1 == "" || v1 == v2 || v1[0] != 1 {
		t.Errorf("sealed values must be versioned and differ per write (fresh nonce): %q %q", v1, v2)
	}
	got, err := s.LoadContext(ctx, tn.ID, "fn", 1)
	if err != nil || !strings.Contains(string(got), secret) {
		t.Fatalf("LoadContext = %s, %v", got, err)
	}

	// Moved to another record, it does not open (associated data binds tenant, name, version).
	if err := s.mr.Set(s.TenantKey(tn.ID, "ctx:fn:2"), v1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadContext(ctx, tn.ID, "fn", 2); !errors.Is(err, store.ErrSecretKey) {
		t.Errorf("a context moved to another version opened: %v", err)
	}

	// Under another key, it does not open.
	other, err := store.New(s.rdb, s.options(store.Options{SecretKey: []byte(strings.Repeat("x", store.KeySize))}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.LoadContext(ctx, tn.ID, "fn", 1); !errors.Is(err, store.ErrSecretKey) {
		t.Errorf("a context opened under another key: %v", err)
	}
	if _, err := store.New(nil, withTestDefaults(store.Options{SecretKey: []byte("short")})); err == nil {
		t.Error("a short key was accepted")
	}
}

package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/faaspot/faaspot/store"
)

// TestCreateTenantWithToken: a token issued by one store creates the same tenant name on a fresh
// store and resolves to it there; the token is kept only as its hash; a taken name, a token that
// already names a tenant and a short or spaced token are refused with nothing written.
func TestCreateTenantWithToken(t *testing.T) {
	ctx := context.Background()
	_, token := mustCreateTenant(t, mustOpenStore(t, store.Options{}), "dev")

	fresh := mustOpenStore(t, store.Options{})
	dev, err := fresh.CreateTenantWithToken(ctx, "dev", token)
	if err != nil || dev.Name != "dev" || dev.ID == "" {
		t.Fatalf("CreateTenantWithToken = %+v, %v", dev, err)
	}
	if got, err := tenantByToken(ctx, fresh, token); err != nil || got.ID != dev.ID {
		t.Errorf("the given token resolves to %+v, %v; want tenant %s", got, err, dev.ID)
	}
	if toks, err := fresh.ListTokens(ctx, dev.ID); err != nil || len(toks) != 1 {
		t.Errorf("tokens of the tenant = %+v, %v; want the given one only", toks, err)
	}
	for _, v := range allText(t, fresh.mr) {
		if strings.Contains(v, token) {
			t.Fatalf("the token is stored in clear: %q", v)
		}
	}
	before := len(fresh.mr.Keys())
	refused := []struct {
		name, tenant, token string
		exists              bool
	}{
		{name: "name taken", tenant: "dev", token: "fs_" + strings.Repeat("a", 64), exists: true},
		{name: "token names a tenant already", tenant: "other", token: token, exists: true},
		{name: "short token", tenant: "other", token: "fs_short"},
		{name: "token with a space", tenant: "other", token: "fs_" + strings.Repeat("a", 32) + " b"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fresh.CreateTenantWithToken(ctx, tt.tenant, tt.token)
			if err == nil || errors.Is(err, store.ErrExists) != tt.exists {
				t.Errorf("CreateTenantWithToken = %v; want an error, ErrExists %v", err, tt.exists)
			}
			if n := len(fresh.mr.Keys()); n != before {
				t.Errorf("%d keys after a refused create, want %d", n, before)
			}
		})
	}
}

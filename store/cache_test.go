package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// TestCacheAuthenticate: a token's tenant is served from memory, requests are taken from the rate
// quota in batches (a twentieth of a second's worth), and a revoked token, or a deleted tenant,
// stops authenticating as soon as the change is announced; entries expire after the TTL.
func TestCacheAuthenticate(t *testing.T) {
	ctx := context.Background()
	clk := newTestClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	s := mustOpenStore(t, store.Options{Now: clk.Now})
	tn, token := mustCreateTenant(t, s, "acme")
	c, dropped := s.NewCacheWatched(time.Second)
	defer c.Close()
	_, _, _ = s.Authenticate(ctx, token, 1000) // the script loaded
	before := s.mr.CommandCount()
	_, _, _ = s.Authenticate(ctx, token, 1000)
	perLookup := s.mr.CommandCount() - before // the script and what it calls
	before = s.mr.CommandCount()
	for i := range 10 {
		got, wait, err := c.Authenticate(ctx, token, 100) // 100/s: batches of 5
		if err != nil || wait != 0 || got.ID != tn.ID {
			t.Fatalf("request %d: %+v, %v, %v", i, got, wait, err)
		}
	}
	if n := s.mr.CommandCount() - before; n != 2*perLookup {
		t.Errorf("10 requests at 100/s cost %d commands, want %d (two lookups, batches of 5)", n, 2*perLookup)
	}
	clk.Advance(2 * time.Second) // expired
	before = s.mr.CommandCount()
	if _, _, err := c.Authenticate(ctx, token, 100); err != nil || s.mr.CommandCount() == before {
		t.Fatalf("after the TTL: %v, %d commands; want a lookup", err, s.mr.CommandCount()-before)
	}
	toks, _ := s.ListTokens(ctx, tn.ID)
	if err := s.RevokeToken(ctx, tn.ID, toks[0].ID); err != nil {
		t.Fatal(err)
	}
	<-dropped
	if _, _, err := c.Authenticate(ctx, token, 100); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a revoked token = %v, want ErrNotFound at once", err)
	}
}

// TestCacheRunDeployment: a deployment is read once, then served from memory until a change of
// it is announced (a new version, a build's end, a deletion) or the TTL passes.
func TestCacheRunDeployment(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	c, dropped := s.NewCacheWatched(time.Hour)
	defer c.Close()
	spec := faaspot.DeploymentSpec{Name: "fn", Source: faaspot.Source{Code: "def main(a, c): pass"}}
	if _, _, err := s.PutDeployment(ctx, tn.ID, spec, 0); err != nil {
		t.Fatal(err)
	}
	<-dropped
	d, err := c.RunDeployment(ctx, tn.ID, "fn")
	if err != nil || d.Version != 1 {
		t.Fatalf("RunDeployment = %+v, %v", d, err)
	}
	before := s.mr.CommandCount()
	if d, _ := c.RunDeployment(ctx, tn.ID, "fn"); d.Version != 1 || s.mr.CommandCount() != before {
		t.Fatalf("a second read cost %d commands", s.mr.CommandCount()-before)
	}
	spec.Source.Code = "def main(a, c): return 2"
	if _, _, err := s.PutDeployment(ctx, tn.ID, spec, 0); err != nil {
		t.Fatal(err)
	}
	<-dropped
	if d, _ := c.RunDeployment(ctx, tn.ID, "fn"); d.Version != 2 {
		t.Fatalf("after a redeploy: version %d, want 2 at once", d.Version)
	}
	if _, err := s.DeleteDeployment(ctx, tn.ID, "fn"); err != nil {
		t.Fatal(err)
	}
	<-dropped
	if _, err := c.RunDeployment(ctx, tn.ID, "fn"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after a delete: %v, want ErrNotFound", err)
	}
}

// TestCacheOtherNode: a change made through another node's store (same Redis) reaches the cache
// by its announcement.
func TestCacheOtherNode(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	other, err := store.New(s.rdb, s.options(store.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	tn, token := mustCreateTenant(t, s, "acme")
	c, dropped := s.NewCacheWatched(time.Hour)
	defer c.Close()
	if _, _, err := c.Authenticate(ctx, token, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := other.DeleteTenant(ctx, tn.ID); err != nil {
		t.Fatal(err)
	}
	<-dropped // the other node's announcement
	if _, _, err := c.Authenticate(ctx, token, 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the token of a tenant deleted by another node = %v, want ErrNotFound", err)
	}
}

package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/faaspot/faaspot/store"
)

// TestMigrateLockOwned: the migration lock is renewed and released only by its owner: a node
// whose lock expired and was taken by another renews and deletes nothing.
func TestMigrateLockOwned(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	key := s.prefix + "{g}:migrating"
	if err := s.rdb.Set(ctx, key, "a", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.RenewLock(ctx, key, "a", time.Hour); err != nil || !ok {
		t.Fatalf("RenewLock by its owner = %v, %v; want renewed", ok, err)
	}
	if ttl := s.rdb.PTTL(ctx, key).Val(); ttl <= time.Minute {
		t.Errorf("TTL after renewal = %v, want about an hour", ttl)
	}
	release := s.HoldLock(ctx, key, "a", time.Hour)
	// Expired meanwhile and taken by another node.
	if err := s.rdb.Set(ctx, key, "b", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.RenewLock(ctx, key, "a", time.Hour); err != nil || ok {
		t.Errorf("RenewLock of another's lock = %v, %v; want refused", ok, err)
	}
	release()
	if v, err := s.rdb.Get(ctx, key).Result(); err != nil || v != "b" {
		t.Errorf("the other node's lock after release = %q, %v; want it kept", v, err)
	}
	if ttl := s.rdb.PTTL(ctx, key).Val(); ttl > time.Minute {
		t.Errorf("the other node's lock TTL = %v, want its own", ttl)
	}
	if err := s.rdb.Set(ctx, key, "a", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	s.HoldLock(ctx, key, "a", time.Hour)()
	if n := s.rdb.Exists(ctx, key).Val(); n != 0 {
		t.Errorf("the owner's lock after release exists (%d), want it deleted", n)
	}
}

package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Key layout migration. The layout (keys.go) has a version, kept in {p}{g}:layout. A store
// written under an earlier layout (the untagged one: {p}t:TID:..., {p}q:..., {p}tenants...) is
// moved to the current one by the first node that starts (EnsureGroups): it renames every key
// of the prefix that has an earlier name, then records the version. The renames never overwrite
// a key that has its new name already (RENAMENX; RESTORE without REPLACE), so running it again,
// or on two nodes at once, changes nothing more. Nodes of an earlier release must all be stopped
// before a node of this one starts: one of them would go on writing the earlier names.

// layoutVersion is the version of the key layout of keys.go.
const layoutVersion = "2"

// migrateLockTTL bounds how long a node migrating the layout keeps the others waiting, should it
// die meanwhile; the node renews its lock every third of it while it migrates (holdLock).
const migrateLockTTL = 5 * time.Minute

// ensureLayout migrates the keys to the current layout unless they are there already. A node
// finding another one migrating waits for it (or for its lock to expire) before going on. The
// lock holds a value of this call's own: it is renewed and released only while it holds that
// value (a node whose lock expired, however slow, never renews or deletes another node's).
func (s *Store) ensureLayout(ctx context.Context) error {
	lock, owner := s.k.p+"{g}:migrating", s.origin+":"+randomHex(8)
	for {
		v, err := s.rdb.Get(ctx, s.k.layout()).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return unavailable("read the key layout version", err)
		}
		if v == layoutVersion {
			return nil
		}
		took, err := s.rdb.SetNX(ctx, lock, owner, migrateLockTTL).Result()
		if err != nil {
			return unavailable("lock the key layout migration", err)
		}
		if took {
			release := s.holdLock(ctx, lock, owner, migrateLockTTL)
			err := s.migrateKeys(ctx)
			if err == nil {
				err = s.rdb.Set(ctx, s.k.layout(), layoutVersion, 0).Err()
			}
			release()
			if err != nil {
				return unavailable("migrate the key layout", err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// renewLockScript sets the TTL of the lock KEYS[1] to ARGV[2] ms while it holds ARGV[1]; 1 when
// it did, 0 when the lock is another's or gone.
var renewLockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])`)

// releaseLockScript deletes the lock KEYS[1] while it holds ARGV[1]; 1 when it did.
var releaseLockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])`)

// renewLock sets the lock key's TTL to ttl while it holds owner; false when it does not.
func (s *Store) renewLock(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	n, err := renewLockScript.Run(ctx, s.rdb, []string{key}, owner, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("renew lock %s: %w", key, err)
	}
	return n == 1, nil
}

// holdLock renews the lock key, taken with the value owner and the TTL ttl, every third of ttl
// until the returned release is called, which stops renewing and deletes the lock while it
// still holds owner. A renewal failing (the lock expired and was taken by another node, or
// Redis did not answer) is not retried before the next tick: migrating twice at once is
// harmless (migrate.go), the lock only spares the work.
func (s *Store) holdLock(ctx context.Context, key, owner string, ttl time.Duration) (release func()) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(ttl / 3)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				_, _ = s.renewLock(ctx, key, owner, ttl)
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		_ = releaseLockScript.Run(context.WithoutCancel(ctx), s.rdb, []string{key}, owner).Err()
	}
}

// migrateKeys renames every key of the prefix that has an earlier layout's name.
func (s *Store) migrateKeys(ctx context.Context) error {
	return s.scanKeys(ctx, globEscape(s.k.p)+"*", func(c redis.UniversalClient, batch []string) error {
		for _, old := range batch {
			if to, ok := s.k.renamed(old); ok {
				if err := s.moveKey(ctx, old, to); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// moveKey gives the key old the name to unless a key has that name already. On one Redis a
// RENAMENX; across the slots of a Cluster (data imported from one Redis) a DUMP, RESTORE and DEL.
// A key gone meanwhile (another node moved it) is not an error.
func (s *Store) moveKey(ctx context.Context, old, to string) error {
	err := s.rdb.RenameNX(ctx, old, to).Err()
	if err == nil || strings.Contains(err.Error(), "no such key") {
		return nil
	}
	if !strings.HasPrefix(err.Error(), "CROSSSLOT") {
		return err
	}
	// The TTL before the value: a key expiring between the two is then found gone by DUMP,
	// never restored without its TTL (an execution record kept for good).
	ttl, err := s.rdb.PTTL(ctx, old).Result()
	if err != nil {
		return err
	}
	switch {
	case ttl == -2 || ttl == 0:
		return nil // gone, or expiring within the millisecond: RESTORE would keep it for good
	case ttl < 0:
		ttl = 0 // no expiry
	}
	dump, err := s.rdb.Dump(ctx, old).Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return err
	}
	err = s.rdb.Restore(ctx, to, ttl, dump).Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYKEY") {
		return err
	}
	return s.rdb.Del(ctx, old).Err()
}

// scanKeys calls fn with the keys matching pattern, in batches, on every master of a Cluster
// (c: the node's client) or on the one Redis.
func (s *Store) scanKeys(ctx context.Context, pattern string, fn func(c redis.UniversalClient, batch []string) error) error {
	scan := func(ctx context.Context, c redis.UniversalClient) error {
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		var batch []string
		for iter.Next(ctx) {
			if batch = append(batch, iter.Val()); len(batch) == 1000 {
				if err := fn(c, batch); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		return fn(c, batch)
	}
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	}
	return scan(ctx, s.rdb)
}

// renamed returns the current name of a key named under the earlier, untagged layout; false
// for a key of the current layout, or one that is not the store's.
func (k keys) renamed(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, k.p)
	if !ok || strings.ContainsAny(rest, "{}") {
		return "", false
	}
	if tid, ok := strings.CutPrefix(rest, "tenant:"); ok {
		return k.tenant(tid), true
	}
	if tid, ok := strings.CutPrefix(rest, "tokens:"); ok {
		return k.tokens(tid), true
	}
	if after, ok := strings.CutPrefix(rest, "t:"); ok {
		tid, tail, ok := strings.Cut(after, ":")
		if !ok || tid == "" {
			return "", false
		}
		return k.t(tid) + tail, true
	}
	if after, ok := strings.CutPrefix(rest, "q:"); ok {
		return k.q() + after, true
	}
	if consumer, ok := strings.CutPrefix(rest, "alive:"); ok {
		return k.alive(consumer), true
	}
	switch rest {
	case "tenants":
		return k.tenantNames(), true
	case "installation":
		return k.installation(), true
	}
	return "", false // {p}token:HASH keeps its name; anything else is not the store's
}

// globEscape escapes the characters SCAN's MATCH gives a meaning to.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
)

// Tenants and tokens over a Redis Cluster. A tenant's record and token list live in its slot
// ({tid}), its name in the store-wide slot ({g}), each token in a slot of its own (keys.go): the
// transactions that write them together on one Redis are, on a Cluster, single-slot steps in an
// order that leaves nothing usable half-made when a node dies between two of them.

// createTenantSplit writes a new tenant t with the token of hash: its record and token list
// ({tid}), the token (SET NX: ErrExists, after taking back what it wrote, when the token resolves
// to a tenant already), then its name (HSETNX: the one step deciding which create gets a name;
// the loser takes back what it wrote, ErrExists). A node dying before the name is written
// leaves a record and a token that nothing names: the token was never handed out, and no
// listing or lookup reaches the record. One round trip more than on one Redis.
func (s *Store) createTenantSplit(ctx context.Context, t faaspot.Tenant, hash string) error {
	taken, err := s.rdb.HExists(ctx, s.k.tenantNames(), t.Name).Result()
	if err != nil {
		return unavailable("create tenant", err)
	}
	if taken {
		return fmt.Errorf("tenant %q: %w", t.Name, ErrExists)
	}
	rec, _ := json.Marshal(tokenRecord{Hash: hash, CreatedAt: t.CreatedAt})
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.k.tenant(t.ID), "name", t.Name, "created_at", t.CreatedAt.Format(time.RFC3339Nano))
		p.HSet(ctx, s.k.tokens(t.ID), randomHex(6), rec)
		return nil
	})
	if err != nil {
		return unavailable("create tenant", err)
	}
	undo := func(keys ...string) {
		_ = s.rdb.Del(context.WithoutCancel(ctx), s.k.tenant(t.ID), s.k.tokens(t.ID)).Err()
		for _, k := range keys {
			_ = s.rdb.Del(context.WithoutCancel(ctx), k).Err()
		}
	}
	fresh, err := s.rdb.SetNX(ctx, s.k.token(hash), t.ID, 0).Result()
	if err != nil || !fresh {
		undo()
		if err != nil {
			return unavailable("create tenant", err)
		}
		return fmt.Errorf("token of tenant %q: %w", t.Name, ErrExists)
	}
	won, err := s.rdb.HSetNX(ctx, s.k.tenantNames(), t.Name, t.ID).Result()
	if err != nil || !won {
		undo(s.k.token(hash))
		if err != nil {
			return unavailable("create tenant", err)
		}
		return fmt.Errorf("tenant %q: %w", t.Name, ErrExists)
	}
	return nil
}

// issueTokenSplit lists the token first ({tid}), then makes it resolve (its own slot): a node
// dying between them leaves a listed token that resolves to nothing (never handed out; revoking
// it removes it). One round trip more than on one Redis.
func (s *Store) issueTokenSplit(ctx context.Context, tid string) (string, string, error) {
	token := "fs_" + randomHex(32)
	id := randomHex(6)
	rec, _ := json.Marshal(tokenRecord{Hash: HashToken(token), CreatedAt: s.now().UTC()})
	if err := s.rdb.HSet(ctx, s.k.tokens(tid), id, rec).Err(); err != nil {
		return "", "", unavailable("issue token", err)
	}
	if err := s.rdb.Set(ctx, s.k.token(HashToken(token)), tid, 0).Err(); err != nil {
		return "", "", unavailable("issue token", err)
	}
	return id, token, nil
}

// revokeTokenSplit makes the token unusable first (its slot), then unlists it ({tid}): a node
// dying between them leaves it listed but unusable, and revoking it again unlists it.
func (s *Store) revokeTokenSplit(ctx context.Context, tid, id, hash string) error {
	if err := s.rdb.Del(ctx, s.k.token(hash)).Err(); err != nil {
		return unavailable("revoke token", err)
	}
	if err := s.rdb.HDel(ctx, s.k.tokens(tid), id).Err(); err != nil {
		return unavailable("revoke token", err)
	}
	return nil
}

// authenticateSplit is authScript in two single-slot steps: the token's tenant id (a read of the
// token's slot), then authTenantScript in the tenant's slot. One round trip more than on one
// Redis, on the calls a Cache does not answer.
func (s *Store) authenticateSplit(ctx context.Context, hash string, defaultRate float64, want int) ([]any, error) {
	tid, err := s.rdb.Get(ctx, s.k.token(hash)).Result()
	if err != nil {
		return nil, err
	}
	return authTenantScript.Run(ctx, s.rdb, []string{s.k.tenant(tid), s.k.t(tid) + "rate"}, tid, defaultRate, want).Slice()
}

// deleteTenantSplit is DeleteTenant's removal over a Cluster, in single-slot steps whose order
// leaves a tenant that a second DeleteTenant finishes removing, should a node die midway: its
// tokens first (nothing can act for it any more), its queues ({q}), its data ({tid}, scanned on
// the node holding its slot) and token list, its name ({g}), and its record last. As long as
// the name stands the record stands too, so the admin API, which finds a tenant by its name,
// reaches a half-deleted one and deleting it again finishes. The name goes before the record,
// not after: a name left without its record would be found by nothing (TenantByName answers
// ErrNotFound) and would keep the name taken for good; a record left without its name (a node
// dying between the last two steps) holds no token, data or queue: a few fields that nothing
// reaches.
func (s *Store) deleteTenantSplit(ctx context.Context, tid, name string, hashes []string) error {
	if len(hashes) > 0 {
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, h := range hashes {
				p.Del(ctx, s.k.token(h))
			}
			return nil
		})
		if err != nil {
			return unavailable("delete tenant", err)
		}
	}
	if err := s.fault("delete tenant: queues"); err != nil {
		return err
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.k.runs(tid), s.k.builds(tid))
		p.SRem(ctx, s.k.runTenants(), tid)
		p.LRem(ctx, s.k.rr(), 0, tid)
		p.SRem(ctx, s.k.buildTenants(), tid)
		p.LRem(ctx, s.k.brr(), 0, tid)
		p.HDel(ctx, s.k.caps(), tid)
		return nil
	})
	if err != nil {
		return unavailable("delete tenant", err)
	}
	if err := s.fault("delete tenant: data"); err != nil {
		return err
	}
	if err := s.deleteTenantData(ctx, tid); err != nil {
		return err
	}
	if err := s.rdb.Del(ctx, s.k.tokens(tid)).Err(); err != nil {
		return unavailable("delete tenant", err)
	}
	if err := s.fault("delete tenant: name"); err != nil {
		return err
	}
	if err := delNameScript.Run(ctx, s.rdb, []string{s.k.tenantNames()}, name, tid).Err(); err != nil {
		return unavailable("delete tenant", err)
	}
	if err := s.fault("delete tenant: record"); err != nil {
		return err
	}
	if err := s.rdb.Del(ctx, s.k.tenant(tid)).Err(); err != nil {
		return unavailable("delete tenant", err)
	}
	return nil
}

// delNameScript deletes the tenant name ARGV[1] while it names the tenant ARGV[2]. KEYS: tenant
// names.
var delNameScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 1`)

// fault is nil but in tests, where it runs their hook before the named step: failing it as a
// node dying there would, or acting as another node in between.
func (s *Store) fault(step string) error {
	if s.stepFault == nil {
		return nil
	}
	return s.stepFault(step)
}

// deleteTenantData deletes every {p}t:{tid}: key, scanning the node that holds the tenant's slot
// (every Redis node on one Redis).
func (s *Store) deleteTenantData(ctx context.Context, tid string) error {
	node, err := s.nodeOf(ctx, s.k.t(tid))
	if err != nil {
		return unavailable("delete tenant data", err)
	}
	iter := node.Scan(ctx, 0, globEscape(s.k.t(tid))+"*", 500).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.rdb.Del(ctx, batch...).Err()
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 500 {
			if err := flush(); err != nil {
				return unavailable("delete tenant data", err)
			}
		}
	}
	if err := errors.Join(iter.Err(), flush()); err != nil {
		return unavailable("delete tenant data", err)
	}
	return nil
}

// nodeOf returns the client of the node holding key: the Cluster master of its slot, or the one
// Redis.
func (s *Store) nodeOf(ctx context.Context, key string) (redis.UniversalClient, error) {
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		return cc.MasterForKey(ctx, key)
	}
	return s.rdb, nil
}

package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
)

// minGivenTokenLen is the shortest token CreateTenantWithToken accepts; the tokens the store
// issues ("fs_" and 64 hex digits) are longer.
const minGivenTokenLen = 32

// CreateTenantWithToken creates a tenant with a unique name whose first token is token, one the
// store issued earlier and the caller kept (the daemon keeps its dev tenant's, so that the token
// survives a restart on a fresh embedded store). The store keeps only its hash, as for any token.
// ErrExists when the name is taken or the token already resolves to a tenant; a plain error,
// with nothing written, for a token shorter than 32 characters or holding white space. The
// name, the record and the token are written in one transaction: all of them or none (over a
// Redis Cluster, ordered single-slot steps: see createTenantSplit).
func (s *Store) CreateTenantWithToken(ctx context.Context, name, token string) (faaspot.Tenant, error) {
	if len(token) < minGivenTokenLen || strings.ContainsAny(token, " \t\r\n\v\f") {
		return faaspot.Tenant{}, errors.New("tenant token: want at least 32 characters and no white space")
	}
	t := faaspot.Tenant{ID: randomHex(8), Name: name, CreatedAt: s.now().UTC()}
	hash := HashToken(token)
	if s.cluster {
		if err := s.createTenantSplit(ctx, t, hash); err != nil {
			return faaspot.Tenant{}, err
		}
		return t, nil
	}
	err := s.watch(ctx, func(tx *redis.Tx) error {
		taken, err := tx.HExists(ctx, s.k.tenantNames(), name).Result()
		if err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("tenant %q: %w", name, ErrExists)
		}
		if n, err := tx.Exists(ctx, s.k.token(hash)).Result(); err != nil || n > 0 {
			if err == nil {
				err = fmt.Errorf("token of tenant %q: %w", name, ErrExists)
			}
			return err
		}
		rec, _ := json.Marshal(tokenRecord{Hash: hash, CreatedAt: t.CreatedAt})
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, s.k.tenantNames(), name, t.ID)
			p.HSet(ctx, s.k.tenant(t.ID), "name", t.Name, "created_at", t.CreatedAt.Format(time.RFC3339Nano))
			p.Set(ctx, s.k.token(hash), t.ID, 0)
			p.HSet(ctx, s.k.tokens(t.ID), randomHex(6), rec)
			return nil
		})
		return err
	}, s.k.tenantNames(), s.k.token(hash))
	if err != nil {
		return faaspot.Tenant{}, err
	}
	return t, nil
}

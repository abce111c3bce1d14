package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Tenant is an isolated customer of the platform.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// CreateTenant creates a tenant with a unique name and returns it with its first token. The token is
// returned only here; the store keeps its SHA-256 hash. ErrExists when the name is taken.
func (s *Store) CreateTenant(ctx context.Context, name string) (Tenant, string, error) {
	t := Tenant{ID: randomHex(8), Name: name, CreatedAt: s.now().UTC()}
	ok, err := s.rdb.HSetNX(ctx, s.k.tenantNames(), name, t.ID).Result()
	if err != nil {
		return Tenant{}, "", unavailable("create tenant", err)
	}
	if !ok {
		return Tenant{}, "", fmt.Errorf("tenant %q: %w", name, ErrExists)
	}
	token := "fs_" + randomHex(32)
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.k.tenant(t.ID), "name", t.Name, "created_at", t.CreatedAt.Format(time.RFC3339Nano))
		p.Set(ctx, s.k.token(HashToken(token)), t.ID, 0)
		return nil
	})
	if err != nil {
		s.rdb.HDel(context.WithoutCancel(ctx), s.k.tenantNames(), name)
		return Tenant{}, "", unavailable("create tenant", err)
	}
	return t, token, nil
}

// TenantByToken resolves a token to its tenant. ErrNotFound for an unknown token.
func (s *Store) TenantByToken(ctx context.Context, token string) (Tenant, error) {
	tid, err := s.rdb.Get(ctx, s.k.token(HashToken(token))).Result()
	if errors.Is(err, redis.Nil) {
		return Tenant{}, ErrNotFound
	}
	if err != nil {
		return Tenant{}, unavailable("resolve token", err)
	}
	return s.tenant(ctx, tid)
}

// TenantByName returns the tenant with that name. ErrNotFound when none.
func (s *Store) TenantByName(ctx context.Context, name string) (Tenant, error) {
	tid, err := s.rdb.HGet(ctx, s.k.tenantNames(), name).Result()
	if errors.Is(err, redis.Nil) {
		return Tenant{}, ErrNotFound
	}
	if err != nil {
		return Tenant{}, unavailable("find tenant", err)
	}
	return s.tenant(ctx, tid)
}

func (s *Store) tenant(ctx context.Context, tid string) (Tenant, error) {
	m, err := s.rdb.HGetAll(ctx, s.k.tenant(tid)).Result()
	if err != nil {
		return Tenant{}, unavailable("load tenant", err)
	}
	if len(m) == 0 {
		return Tenant{}, ErrNotFound
	}
	created, _ := time.Parse(time.RFC3339Nano, m["created_at"])
	return Tenant{ID: tid, Name: m["name"], CreatedAt: created}, nil
}

// HashToken is the form in which tokens are stored and looked up.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// randomHex returns n random bytes as hex. crypto/rand never fails on Linux.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewID returns a fresh random identifier (128 bits, hex), as used for executions.
func NewID() string { return randomHex(16) }

func itoa(v int) string { return strconv.Itoa(v) }

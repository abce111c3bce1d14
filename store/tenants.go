package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
)

// CreateTenant creates a tenant with a unique name and returns it with its first token. The token is
// returned only here; the store keeps its SHA-256 hash. ErrExists when the name is taken. The name,
// the record and the token are written in one transaction: all of them or none (over a Redis
// Cluster, ordered single-slot steps: see createTenantSplit).
func (s *Store) CreateTenant(ctx context.Context, name string) (faaspot.Tenant, string, error) {
	t := faaspot.Tenant{ID: randomHex(8), Name: name, CreatedAt: s.now().UTC()}
	if s.cluster {
		token := "fs_" + randomHex(32)
		if err := s.createTenantSplit(ctx, t, HashToken(token)); err != nil {
			return faaspot.Tenant{}, "", err
		}
		return t, token, nil
	}
	var token string
	err := s.watch(ctx, func(tx *redis.Tx) error {
		taken, err := tx.HExists(ctx, s.k.tenantNames(), name).Result()
		if err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("tenant %q: %w", name, ErrExists)
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, s.k.tenantNames(), name, t.ID)
			p.HSet(ctx, s.k.tenant(t.ID), "name", t.Name, "created_at", t.CreatedAt.Format(time.RFC3339Nano))
			_, token = s.addToken(ctx, p, t.ID)
			return nil
		})
		if err == nil && s.opts.MinReplicas > 0 {
			err = s.waitReplicas(ctx, tx) // the answer hands out the tenant's only token
		}
		return err
	}, s.k.tenantNames())
	if err != nil {
		return faaspot.Tenant{}, "", err
	}
	return t, token, nil
}

// authLua defines auth(tid, tkey, rkey, defrate, want): the tenant's {tenant id, tenant fields,
// wait, granted}, taking up to want tokens (at least one) from the tenant's request-rate bucket
// (rkey), shared by every API node: granted is how many it took (as many as the bucket holds, up
// to want; "0" with no rate), wait is "0", or, when it holds none, the seconds until it holds
// one again. The rate is the tenant's requests_per_second (in its record, tkey) when set, else
// defrate; the bucket holds two seconds' worth. authScript resolves a token hash and runs it in
// one round trip on one Redis; over a Cluster, authenticateSplit reads the token's tenant first.
const authLua = `
local function auth(tid, tkey, rkey, defrate, want)
  local fields = redis.call('HGETALL', tkey)
  local rate = tonumber(defrate) or 0
  for i = 1, #fields, 2 do
    if fields[i] == 'requests_per_second' then
      local r = tonumber(fields[i + 1])
      if r and r > 0 then rate = r end
    end
  end
  local wait, granted = 0, 0
  if rate > 0 and #fields > 0 then
    local t = redis.call('TIME')
    local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
    local burst = math.max(1, 2 * rate)
    local b = redis.call('HMGET', rkey, 'tokens', 'at')
    local tokens, at = tonumber(b[1]) or burst, tonumber(b[2]) or now
    tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
    if tokens >= 1 then
      granted = math.min(math.floor(tokens), math.max(1, tonumber(want) or 1))
      tokens = tokens - granted
    else
      wait = (1 - tokens) / rate
    end
    redis.call('HSET', rkey, 'tokens', tostring(tokens), 'at', tostring(now))
    redis.call('PEXPIRE', rkey, math.ceil(burst / rate * 1000) + 1000)
  end
  return {tid, fields, tostring(wait), tostring(granted)}
end
`

// authScript: KEYS: the token's key. ARGV: tenant record key prefix, default rate, tenant data
// key prefix, want; it builds the tenant's keys from its id (one Redis only).
var authScript = redis.NewScript(authLua + `
local tid = redis.call('GET', KEYS[1])
if not tid then return false end
return auth(tid, ARGV[1] .. tid .. '}', ARGV[3] .. tid .. '}:rate', ARGV[2], ARGV[4])`)

// authTenantScript is authScript's second step over a Cluster (authenticateSplit), in the
// tenant's slot. KEYS: tenant record, rate bucket. ARGV: tenant id, default rate, want.
var authTenantScript = redis.NewScript(authLua + `
return auth(ARGV[1], KEYS[1], KEYS[2], ARGV[2], ARGV[3])`)

// Authenticate resolves a token to its tenant and takes one request from the tenant's rate
// quota (its requests_per_second, else defaultRate; 0: no limit), counted in Redis so that every
// API node shares it, all in one round trip (it runs on every request). Over the rate, the tenant
// comes with the wait until the next request is allowed, and nothing else is done. ErrNotFound
// for an unknown token. When Redis refuses writes (out of memory), the tenant is resolved
// without taking from its rate quota: reads keep working, the rate limit degrades.
func (s *Store) Authenticate(ctx context.Context, token string, defaultRate float64) (faaspot.Tenant, time.Duration, error) {
	t, _, wait, err := s.authenticate(ctx, HashToken(token), defaultRate, 1)
	return t, wait, err
}

// authenticate is Authenticate of a token's hash taking up to want requests from the rate quota
// at once (a Cache's batch); granted says how many it took (0 without a rate, or over it).
func (s *Store) authenticate(ctx context.Context, hash string, defaultRate float64, want int) (faaspot.Tenant, int, time.Duration, error) {
	var res []any
	var err error
	if s.cluster {
		res, err = s.authenticateSplit(ctx, hash, defaultRate, want)
	} else {
		res, err = authScript.Run(ctx, s.rdb, []string{s.k.token(hash)},
			s.k.p+"tenant:{", defaultRate, s.k.p+"t:{", want).Slice()
	}
	if errors.Is(err, redis.Nil) {
		return faaspot.Tenant{}, 0, 0, ErrNotFound
	}
	if err != nil && outOfMemory(err) {
		// Redis refuses writes: the rate bucket cannot be taken from, but the tenant can still
		// read (and whatever needs no write). Authenticate without the rate limit.
		t, rerr := s.tenantOfHash(ctx, hash)
		return t, 0, 0, rerr
	}
	if err != nil {
		return faaspot.Tenant{}, 0, 0, unavailable("resolve token", err)
	}
	tid, _ := res[0].(string)
	fields, _ := res[1].([]any)
	m := make(map[string]string, len(fields)/2)
	for i := 0; i+1 < len(fields); i += 2 {
		k, _ := fields[i].(string)
		v, _ := fields[i+1].(string)
		m[k] = v
	}
	if len(m) == 0 {
		return faaspot.Tenant{}, 0, 0, ErrNotFound
	}
	waitS, _ := res[2].(string)
	wait, _ := strconv.ParseFloat(waitS, 64)
	grantedS, _ := res[3].(string)
	granted, _ := strconv.Atoi(grantedS)
	return tenantOf(tid, m), granted, time.Duration(wait * float64(time.Second)), nil
}

// tenantOfHash resolves a token's hash to its tenant with reads only. ErrNotFound for an
// unknown token.
func (s *Store) tenantOfHash(ctx context.Context, hash string) (faaspot.Tenant, error) {
	tid, err := s.rdb.Get(ctx, s.k.token(hash)).Result()
	if errors.Is(err, redis.Nil) {
		return faaspot.Tenant{}, ErrNotFound
	}
	if err != nil {
		return faaspot.Tenant{}, unavailable("resolve token", err)
	}
	return s.tenant(ctx, tid)
}

// TenantByName returns the tenant with that name. ErrNotFound when none.
func (s *Store) TenantByName(ctx context.Context, name string) (faaspot.Tenant, error) {
	tid, err := s.rdb.HGet(ctx, s.k.tenantNames(), name).Result()
	if errors.Is(err, redis.Nil) {
		return faaspot.Tenant{}, ErrNotFound
	}
	if err != nil {
		return faaspot.Tenant{}, unavailable("find tenant", err)
	}
	return s.tenant(ctx, tid)
}

func (s *Store) tenant(ctx context.Context, tid string) (faaspot.Tenant, error) {
	m, err := s.rdb.HGetAll(ctx, s.k.tenant(tid)).Result()
	if err != nil {
		return faaspot.Tenant{}, unavailable("load tenant", err)
	}
	if len(m) == 0 {
		return faaspot.Tenant{}, ErrNotFound
	}
	return tenantOf(tid, m), nil
}

func tenantOf(tid string, m map[string]string) faaspot.Tenant {
	created, _ := time.Parse(time.RFC3339Nano, m["created_at"])
	return faaspot.Tenant{ID: tid, Name: m["name"], CreatedAt: created, Quotas: quotasOf(m)}
}

type tokenRecord struct {
	Hash      string    `json:"hash"`
	CreatedAt time.Time `json:"created_at"`
}

// addToken queues the writes of a new token (256 random bits) and returns its id and value.
func (s *Store) addToken(ctx context.Context, p redis.Pipeliner, tid string) (string, string) {
	token := "fs_" + randomHex(32)
	id := randomHex(6)
	rec, _ := json.Marshal(tokenRecord{Hash: HashToken(token), CreatedAt: s.now().UTC()})
	p.Set(ctx, s.k.token(HashToken(token)), tid, 0)
	p.HSet(ctx, s.k.tokens(tid), id, rec)
	return id, token
}

// IssueToken gives the tenant a new token and returns its id and value.
func (s *Store) IssueToken(ctx context.Context, tid string) (string, string, error) {
	if s.cluster {
		return s.issueTokenSplit(ctx, tid)
	}
	var id, token string
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		id, token = s.addToken(ctx, p, tid)
		return nil
	})
	if err != nil {
		return "", "", unavailable("issue token", err)
	}
	return id, token, nil
}

// ListTokens returns the tenant's tokens (ids and dates only), oldest first.
func (s *Store) ListTokens(ctx context.Context, tid string) ([]faaspot.Token, error) {
	m, err := s.rdb.HGetAll(ctx, s.k.tokens(tid)).Result()
	if err != nil {
		return nil, unavailable("list tokens", err)
	}
	out := make([]faaspot.Token, 0, len(m))
	for id, v := range m {
		var rec tokenRecord
		if json.Unmarshal([]byte(v), &rec) == nil {
			out = append(out, faaspot.Token{ID: id, CreatedAt: rec.CreatedAt})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// RevokeToken makes a token unusable at once. ErrNotFound for an unknown id.
func (s *Store) RevokeToken(ctx context.Context, tid, id string) error {
	defer s.changedTenant(ctx, tid)
	v, err := s.rdb.HGet(ctx, s.k.tokens(tid), id).Result()
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("token %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return unavailable("revoke token", err)
	}
	var rec tokenRecord
	_ = json.Unmarshal([]byte(v), &rec)
	if s.cluster {
		return s.revokeTokenSplit(ctx, tid, id, rec.Hash)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.k.token(rec.Hash))
		p.HDel(ctx, s.k.tokens(tid), id)
		return nil
	})
	if err != nil {
		return unavailable("revoke token", err)
	}
	return nil
}

// ListTenants returns every tenant, sorted by name.
func (s *Store) ListTenants(ctx context.Context) ([]faaspot.Tenant, error) {
	m, err := s.rdb.HGetAll(ctx, s.k.tenantNames()).Result()
	if err != nil {
		return nil, unavailable("list tenants", err)
	}
	out := make([]faaspot.Tenant, 0, len(m))
	for _, tid := range m {
		if t, err := s.tenant(ctx, tid); err == nil {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DeleteTenant revokes the tenant's tokens first (nothing can act for it any more), then removes
// every key it owns, its run and build streams included (queued runs and builds are dropped; a
// run in flight finishes and its record expires; a build in flight finds its deployment gone). It returns the deployments it had, so the caller can remove their images.
func (s *Store) DeleteTenant(ctx context.Context, tid string) ([]faaspot.Deployment, error) {
	defer s.changedTenant(ctx, tid)
	t, err := s.tenant(ctx, tid)
	if err != nil {
		return nil, err
	}
	toks, err := s.rdb.HGetAll(ctx, s.k.tokens(tid)).Result()
	if err != nil {
		return nil, unavailable("delete tenant", err)
	}
	deps, err := s.ListDeployments(ctx, tid)
	if err != nil {
		return nil, err
	}
	if s.cluster {
		var hashes []string
		for _, v := range toks {
			var rec tokenRecord
			if json.Unmarshal([]byte(v), &rec) == nil {
				hashes = append(hashes, rec.Hash)
			}
		}
		return deps, s.deleteTenantSplit(ctx, tid, t.Name, hashes)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, v := range toks {
			var rec tokenRecord
			if json.Unmarshal([]byte(v), &rec) == nil {
				p.Del(ctx, s.k.token(rec.Hash))
			}
		}
		p.Del(ctx, s.k.tokens(tid), s.k.tenant(tid), s.k.runs(tid), s.k.builds(tid))
		p.HDel(ctx, s.k.tenantNames(), t.Name)
		p.SRem(ctx, s.k.runTenants(), tid)
		p.LRem(ctx, s.k.rr(), 0, tid)
		p.HDel(ctx, s.k.caps(), tid)
		p.SRem(ctx, s.k.buildTenants(), tid)
		p.LRem(ctx, s.k.brr(), 0, tid)
		return nil
	})
	if err != nil {
		return nil, unavailable("delete tenant", err)
	}
	iter := s.rdb.Scan(ctx, 0, s.k.t(tid)+"*", 500).Iterator()
	var batch []string
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 500 {
			if err := s.rdb.Del(ctx, batch...).Err(); err != nil {
				return deps, unavailable("delete tenant data", err)
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return deps, unavailable("delete tenant data", err)
	}
	if len(batch) > 0 {
		if err := s.rdb.Del(ctx, batch...).Err(); err != nil {
			return deps, unavailable("delete tenant data", err)
		}
	}
	return deps, nil
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

func itoa(v int) string { return strconv.Itoa(v) }

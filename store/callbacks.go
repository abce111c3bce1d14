package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
)

// Callbacks. A run's terminal record that carries a pending callback is scheduled for delivery
// in the same step that writes it (writeRunScript): the callbacks set holds "tid NUL id" by due
// time. A worker node takes the due ones with a lease (TakeCallbacks moves them lease ahead: a
// node that dies mid-delivery leaves them to be taken again), delivers them and settles each
// (SettleCallback): delivered or given up, it leaves the set; to retry, it is due again later.
// Delivery is therefore at least once: a receiver may see a callback twice, with the same
// execution id.

// CallbackJob names one callback to deliver: an execution of a tenant, and the lease under which
// it was taken (its due time while taken, in ms): settling it is refused once another node took
// it under a later lease.
type CallbackJob struct {
	Tenant, ID string
	Lease      int64
}

func (j CallbackJob) member() string { return j.Tenant + "\x00" + j.ID }

// takeCallbacksScript returns the members of the callbacks set due by ARGV[1] (ms), at most
// ARGV[2], and makes each due again at ARGV[3] (the lease's end). KEYS: callbacks set.
var takeCallbacksScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[3], m) end
return due`)

// TakeCallbacks returns up to n callbacks due by now, leased until now+lease: no other node
// takes them before, unless they are settled.
func (s *Store) TakeCallbacks(ctx context.Context, now time.Time, lease time.Duration, n int) ([]CallbackJob, error) {
	ms, err := takeCallbacksScript.Run(ctx, s.rdb, []string{s.k.callbacks()},
		now.UnixMilli(), n, now.Add(lease).UnixMilli()).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable("take callbacks", err)
	}
	jobs := make([]CallbackJob, 0, len(ms))
	for _, m := range ms {
		if tid, id, ok := strings.Cut(m, "\x00"); ok {
			jobs = append(jobs, CallbackJob{Tenant: tid, ID: id, Lease: now.Add(lease).UnixMilli()})
		}
	}
	return jobs, nil
}

// settleCallbackScript, while the callback is still under the lease ARGV[5] (its score in the
// callbacks set KEYS[2]: another node did not take it since), writes the record KEYS[1] (only if
// it still exists, keeping its TTL) and schedules the callback again at ARGV[2] (ms) when
// ARGV[3] is "1", else takes it out of the set; it returns 0 when the lease was lost. ARGV:
// record, due, again, member, lease.
var settleCallbackScript = redis.NewScript(`
if tonumber(redis.call('ZSCORE', KEYS[2], ARGV[4]) or '-1') ~= tonumber(ARGV[5]) then return 0 end
if ARGV[1] ~= '' and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SET', KEYS[1], ARGV[1], 'XX', 'KEEPTTL')
end
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
else
  redis.call('ZREM', KEYS[2], ARGV[4])
end
return 1`)

// SettleCallback records e's callback delivery (e.Callback) in its record, and schedules the
// next attempt at due while the delivery is pending; delivered or failed, the callback leaves
// the set. A record gone meanwhile (expired, trimmed, tenant deleted) is not written again.
// ErrLost, with nothing written, when another node took the callback since (job's lease
// passed).
func (s *Store) SettleCallback(ctx context.Context, job CallbackJob, e faaspot.Execution, due time.Time) error {
	if e.Callback == nil {
		return fmt.Errorf("settle callback of %s: the record has none", job.ID)
	}
	rec, err := encodeExecution(e)
	if err != nil {
		return fmt.Errorf("encode execution: %w", err)
	}
	return s.settle(ctx, job, string(rec), due, e.Callback.State == faaspot.CallbackPending)
}

// DropCallback takes a callback out of the set without writing a record: its execution is gone,
// or can never be delivered. ErrLost when another node took it since.
func (s *Store) DropCallback(ctx context.Context, job CallbackJob) error {
	return s.settle(ctx, job, "", time.Time{}, false)
}

func (s *Store) settle(ctx context.Context, job CallbackJob, rec string, due time.Time, again bool) error {
	if s.cluster {
		return s.settleSplit(ctx, job, rec, due, again)
	}
	n, err := settleCallbackScript.Run(ctx, s.rdb, []string{s.k.exec(job.Tenant, job.ID), s.k.callbacks()},
		rec, due.UnixMilli(), flag(again), job.member(), job.Lease).Int()
	if err != nil {
		return unavailable("settle callback", err)
	}
	if n == 0 {
		return ErrLost
	}
	return nil
}

// webhookSecretBytes is the entropy of a signing secret.
const webhookSecretBytes = 32

// webhookAD binds a sealed signing secret to its tenant.
func webhookAD(tid string) []byte { return []byte("webhook-secret\x00" + tid) }

// WebhookGrace is how long a rotated-out secret keeps signing callbacks beside the new one, so
// that receivers can switch without failing deliveries.
const WebhookGrace = 24 * time.Hour

// WebhookSecret returns the tenant's callback signing secret, made on first use. It is sealed
// at rest like contexts (ErrSecretKey when this node's key cannot open it). ErrNotFound when the
// tenant does not exist (no secret is made for it).
func (s *Store) WebhookSecret(ctx context.Context, tid string) (string, error) {
	secrets, err := s.SigningSecrets(ctx, tid)
	if err != nil {
		return "", err
	}
	return secrets[0], nil
}

// makeSecretScript stores the sealed secret ARGV[1] at KEYS[2] unless one is there, if the tenant
// KEYS[1] exists: 1 made, 0 there already, -1 no tenant.
var makeSecretScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('SET', KEYS[2], ARGV[1], 'NX') then return 1 end
return 0`)

// SigningSecrets returns the secrets that sign the tenant's callbacks: the current one (made on
// first use, as WebhookSecret), then the one it replaced, for WebhookGrace after a rotation.
func (s *Store) SigningSecrets(ctx context.Context, tid string) ([]string, error) {
	for {
		vals, err := s.rdb.MGet(ctx, s.k.webhookSecret(tid), s.k.webhookSecret(tid)+":previous").Result()
		if err != nil {
			return nil, unavailable("load webhook secret", err)
		}
		if cur, ok := vals[0].(string); ok {
			out, err := s.openSecrets(tid, cur, vals[1])
			return out, err
		}
		fresh := newWebhookSecret()
		n, err := makeSecretScript.Run(ctx, s.rdb, []string{s.k.tenant(tid), s.k.webhookSecret(tid)},
			s.secrets.seal([]byte(fresh), webhookAD(tid))).Int()
		switch {
		case err != nil:
			return nil, unavailable("store webhook secret", err)
		case n < 0:
			return nil, ErrNotFound
		case n == 1:
			return []string{fresh}, nil
		} // another request made it first: read it
	}
}

// openSecrets opens the sealed current secret and, when there is one, the previous.
func (s *Store) openSecrets(tid, cur string, prev any) ([]string, error) {
	var out []string
	for _, v := range []any{cur, prev} {
		sealed, ok := v.(string)
		if !ok {
			continue
		}
		plain, err := s.secrets.open([]byte(sealed), webhookAD(tid))
		if err != nil {
			return nil, fmt.Errorf("webhook secret of tenant %s: %w", tid, err)
		}
		out = append(out, string(plain))
	}
	return out, nil
}

// rotateSecretScript keeps the current secret KEYS[1] as the previous KEYS[2] for ARGV[2] ms and
// stores ARGV[1] as the current one.
var rotateSecretScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then redis.call('SET', KEYS[2], cur, 'PX', ARGV[2]) end
redis.call('SET', KEYS[1], ARGV[1])
return 1`)

// RotateWebhookSecret replaces the tenant's signing secret with a new one and returns it:
// callbacks are signed with it from now on, and also with the one it replaced for WebhookGrace.
func (s *Store) RotateWebhookSecret(ctx context.Context, tid string) (string, error) {
	fresh := newWebhookSecret()
	err := rotateSecretScript.Run(ctx, s.rdb, []string{s.k.webhookSecret(tid), s.k.webhookSecret(tid) + ":previous"},
		s.secrets.seal([]byte(fresh), webhookAD(tid)), WebhookGrace.Milliseconds()).Err()
	if err != nil {
		return "", unavailable("store webhook secret", err)
	}
	return fresh, nil
}

// newWebhookSecret returns a fresh secret: "whsec_" and 32 random bytes in hex.
func newWebhookSecret() string { return "whsec_" + randomHex(webhookSecretBytes) }

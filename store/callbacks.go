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

// CallbackJob names one callback to deliver: an execution of a tenant.
type CallbackJob struct {
	Tenant, ID string
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
			jobs = append(jobs, CallbackJob{Tenant: tid, ID: id})
		}
	}
	return jobs, nil
}

// settleCallbackScript writes the record KEYS[1] (only if it still exists, keeping its TTL) and
// schedules the callback again at ARGV[2] (ms) when ARGV[3] is "1", else takes it out of the
// callbacks set KEYS[2]. ARGV: record, due, again, member.
var settleCallbackScript = redis.NewScript(`
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

// DropCallback takes a callback out of the set without writing a record: its execution is gone.
func (s *Store) DropCallback(ctx context.Context, job CallbackJob) error {
	return s.settle(ctx, job, "", time.Time{}, false)
}

func (s *Store) settle(ctx context.Context, job CallbackJob, rec string, due time.Time, again bool) error {
	err := settleCallbackScript.Run(ctx, s.rdb, []string{s.k.exec(job.Tenant, job.ID), s.k.callbacks()},
		rec, due.UnixMilli(), flag(again), job.member()).Err()
	if err != nil {
		return unavailable("settle callback", err)
	}
	return nil
}

// webhookSecretBytes is the entropy of a signing secret.
const webhookSecretBytes = 32

// webhookAD binds a sealed signing secret to its tenant.
func webhookAD(tid string) []byte { return []byte("webhook-secret\x00" + tid) }

// WebhookSecret returns the tenant's callback signing secret, made on first use. It is sealed
// at rest like contexts (ErrSecretKey when this node's key cannot open it).
func (s *Store) WebhookSecret(ctx context.Context, tid string) (string, error) {
	b, err := s.rdb.Get(ctx, s.k.webhookSecret(tid)).Bytes()
	if errors.Is(err, redis.Nil) {
		fresh := newWebhookSecret()
		ok, err := s.rdb.SetNX(ctx, s.k.webhookSecret(tid), s.secrets.seal([]byte(fresh), webhookAD(tid)), 0).Result()
		if err != nil {
			return "", unavailable("store webhook secret", err)
		}
		if ok {
			return fresh, nil
		}
		return s.WebhookSecret(ctx, tid) // another request made it first
	}
	if err != nil {
		return "", unavailable("load webhook secret", err)
	}
	plain, err := s.secrets.open(b, webhookAD(tid))
	if err != nil {
		return "", fmt.Errorf("webhook secret of tenant %s: %w", tid, err)
	}
	return string(plain), nil
}

// RotateWebhookSecret replaces the tenant's signing secret with a new one and returns it: every
// callback signed from now on uses it.
func (s *Store) RotateWebhookSecret(ctx context.Context, tid string) (string, error) {
	fresh := newWebhookSecret()
	if err := s.rdb.Set(ctx, s.k.webhookSecret(tid), s.secrets.seal([]byte(fresh), webhookAD(tid)), 0).Err(); err != nil {
		return "", unavailable("store webhook secret", err)
	}
	return fresh, nil
}

// newWebhookSecret returns a fresh secret: "whsec_" and 32 random bytes in hex.
func newWebhookSecret() string { return "whsec_" + randomHex(webhookSecretBytes) }

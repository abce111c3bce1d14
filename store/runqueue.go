package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
)

// Run scheduling. Every tenant has its own run stream; workers take runs through claimScript,
// which visits tenants in round-robin order and skips a tenant already running its maximum of
// concurrent runs (its stream's pending entries: delivered, not yet acknowledged — so a crashed
// worker's runs still count until they are reclaimed). A tenant flooding its queue therefore
// delays another tenant's run by at most one turn of the rotation, never by its backlog. Idle
// workers block on a wake-up list pushed by every enqueue and every finished run: no polling.

// wakeKept caps the wake-up list: more tokens than workers would only cause empty claims.
const wakeKept = 64

// enqueueScript refuses a deleted tenant (-1) or a full queue (0) before writing anything.
var enqueueScript = redis.NewScript(`
local exec, execs, stream, tenants, rr, wake, tenant = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local rec, ttl, score, id, kept, tid, maxq, dep, sync, wakekept = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7]), ARGV[8], ARGV[9], tonumber(ARGV[10])
if redis.call('EXISTS', tenant) == 0 then return -1 end
local exists = redis.call('EXISTS', stream) == 1
if exists and maxq > 0 then
  local waiting = redis.call('XLEN', stream) - redis.call('XPENDING', stream, 'workers')[1]
  if waiting >= maxq then return 0 end
end
if not exists then
  redis.call('XGROUP', 'CREATE', stream, 'workers', '0', 'MKSTREAM')
end
if redis.call('SADD', tenants, tid) == 1 then
  redis.call('RPUSH', rr, tid)
end
redis.call('SET', exec, rec, 'PX', ttl)
redis.call('ZADD', execs, score, id)
redis.call('ZREMRANGEBYRANK', execs, 0, -kept - 1)
redis.call('XADD', stream, '*', 'tenant', tid, 'id', id, 'dep', dep, 'sync', sync)
redis.call('RPUSH', wake, 1)
redis.call('LTRIM', wake, -wakekept, -1)
return 1`)

// claimScript delivers the next run to a consumer, fairly across tenants (see above). ARGV:
// key prefix, consumer, default maximum of concurrent runs per tenant.
var claimScript = redis.NewScript(`
local prefix, consumer, defcap = ARGV[1], ARGV[2], tonumber(ARGV[3])
local rr = prefix .. 'q:rr'
for i = 1, redis.call('LLEN', rr) do
  local tid = redis.call('LMOVE', rr, rr, 'LEFT', 'RIGHT')
  local stream = prefix .. 'q:runs:' .. tid
  if redis.call('XLEN', stream) == 0 then
    -- Nothing queued or running: leave the rotation (the next enqueue puts the tenant back).
    redis.call('RPOP', rr)
    redis.call('SREM', prefix .. 'q:tenants', tid)
  else
    local cap = tonumber(redis.call('HGET', prefix .. 'tenant:' .. tid, 'max_concurrent_runs') or '0') or 0
    if cap <= 0 then cap = defcap end
    local ok, pending = pcall(redis.call, 'XPENDING', stream, 'workers')
    if ok and pending[1] < cap then
      local ok2, res = pcall(redis.call, 'XREADGROUP', 'GROUP', 'workers', consumer, 'COUNT', 1, 'STREAMS', stream, '>')
      if ok2 and res and res[1] and #res[1][2] > 0 then
        local e = res[1][2][1]
        return {tid, e[1], e[2]}
      end
    end
  end
end
return false`)

// EnqueueRun stores the queued execution, indexes it and queues the run in one atomic step: when
// it returns nil the run is durably queued. maxQueued > 0 bounds the tenant's runs waiting to
// start; over it, nothing is written and the error is a *QuotaError. With sync, the worker pushes
// the terminal record to the waiter (WaitExecution). ErrNotFound when the tenant was deleted.
func (s *Store) EnqueueRun(ctx context.Context, tid string, e faaspot.Execution, maxQueued int, sync bool) error {
	rec, err := encodeExecution(e)
	if err != nil {
		return fmt.Errorf("encode execution: %w", err)
	}
	syncFlag := "0"
	if sync {
		syncFlag = "1"
	}
	n, err := enqueueScript.Run(ctx, s.rdb,
		[]string{s.k.exec(tid, e.ID), s.k.execs(tid), s.k.runs(tid), s.k.runTenants(), s.k.rr(), s.k.wake(), s.k.tenant(tid)},
		rec, s.opts.ResultTTL.Milliseconds(), e.CreatedAt.UnixMilli(), e.ID, s.opts.ExecutionsKept, tid, maxQueued,
		e.Deployment, syncFlag, wakeKept).Int()
	switch {
	case err != nil:
		return unavailable("enqueue run", err)
	case n == -1:
		return fmt.Errorf("tenant %s: %w", tid, ErrNotFound)
	case n == 0:
		return &faaspot.QuotaError{What: "queued runs", Limit: float64(maxQueued)}
	}
	return nil
}

// nextRun claims the next run fairly; when none is claimable it blocks on the wake-up list for up
// to block and tries once more.
func (s *Store) nextRun(ctx context.Context, consumer string, block time.Duration) (*Job, error) {
	for attempt := 0; attempt < 2; attempt++ {
		res, err := claimScript.Run(ctx, s.rdb, []string{s.k.rr()}, s.k.p, consumer, s.opts.RunCap).Slice()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, unavailable("claim run", err)
		}
		if len(res) == 3 {
			return claimedJob(res), nil
		}
		if attempt == 0 {
			_, err := s.rdb.BLPop(ctx, block, s.k.wake()).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return nil, unavailable("wait for runs", err)
			}
		}
	}
	return nil, nil
}

// claimedJob turns the claim script's {tid, entry id, fields} into a Job.
func claimedJob(res []any) *Job {
	tid, _ := res[0].(string)
	id, _ := res[1].(string)
	values := map[string]any{}
	if fields, ok := res[2].([]any); ok {
		for i := 0; i+1 < len(fields); i += 2 {
			k, _ := fields[i].(string)
			values[k] = fields[i+1]
		}
	}
	j := parseJob(Runs, redis.XMessage{ID: id, Values: values})
	j.Tenant = tid
	return &j
}

// SetQuotas stores the tenant's quota overrides. ErrNotFound for an unknown tenant.
func (s *Store) SetQuotas(ctx context.Context, tid string, q faaspot.Quotas) error {
	if _, err := s.tenant(ctx, tid); err != nil {
		return err
	}
	err := s.rdb.HSet(ctx, s.k.tenant(tid),
		"max_concurrent_runs", q.MaxConcurrentRuns, "max_queued_runs", q.MaxQueuedRuns,
		"max_deployments", q.MaxDeployments, "requests_per_second", q.RequestsPerSecond).Err()
	if err != nil {
		return unavailable("set quotas", err)
	}
	return nil
}

func quotasOf(m map[string]string) faaspot.Quotas {
	num := func(k string) int { n, _ := strconv.Atoi(m[k]); return n }
	rps, _ := strconv.ParseFloat(m["requests_per_second"], 64)
	return faaspot.Quotas{MaxConcurrentRuns: num("max_concurrent_runs"), MaxQueuedRuns: num("max_queued_runs"),
		MaxDeployments: num("max_deployments"), RequestsPerSecond: rps}
}

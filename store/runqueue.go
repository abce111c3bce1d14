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

// Scheduling. Every tenant has its own run stream and its own build stream; workers take jobs
// through claimScript, which visits the tenants having a stream of the queue in round-robin order
// and skips a tenant already running its maximum of concurrent jobs of that queue (its stream's
// pending entries of live consumers: delivered, not yet acknowledged; a dead node's jobs do not
// count, see Liveness). A tenant flooding its queue therefore delays another tenant's job by at
// most one turn of the rotation, never by its backlog. Idle workers block on the queue's wake-up
// list, pushed by every enqueue and every finished job: no polling.

// wakeKept caps a wake-up list: more tokens than workers would only cause empty claims.
const wakeKept = 64

// lane holds the keys of one fairly scheduled queue and the default cap of a tenant's concurrent
// jobs in it; caps tells whether the caps hash overrides it per tenant.
type lane struct {
	q                               Queue
	streamPrefix, tenants, rr, wake string
	caps                            bool
	defCap                          int
}

// lane returns the scheduling keys of q.
func (s *Store) lane(q Queue) lane {
	if q == Builds {
		return lane{q: Builds, streamPrefix: s.k.builds(""), tenants: s.k.buildTenants(), rr: s.k.brr(),
			wake: s.k.bwake(), defCap: s.opts.BuildCap}
	}
	return lane{q: Runs, streamPrefix: s.k.runs(""), tenants: s.k.runTenants(), rr: s.k.rr(),
		wake: s.k.wake(), caps: true, defCap: s.opts.RunCap}
}

// laneLua defines what every script that queues a job on a tenant's stream does:
// admit(stream, maxq) is false when the stream already holds maxq jobs waiting to start (0: no
// bound), and otherwise creates the stream with its consumer group when missing; rotate(tenants,
// rr, tid) puts the tenant in the lane's round-robin when it is not there; wakeup(wake, kept)
// wakes one idle worker, the wake-up list capped at kept.
const laneLua = `
local function admit(stream, maxq)
  if redis.call('EXISTS', stream) == 1 then
    if maxq > 0 and redis.call('XLEN', stream) - redis.call('XPENDING', stream, 'workers')[1] >= maxq then
      return false
    end
  else
    redis.call('XGROUP', 'CREATE', stream, 'workers', '0', 'MKSTREAM')
  end
  return true
end
local function rotate(tenants, rr, tid)
  if redis.call('SADD', tenants, tid) == 1 then redis.call('RPUSH', rr, tid) end
end
local function wakeup(wake, kept)
  redis.call('RPUSH', wake, 1)
  redis.call('LTRIM', wake, -kept, -1)
end
`

// trimLua defines trim(execs, kept, tp): it drops the oldest executions of the tenant's index
// (execs) past kept, deleting their records, summaries and notifications (tp is the tenant's key
// prefix) and taking them out of their deployment's index, except those still queued or running:
// their worker would write the record again, so they stay until an enqueue after their end. It
// looks at 64 of them at most per call. A record that expired already is only unindexed.
const trimLua = `
local function trim(execs, kept, tp)
  local excess = redis.call('ZCARD', execs) - kept
  if excess <= 0 then return end
  for _, old in ipairs(redis.call('ZRANGE', execs, 0, math.min(excess, 64) - 1)) do
    local status = nil
    local raw = redis.call('GET', tp .. 'sum:' .. old) or redis.call('GET', tp .. 'exec:' .. old)
    if raw then
      local ok, v = pcall(cjson.decode, raw)
      if ok and type(v) == 'table' then status = v['status'] end
    end
    if status ~= 'queued' and status ~= 'running' then
      redis.call('DEL', tp .. 'exec:' .. old, tp .. 'sum:' .. old, tp .. 'done:' .. old)
      redis.call('ZREM', execs, old)
      local dep = redis.call('HGET', tp .. 'execdep', old)
      if dep then
        redis.call('ZREM', tp .. 'execsof:' .. dep, old)
        redis.call('HDEL', tp .. 'execdep', old)
      end
    end
  end
end
`

// admitRecordLua is the start of both ways of queueing a run (enqueueScript on one Redis, its
// first step enqueueRecordScript on a Cluster), over the same local names: it refuses a deleted
// tenant (-1), answers the execution an idempotency key gives, defines record() (the record, its
// summary, the indexes and the idempotency key, then the index trimmed), and parks the run of a
// deployment without a ready version (2; -2 failed, -3 gone, 0 a full parked list).
const admitRecordLua = `if redis.call('EXISTS', tenant) == 0 then return -1 end
if idemttl > 0 then
  local prev = redis.call('GET', idem)
  if prev then return prev end
end
local function record()
  if idemttl > 0 then redis.call('SET', idem, id, 'PX', idemttl) end
  redis.call('SET', exec, rec, 'PX', ttl)
  redis.call('SET', sum, summary, 'PX', ttl)
  redis.call('ZADD', execs, score, id)
  redis.call('ZADD', execsof, score, id)
  redis.call('HSET', execdep, id, dep)
  trim(execs, kept, tp)
end
if park == '1' then
  local raw = redis.call('GET', depkey)
  if not raw then return -3 end
  local ok, d = pcall(cjson.decode, raw)
  if not ok or type(d) ~= 'table' then return -3 end
  if (tonumber(d['ready_version']) or 0) == 0 then
    if d['status'] ~= 'building' then return -2 end
    if maxq > 0 and redis.call('LLEN', parked) >= maxq then return 0 end
    record()
    redis.call('RPUSH', parked, sync .. ':' .. id)
    return 2
  end
end
`

// enqueueScript refuses a deleted tenant (-1) or a full queue (0) before writing anything. With
// an idempotency key (ARGV[14] > 0: its TTL in ms) already seen, it returns the execution id the
// key gives and writes nothing; else the key gives this execution from now on. With
// park = "1" (a deployment seen without a ready version), it reads the deployment record first:
// still building, the run is parked on the deployment's list instead of the stream (2), to be
// queued by the build's end (releaseLua); ready meanwhile, it is queued as usual (1); failed
// (-2) or gone (-3), nothing is written. With a consumer (ARGV[15]: direct dispatch), when
// nothing of the tenant waits in its stream and it runs fewer jobs than its cap (its own, else
// ARGV[16]; counted as claimScript does, ARGV[17] the alive key prefix), the run is queued and
// claimed by that consumer in the same step, without waking a worker: it answers {3, entry id}.
var enqueueScript = redis.NewScript(laneLua + trimLua + runningLua + `
local exec, execs, stream, tenants, rr, wake, tenant, sum, execsof, execdep, depkey, parked = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local rec, ttl, score, id, kept, tid, maxq, dep, sync, wakekept, summary, tp, park = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7]), ARGV[8], ARGV[9], tonumber(ARGV[10]), ARGV[11], ARGV[12], ARGV[13]
local idem, idemttl = KEYS[13], tonumber(ARGV[14])
local consumer, defcap, aprefix = ARGV[15], tonumber(ARGV[16]), ARGV[17]
` + admitRecordLua + `if not admit(stream, maxq) then return 0 end
local direct = false
if consumer ~= '' then
  local pending = redis.call('XPENDING', stream, 'workers')
  if redis.call('XLEN', stream) == tonumber(pending[1]) then -- nothing waits: no job jumps the queue
    local cap = tonumber(redis.call('HGET', tenant, 'max_concurrent_runs') or '0') or 0
    if cap <= 0 then cap = defcap end
    direct = running(pending, consumer, aprefix) < cap
  end
end
rotate(tenants, rr, tid)
record()
local entry = redis.call('XADD', stream, '*', 'tenant', tid, 'id', id, 'dep', dep, 'sync', sync)
if direct then
  redis.call('XREADGROUP', 'GROUP', 'workers', consumer, 'COUNT', 1, 'STREAMS', stream, '>')
  return {3, entry}
end
wakeup(wake, wakekept)
return 1`)

// runningLua defines running(pending, consumer, aprefix): how many of a stream's pending entries
// (its XPENDING summary) are held by live consumers, the claiming one (consumer) and those whose
// alive key (aprefix .. name) exists: a dead node's jobs do not count against a tenant's cap.
const runningLua = `
local function running(pending, consumer, aprefix)
  local n = 0
  if tonumber(pending[1]) == 0 then return 0 end
  for _, c in ipairs(pending[4]) do
    if c[1] == consumer or redis.call('EXISTS', aprefix .. c[1]) == 1 then n = n + tonumber(c[2]) end
  end
  return n
end
`

// claimScript delivers the next job of a lane to a consumer, fairly across tenants (see above).
// A tenant's running jobs are those pending for live consumers (see Liveness: the claiming one,
// and those whose alive key exists): a dead node's jobs do not hold the tenant back. A tenant's
// cap of runs is its field of the caps hash (a copy of its quota, all in the scheduling slot),
// else the default.
// On one Redis, a run job comes with what it runs: its execution record and its deployment
// record, read in the same step ({tid, entry id, fields, record, deployment}; false for one
// missing), saving the worker a round trip. On a Cluster those live in the tenant's slot, not
// the scheduler's: the worker reads them in a step of its own (JobInputs). KEYS: the lane's
// rotation and tenant set, the caps hash. ARGV: stream key prefix, consumer, default maximum of
// concurrent jobs per tenant, alive key prefix, tenants' key prefix ("" for a lane of builds,
// or on a Cluster), "1" when the caps hash holds the lane's caps.
var claimScript = redis.NewScript(runningLua + `
local rr, tenants, caps = KEYS[1], KEYS[2], KEYS[3]
local sprefix, consumer, defcap, aprefix, tp, usecaps = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6]
for i = 1, redis.call('LLEN', rr) do
  local tid = redis.call('LMOVE', rr, rr, 'LEFT', 'RIGHT')
  local stream = sprefix .. tid
  if redis.call('XLEN', stream) == 0 then
    -- Nothing queued or running: leave the rotation (the next enqueue puts the tenant back).
    redis.call('RPOP', rr)
    redis.call('SREM', tenants, tid)
  else
    local cap = 0
    if usecaps == '1' then cap = tonumber(redis.call('HGET', caps, tid) or '0') or 0 end
    if cap <= 0 then cap = defcap end
    local ok, pending = pcall(redis.call, 'XPENDING', stream, 'workers')
    if ok and (tonumber(pending[1]) < cap or running(pending, consumer, aprefix) < cap) then
      local ok2, res = pcall(redis.call, 'XREADGROUP', 'GROUP', 'workers', consumer, 'COUNT', 1, 'STREAMS', stream, '>')
      if ok2 and res and res[1] and #res[1][2] > 0 then
        local e = res[1][2][1]
        if tp == '' then return {tid, e[1], e[2]} end
        local id, dep = '', ''
        for j = 1, #e[2], 2 do
          if e[2][j] == 'id' then id = e[2][j + 1] elseif e[2][j] == 'dep' then dep = e[2][j + 1] end
        end
        local base = tp .. tid .. '}:'
        return {tid, e[1], e[2], redis.call('GET', base .. 'exec:' .. id), redis.call('GET', base .. 'dep:' .. dep)}
      end
    end
  end
end
return false`)

// EnqueueRun stores the queued execution, indexes it and queues the run in one atomic step (over
// a Redis Cluster, two single-slot steps: see enqueueSplit): when it returns nil the run is
// durably queued. When e carries an idempotency key that the tenant's
// deployment was given within Options.IdempotencyTTL, nothing is written and the error is a
// *faaspot.ExistingRunError naming the execution that key gives. maxQueued > 0 bounds the tenant's runs waiting to
// start; over it, nothing is written and the error is a *QuotaError. With sync, the worker pushes
// the terminal record to the waiter (WaitExecution). ErrNotFound when the tenant was deleted.
//
// The tenant's index keeps its ExecutionsKept newest executions: the same step deletes the
// records of those it drops (see trimLua), but never a queued or running one's.
func (s *Store) EnqueueRun(ctx context.Context, tid string, e faaspot.Execution, maxQueued int, sync bool) error {
	_, err := s.enqueue(ctx, tid, e, maxQueued, sync, false)
	return err
}

// EnqueueDirect is EnqueueRun of a synchronous run that consumer offers to run at once (direct
// dispatch). When the tenant has nothing waiting in its run stream and runs fewer jobs than its
// concurrency cap, the run is queued and claimed by consumer in the same atomic step, and the
// returned job is consumer's to run and finish like any claimed job (its terminal record is not
// pushed to waiters: the caller runs it). Otherwise it is queued for any worker, as EnqueueRun
// does, and the job is nil. A keyed run (e.IdempotencyKey), and any run of a store with
// Options.MinReplicas, is never claimed here.
func (s *Store) EnqueueDirect(ctx context.Context, tid string, e faaspot.Execution, maxQueued int, consumer string) (*Job, error) {
	if e.IdempotencyKey != "" || s.opts.MinReplicas > 0 {
		// With MinReplicas, a claim made in the step whose WAIT then failed would leave a job
		// pending for this node that nobody runs until it is reclaimed: queue it for any worker.
		consumer = ""
	}
	_, entry, err := s.enqueueAnswer(ctx, tid, e, maxQueued, true, false, consumer)
	if err != nil || entry == "" {
		return nil, err
	}
	j := parseJob(Runs, redis.XMessage{ID: entry, Values: map[string]any{"tenant": tid, "id": e.ID, "dep": e.Deployment}})
	j.Sync = true
	return &j, nil
}

// enqueue runs enqueueScript (see there for park) and returns its answer, mapped to errors.
func (s *Store) enqueue(ctx context.Context, tid string, e faaspot.Execution, maxQueued int, sync, park bool) (int, error) {
	n, _, err := s.enqueueAnswer(ctx, tid, e, maxQueued, sync, park, "")
	return n, err
}

// enqueueAnswer runs enqueueScript (see there for park and consumer) and returns its answer,
// mapped to errors, with the entry id claimed by consumer when it answered {3, entry id}.
func (s *Store) enqueueAnswer(ctx context.Context, tid string, e faaspot.Execution, maxQueued int, sync, park bool, consumer string) (int, string, error) {
	rec, err := encodeExecution(e)
	if err != nil {
		return 0, "", fmt.Errorf("encode execution: %w", err)
	}
	var idemTTL int64
	if e.IdempotencyKey != "" {
		// A keyed run notifies waiters whether or not its first request waited: a repeated
		// request may wait for it (see WaitExecution).
		idemTTL = s.opts.IdempotencyTTL.Milliseconds()
	}
	if s.cluster {
		return s.enqueueSplit(ctx, tid, e, rec, idemTTL, maxQueued, sync, park, consumer)
	}
	var res any
	err = s.acked(ctx, s.rdb, func(c redis.Cmdable) error {
		var err error
		res, err = enqueueScript.Run(ctx, c,
			[]string{s.k.exec(tid, e.ID), s.k.execs(tid), s.k.runs(tid), s.k.runTenants(), s.k.rr(), s.k.wake(),
				s.k.tenant(tid), s.k.sum(tid, e.ID), s.k.execsOf(tid, e.Deployment), s.k.execDep(tid),
				s.k.dep(tid, e.Deployment), s.k.parked(tid, e.Deployment), s.k.idem(tid, e.Deployment, e.IdempotencyKey)},
			rec, s.opts.ResultTTL.Milliseconds(), e.CreatedAt.UnixMilli(), e.ID, s.opts.ExecutionsKept, tid, maxQueued,
			e.Deployment, syncField(sync, e.IdempotencyKey != ""), wakeKept, encodeSummary(e), s.k.t(tid), flag(park), idemTTL,
			consumer, s.opts.RunCap, s.k.alive("")).Result()
		return err
	})
	if prev, ok := res.(string); ok && err == nil {
		return 0, "", &faaspot.ExistingRunError{ID: prev}
	}
	if claimed, ok := res.([]any); ok && len(claimed) == 2 && err == nil {
		entry, _ := claimed[1].(string)
		return 3, entry, nil
	}
	n64, _ := res.(int64)
	return enqueueOutcome(tid, e, maxQueued, int(n64), err)
}

// flag is a boolean as the scripts take it.
func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// nextJob claims the next job of the lane fairly; when none is claimable it blocks on the lane's
// wake-up list for up to block and tries once more.
func (s *Store) nextJob(ctx context.Context, l lane, consumer string, block time.Duration) (*Job, error) {
	for attempt := 0; attempt < 2; attempt++ {
		tp := ""
		if l.q == Runs && !s.cluster {
			tp = s.k.p + "t:{"
		}
		res, err := claimScript.Run(ctx, s.rdb, []string{l.rr, l.tenants, s.k.caps()},
			l.streamPrefix, consumer, l.defCap, s.k.alive(""), tp, flag(l.caps)).Slice()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, unavailable("claim "+l.q.String(), err)
		}
		if len(res) >= 3 {
			return claimedJob(l.q, res), nil
		}
		if attempt == 0 {
			_, err := s.rdb.BLPop(ctx, block, l.wake).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return nil, unavailable("wait for "+l.q.String(), err)
			}
		}
	}
	return nil, nil
}

// claimedJob turns the claim script's {tid, entry id, fields} into a Job of q.
func claimedJob(q Queue, res []any) *Job {
	tid, _ := res[0].(string)
	id, _ := res[1].(string)
	values := map[string]any{}
	if fields, ok := res[2].([]any); ok {
		for i := 0; i+1 < len(fields); i += 2 {
			k, _ := fields[i].(string)
			values[k] = fields[i+1]
		}
	}
	j := parseJob(q, redis.XMessage{ID: id, Values: values})
	j.Tenant = tid
	if len(res) == 5 {
		j.inputs = &[2]any{res[3], res[4]}
	}
	return &j
}

// SetQuotas stores the tenant's quota overrides. ErrNotFound for an unknown tenant.
func (s *Store) SetQuotas(ctx context.Context, tid string, q faaspot.Quotas) error {
	defer s.changedTenant(ctx, tid)
	if _, err := s.tenant(ctx, tid); err != nil {
		return err
	}
	// The tenant record, and the claim's copy of the cap ({q}:caps, keys.go): in one transaction
	// on one Redis; over a Cluster (two slots) the record first: a node dying between the two
	// writes leaves the copy at the old cap until the quotas are set again or a node starts
	// (EnsureGroups copies every tenant's cap again).
	var err error
	if s.cluster {
		if err = s.rdb.HSet(ctx, s.k.tenant(tid), quotaFields(q)...).Err(); err == nil {
			err = s.rdb.HSet(ctx, s.k.caps(), tid, q.MaxConcurrentRuns).Err()
		}
	} else {
		_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, s.k.tenant(tid), quotaFields(q)...)
			p.HSet(ctx, s.k.caps(), tid, q.MaxConcurrentRuns)
			return nil
		})
	}
	if err != nil {
		return unavailable("set quotas", err)
	}
	return nil
}

// quotaFields are the tenant record's fields and values of q.
func quotaFields(q faaspot.Quotas) []any {
	return []any{"max_concurrent_runs", q.MaxConcurrentRuns, "max_queued_runs", q.MaxQueuedRuns,
		"max_deployments", q.MaxDeployments, "requests_per_second", q.RequestsPerSecond}
}

func quotasOf(m map[string]string) faaspot.Quotas {
	num := func(k string) int { n, _ := strconv.Atoi(m[k]); return n }
	rps, _ := strconv.ParseFloat(m["requests_per_second"], 64)
	return faaspot.Quotas{MaxConcurrentRuns: num("max_concurrent_runs"), MaxQueuedRuns: num("max_queued_runs"),
		MaxDeployments: num("max_deployments"), RequestsPerSecond: rps}
}

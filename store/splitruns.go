package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
)

// Runs over a Redis Cluster. A run's records live in its tenant's slot ({tid}), its job in the
// scheduling slot ({q}, keys.go): the scripts that write both at once on one Redis are, on a
// Cluster, single-slot steps. Each says below what a node dying between two steps leaves, and
// who repairs it.

// enqueueRecordScript is enqueueScript's first step, in the tenant's slot: it refuses a deleted
// tenant (-1), answers the execution an idempotency key gives (its id), and parks the run (2;
// -2, -3 and 0 as enqueueScript) or writes its record and indexes and answers {1, the tenant's
// run cap (0: none)}: the caller queues the job next (enqueueJobScript). KEYS: record, index,
// tenant, summary, deployment index, execution->deployment hash, deployment, parked list,
// idempotency key. ARGV: record, TTL (ms), score, id, kept, maximum queued, deployment, sync
// field, summary, tenant key prefix, park, idempotency TTL (ms).
var enqueueRecordScript = redis.NewScript(trimLua + `
local exec, execs, tenant, sum, execsof, execdep, depkey, parked, idem = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local rec, ttl, score, id, kept, maxq, dep, sync, summary, tp, park = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local idemttl = tonumber(ARGV[12])
` + admitRecordLua + `record()
return {1, tonumber(redis.call('HGET', tenant, 'max_concurrent_runs') or '0') or 0}`)

// enqueueJobScript is enqueueScript's second step, in the scheduling slot: it refuses a full
// stream (0), else queues the job (1), or queues and claims it for the consumer (direct
// dispatch, {3, entry id}) as enqueueScript does, with the tenant's cap as the first step read
// it. KEYS: run stream, run tenants, rotation, wake-up list. ARGV: tenant id, execution id,
// deployment, sync field, maximum queued, wake-up list cap, consumer, cap, alive key prefix.
var enqueueJobScript = redis.NewScript(laneLua + runningLua + `
local stream, tenants, rr, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local tid, id, dep, sync, maxq, wakekept = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local consumer, cap, aprefix = ARGV[7], tonumber(ARGV[8]), ARGV[9]
if not admit(stream, maxq) then return 0 end
local direct = false
if consumer ~= '' then
  local pending = redis.call('XPENDING', stream, 'workers')
  if redis.call('XLEN', stream) == tonumber(pending[1]) then
    direct = running(pending, consumer, aprefix) < cap
  end
end
rotate(tenants, rr, tid)
local entry = redis.call('XADD', stream, '*', 'tenant', tid, 'id', id, 'dep', dep, 'sync', sync)
if direct then
  redis.call('XREADGROUP', 'GROUP', 'workers', consumer, 'COUNT', 1, 'STREAMS', stream, '>')
  return {3, entry}
end
wakeup(wake, wakekept)
return 1`)

// enqueueUndoScript takes back what enqueueRecordScript wrote for a run whose queue was full:
// its summary and index entries, and the idempotency key while it gives this run; its record is
// deleted, or with ARGV[2] ended, failed with the error type QueueFull (ARGV[2], kept ARGV[3]
// ms), for a request that was given its id meanwhile (enqueueSplit). KEYS: record, summary,
// index, deployment index, execution->deployment hash, idempotency key. ARGV: execution id,
// failed record ("" for none), TTL (ms).
var enqueueUndoScript = redis.NewScript(`
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
if redis.call('GET', KEYS[6]) == ARGV[1] then redis.call('DEL', KEYS[6]) end
return 1`)

// queueFullType is the error type of the record a run refused by a full queue leaves over a
// Cluster (enqueueUndoScript).
const queueFullType = "QueueFull"

// enqueueSplit is enqueueAnswer over a Cluster: the record first (enqueueRecordScript, which
// parks the run or answers an idempotency key's execution on its own), then the job
// (enqueueJobScript); the run is accepted (nil error) only once both are written. One round
// trip more than on one Redis for a queued run; none more for a parked one or a repeated key.
//
// A full queue is found by the second step, after the record was written: a third step takes it
// back (enqueueUndoScript) before the caller gets its *QuotaError. Until then the run was listed
// among the tenant's executions, as queued, and a request repeating its idempotency key in that
// instant was given its id: so the record of a run with an idempotency key is not deleted but
// ended, failed with the error type QueueFull, unlisted and expiring as any record, and the id
// that request was given leads to a definite outcome rather than to nothing. A run without a key
// leaves nothing, as on one Redis (no request can be given its id). The key is freed, as on one
// Redis (which writes nothing for a full queue): a client retrying the refused request with it
// gets a new run. No look at the queue's length before the first step: it would add a round trip
// to every run and still leave the queue free to fill before the second, so the third step would
// stay needed. A node dying between the record and the undo leaves it as a node dying between the
// two steps does. A node dying between the record and the job leaves a queued record that no job
// runs (the client had no answer: the run was not accepted) until it expires with
// Options.ResultTTL; with an idempotency key, a repeated request finds it there and queues its job
// again (requeueOrphan).
func (s *Store) enqueueSplit(ctx context.Context, tid string, e faaspot.Execution, rec []byte, idemTTL int64, maxQueued int, sync, park bool, consumer string) (int, string, error) {
	res, err := enqueueRecordScript.Run(ctx, s.rdb,
		[]string{s.k.exec(tid, e.ID), s.k.execs(tid), s.k.tenant(tid), s.k.sum(tid, e.ID), s.k.execsOf(tid, e.Deployment),
			s.k.execDep(tid), s.k.dep(tid, e.Deployment), s.k.parked(tid, e.Deployment), s.k.idem(tid, e.Deployment, e.IdempotencyKey)},
		rec, s.opts.ResultTTL.Milliseconds(), e.CreatedAt.UnixMilli(), e.ID, s.opts.ExecutionsKept, maxQueued,
		e.Deployment, syncField(sync, e.IdempotencyKey != ""), encodeSummary(e), s.k.t(tid), flag(park), idemTTL).Result()
	if err != nil {
		return 0, "", unavailable("enqueue run", err)
	}
	if prev, ok := res.(string); ok {
		if err := s.requeueOrphan(ctx, tid, prev, e.Deployment, syncField(sync, true)); err != nil {
			return 0, "", err
		}
		return 0, "", &faaspot.ExistingRunError{ID: prev}
	}
	recorded, ok := res.([]any)
	if !ok || len(recorded) != 2 {
		n64, _ := res.(int64)
		return enqueueOutcome(tid, e, maxQueued, int(n64), nil)
	}
	runCap, _ := recorded[1].(int64)
	if runCap <= 0 {
		runCap = int64(s.opts.RunCap)
	}
	res, err = enqueueJobScript.Run(ctx, s.rdb, []string{s.k.runs(tid), s.k.runTenants(), s.k.rr(), s.k.wake()},
		tid, e.ID, e.Deployment, syncField(sync, e.IdempotencyKey != ""), maxQueued, wakeKept, consumer, runCap,
		s.k.alive("")).Result()
	if err != nil {
		return 0, "", unavailable("enqueue run", err)
	}
	if claimed, ok := res.([]any); ok && len(claimed) == 2 {
		entry, _ := claimed[1].(string)
		return 3, entry, nil
	}
	if n, _ := res.(int64); n == 0 {
		if err := s.enqueueUndo(context.WithoutCancel(ctx), tid, e, maxQueued); err != nil {
			return 0, "", err
		}
		return enqueueOutcome(tid, e, maxQueued, 0, nil)
	}
	return 1, "", nil
}

// enqueueUndo runs enqueueUndoScript for the run e that a full queue (maxQueued) refused.
func (s *Store) enqueueUndo(ctx context.Context, tid string, e faaspot.Execution, maxQueued int) error {
	if err := s.fault("enqueue: undo"); err != nil {
		return err
	}
	var failed []byte
	if e.IdempotencyKey != "" {
		now := s.now().UTC()
		e.Status, e.FinishedAt = faaspot.ExecFailed, &now
		e.Error = &faaspot.ExecError{Type: queueFullType,
			Message: fmt.Sprintf("refused: the tenant's queue of runs was full (%d waiting)", maxQueued)}
		var err error
		if failed, err = encodeExecution(e); err != nil {
			return fmt.Errorf("encode execution: %w", err)
		}
	}
	err := enqueueUndoScript.Run(ctx, s.rdb,
		[]string{s.k.exec(tid, e.ID), s.k.sum(tid, e.ID), s.k.execs(tid), s.k.execsOf(tid, e.Deployment),
			s.k.execDep(tid), s.k.idem(tid, e.Deployment, e.IdempotencyKey)},
		e.ID, failed, s.opts.ResultTTL.Milliseconds()).Err()
	if err != nil {
		return unavailable("enqueue run", err)
	}
	return nil
}

// enqueueOutcome maps an answer of the enqueue scripts to enqueueAnswer's.
func enqueueOutcome(tid string, e faaspot.Execution, maxQueued, n int, err error) (int, string, error) {
	switch {
	case err != nil:
		return 0, "", unavailable("enqueue run", err)
	case n == -1:
		return n, "", fmt.Errorf("tenant %s: %w", tid, ErrNotFound)
	case n == -2:
		return n, "", fmt.Errorf("deployment %s: %w", e.Deployment, ErrBuildFailed)
	case n == -3:
		return n, "", fmt.Errorf("deployment %s: %w", e.Deployment, ErrNotFound)
	case n == 0:
		return n, "", &faaspot.QuotaError{What: "queued runs", Limit: float64(maxQueued)}
	}
	return n, "", nil
}

// orphanAge is how old a queued record given by an idempotency key must be before a repeated
// request looks for its job (requeueOrphan): older than any enqueue in progress.
const orphanAge = 10 * time.Second

// requeueScript queues the job of a run unless the scheduling slot holds it already: in the
// tenant's run stream (a scan of the stream: its jobs waiting and running, bounded by the
// tenant's queue and cap) or on the delayed set (a retry RetryLater scheduled: its member is
// "tid\0id\0dep\0sync", sync one of 0, 1, n); it returns 1 when it queued it. The stream and
// the delayed set change together (retryJobScript, releaseDueScript), so this one step sees the
// job in one of them unless it is nowhere. KEYS: run stream, run tenants, rotation, wake-up list,
// delayed set. ARGV: tenant id, execution id, deployment, sync field, wake-up list cap.
var requeueScript = redis.NewScript(laneLua + `
local stream, tenants, rr, wake, delayed = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local tid, id, dep, sync, wakekept = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
for _, f in ipairs({'0', '1', 'n'}) do
  if redis.call('ZSCORE', delayed, tid .. '\0' .. id .. '\0' .. dep .. '\0' .. f) then return 0 end
end
if redis.call('EXISTS', stream) == 1 then
  for _, e in ipairs(redis.call('XRANGE', stream, '-', '+')) do
    for j = 1, #e[2], 2 do
      if e[2][j] == 'id' and e[2][j + 1] == id then return 0 end
    end
  end
end
admit(stream, 0)
rotate(tenants, rr, tid)
redis.call('XADD', stream, '*', 'tenant', tid, 'id', id, 'dep', dep, 'sync', sync)
wakeup(wake, wakekept)
return 1`)

// parkedScript returns 1 when the execution ARGV[1] is parked on the list KEYS[1] (an entry
// "sync:id", sync one of 0, 1, n), else 0.
var parkedScript = redis.NewScript(`
for _, f in ipairs({'0', '1', 'n'}) do
  if redis.call('LPOS', KEYS[1], f .. ':' .. ARGV[1]) then return 1 end
end
return 0`)

// requeueOrphan repairs, over a Cluster, a run that an idempotency key gives but whose job a node
// dying between enqueueSplit's two steps never queued: when its record still says queued after
// orphanAge, the job is queued unless the run waits elsewhere. A queued record older than
// orphanAge is also that of a run parked on its deployment (its first build still going) or of
// one waiting for a retry on the delayed set (RetryLater wrote it queued again): neither is
// queued. The parked list is read first, in the tenant's slot: a release (releaseAck, then
// LTRIM) queues a run before taking it off the list, so a run not on the list any more is in the
// scheduling slot already, which requeueScript reads in one step. A job queued twice this way
// (its first ran and ended between the two looks) finds its record ended and is dropped by the
// worker.
func (s *Store) requeueOrphan(ctx context.Context, tid, id, dep, sync string) error {
	e, err := s.GetExecution(ctx, tid, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if e.Status != faaspot.ExecQueued || s.now().Sub(e.CreatedAt) < orphanAge {
		return nil
	}
	parked, err := parkedScript.Run(ctx, s.rdb, []string{s.k.parked(tid, e.Deployment)}, id).Int()
	if err != nil {
		return unavailable("look for a parked run", err)
	}
	if parked == 1 {
		return nil
	}
	err = requeueScript.Run(ctx, s.rdb, []string{s.k.runs(tid), s.k.runTenants(), s.k.rr(), s.k.wake(), s.k.delayed()},
		tid, id, e.Deployment, sync, wakeKept).Err()
	if err != nil {
		return unavailable("queue an orphaned run", err)
	}
	return nil
}

// writeRecordScript is writeRunScript's first step over a Cluster, in the tenant's slot
// (writerecord). KEYS: record, summary, notification list, dead letters, the day's usage. ARGV:
// writeRunScript's.
var writeRecordScript = redis.NewScript(writeRecordLua + `
if writerecord(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]) then return 1 end
return 0`)

// ackRunScript is the scheduling slot's part of ending a run: it schedules the run's callback
// (ARGV[5] "1"; "nx": unless it is scheduled already), acknowledges and deletes its job (ARGV[1],
// "" for none) and wakes a worker. KEYS: run stream, wake-up list, callbacks. ARGV: entry id,
// wake-up list cap, now (ms), callbacks member, callback.
var ackRunScript = redis.NewScript(`
if ARGV[5] == '1' then
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
elseif ARGV[5] == 'nx' then
  redis.call('ZADD', KEYS[3], 'NX', ARGV[3], ARGV[4])
end
if ARGV[1] ~= '' then
  redis.call('XACK', KEYS[1], 'workers', ARGV[1])
  redis.call('XDEL', KEYS[1], ARGV[1])
end
redis.call('RPUSH', KEYS[2], 1)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
return 1`)

// writeRunSplit is writeRun over a Cluster: the record, its notification, usage and dead letter
// first (writeRecordScript, the tenant's slot: usage is counted once, with the first terminal
// record), then, for a terminal write, the job's acknowledgement with the callback's schedule
// (ackRunScript). One round trip more than on one Redis for a terminal write. A node dying
// between the two leaves the job pending with its record terminal: another worker reclaims it,
// finds it ended and acknowledges it (Ack, which schedules a pending callback then).
func (s *Store) writeRunSplit(ctx context.Context, job Job, e faaspot.Execution, mode string, now time.Time, args []any) (bool, error) {
	tid := job.Tenant
	n, err := writeRecordScript.Run(ctx, s.rdb,
		[]string{s.k.exec(tid, e.ID), s.k.sum(tid, e.ID), s.k.done(tid, e.ID), s.k.dead(tid), s.k.usage(tid, now)},
		args...).Int()
	if err != nil {
		return false, unavailable("record run", err)
	}
	if mode != writeEnd && mode != writeDead {
		return n == 1, nil
	}
	cb := "0"
	if n == 1 && e.Callback != nil && e.Callback.State == faaspot.CallbackPending {
		cb = "1"
	}
	if err := s.ackRun(ctx, job, e.ID, cb); err != nil {
		return false, err
	}
	return n == 1, nil
}

// ackRun runs ackRunScript for the run job of execution id.
func (s *Store) ackRun(ctx context.Context, job Job, id, cb string) error {
	err := ackRunScript.Run(ctx, s.rdb, []string{s.k.runs(job.Tenant), s.k.wake(), s.k.callbacks()},
		job.EntryID, wakeKept, s.now().UnixMilli(), CallbackJob{Tenant: job.Tenant, ID: id}.member(), cb).Err()
	if err != nil {
		return unavailable("acknowledge run", err)
	}
	return nil
}

// ackSplit is Ack of a run job over a Cluster: a job whose record is terminal with a callback
// pending (its worker died between writeRunSplit's steps) gets its callback scheduled, unless
// it is already, in the step that acknowledges it. One round trip more than on one Redis.
func (s *Store) ackSplit(ctx context.Context, j Job) error {
	cb := "0"
	if e, err := s.GetExecution(ctx, j.Tenant, j.ID); err == nil && e.Terminal() &&
		e.Callback != nil && e.Callback.State == faaspot.CallbackPending {
		cb = "nx"
	} else if err != nil && !errors.Is(err, ErrNotFound) && !isDecodeError(err) {
		return err
	}
	return s.ackRun(ctx, j, j.ID, cb)
}

package store

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Retries and callbacks over a Redis Cluster: their sets live in the scheduling slot, the
// records they change in the tenant's (keys.go).

// retryRecordScript is retryLaterScript's first step, in the tenant's slot: it writes the record
// and summary of the execution to run again (1), unless it ended already (0). KEYS: record,
// summary. ARGV: record, summary, TTL (ms).
var retryRecordScript = redis.NewScript(terminalLua + `
if ended(KEYS[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1`)

// retryJobScript is retryLaterScript's second step, in the scheduling slot: it schedules the run
// on the delayed set when ARGV[4] is "1", and acknowledges and deletes its job. KEYS: run stream,
// delayed set. ARGV: entry id, due (ms), delayed member, schedule.
var retryJobScript = redis.NewScript(`
if ARGV[4] == '1' then redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3]) end
redis.call('XACK', KEYS[1], 'workers', ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
return 1`)

// retryLaterSplit is RetryLater over a Cluster: the record queued again first, then the job
// acknowledged with the retry scheduled. One round trip more than on one Redis. A node dying
// between the two leaves the job pending with the record queued again: another worker reclaims
// it and runs it at once rather than at due, as the attempt the record counts.
func (s *Store) retryLaterSplit(ctx context.Context, job Job, rec, summary []byte, due time.Time, member string) error {
	tid, id := job.Tenant, job.ID
	n, err := retryRecordScript.Run(ctx, s.rdb, []string{s.k.exec(tid, id), s.k.sum(tid, id)},
		rec, summary, s.opts.ResultTTL.Milliseconds()).Int()
	if err != nil {
		return unavailable("schedule a retry", err)
	}
	err = retryJobScript.Run(ctx, s.rdb, []string{s.k.runs(tid), s.k.delayed()},
		job.EntryID, due.UnixMilli(), member, flag(n == 1)).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return unavailable("schedule a retry", err)
	}
	return nil
}

// settleLeaseScript is settleCallbackScript's first step over a Cluster, in the scheduling slot:
// while the callback is still under the lease ARGV[4] (another node did not take it since), it
// schedules it again at ARGV[1] when ARGV[2] is "1", else takes it out of the set, and returns
// 1; 0 when the lease was lost. KEYS: callbacks set. ARGV: due, again, member, lease.
var settleLeaseScript = redis.NewScript(`
if tonumber(redis.call('ZSCORE', KEYS[1], ARGV[3]) or '-1') ~= tonumber(ARGV[4]) then return 0 end
if ARGV[2] == '1' then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
else
  redis.call('ZREM', KEYS[1], ARGV[3])
end
return 1`)

// settleSplit is settle over a Cluster: the lease is checked and the callback rescheduled or
// taken out first (so that no node whose lease was lost writes the record), then the record is
// written, only if it still exists, keeping its TTL. One round trip more than on one Redis. A
// node dying between the two leaves the record as it was before this delivery: a callback
// delivered or given up then stays "pending" in the record (never delivered again), one to retry
// counts one attempt less until its next delivery writes the record.
func (s *Store) settleSplit(ctx context.Context, job CallbackJob, rec string, due time.Time, again bool) error {
	n, err := settleLeaseScript.Run(ctx, s.rdb, []string{s.k.callbacks()},
		due.UnixMilli(), flag(again), job.member(), job.Lease).Int()
	if err != nil {
		return unavailable("settle callback", err)
	}
	if n == 0 {
		return ErrLost
	}
	if rec == "" {
		return nil
	}
	if err := s.rdb.SetArgs(ctx, s.k.exec(job.Tenant, job.ID), rec, redis.SetArgs{Mode: "XX", KeepTTL: true}).Err(); err != nil &&
		!errors.Is(err, redis.Nil) {
		return unavailable("settle callback", err)
	}
	return nil
}

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

// Retries and dead letters. A failed async run whose deployment's retry policy allows another
// attempt is not ended: RetryLater writes its record queued again (with the attempts so far and
// the last error), acknowledges its job and schedules it on the delayed set; ReleaseDue, called
// by every worker node about once a second, queues the due ones on their tenants' run streams.
// A run that failed its last attempt is ended by FinishDead, which also lists it among the
// tenant's dead letters (newest first, at most deadKept) until it is retried by hand or its
// record expires.

// deadKept bounds a tenant's dead-letter list.
const deadKept = 1000

// retryLaterScript writes the record and summary of an execution to run again, acknowledges its
// job and adds it to the delayed set, unless it ended already (then only the job is
// acknowledged). KEYS: record, summary, run stream, delayed set. ARGV: record, summary, TTL
// (ms), entry id, due (ms), delayed member.
var retryLaterScript = redis.NewScript(terminalLua + `
local exec, sum, stream, delayed = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
redis.call('XACK', stream, 'workers', ARGV[4])
redis.call('XDEL', stream, ARGV[4])
if ended(sum) then return 0 end
redis.call('SET', exec, ARGV[1], 'PX', ARGV[3])
redis.call('SET', sum, ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', delayed, ARGV[5], ARGV[6])
return 1`)

// RetryLater records e (queued again, its attempts and last error kept) and runs it again at
// due: the job is acknowledged and the run scheduled in one atomic step (over a Redis Cluster,
// the record first: see retryLaterSplit).
func (s *Store) RetryLater(ctx context.Context, job Job, e faaspot.Execution, due time.Time) error {
	rec, err := encodeExecution(e)
	if err != nil {
		return fmt.Errorf("encode execution: %w", err)
	}
	tid := job.Tenant
	member := strings.Join([]string{tid, e.ID, e.Deployment, syncField(job.Sync, job.Notify)}, "\x00")
	if s.cluster {
		job.ID = e.ID
		return s.retryLaterSplit(ctx, job, rec, encodeSummary(e), due, member)
	}
	err = retryLaterScript.Run(ctx, s.rdb, []string{s.k.exec(tid, e.ID), s.k.sum(tid, e.ID), s.k.runs(tid), s.k.delayed()},
		rec, encodeSummary(e), s.opts.ResultTTL.Milliseconds(), job.EntryID, due.UnixMilli(), member).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return unavailable("schedule a retry", err)
	}
	return nil
}

// releaseDueScript queues the delayed runs due by ARGV[1] (ms), at most ARGV[2], on their tenants'
// run streams and returns how many. KEYS: delayed set, run tenants, rotation, wake-up list. ARGV:
// now, count, run stream prefix, wake-up list cap.
var releaseDueScript = redis.NewScript(laneLua + `
local delayed, tenants, rr, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local n = 0
for _, m in ipairs(redis.call('ZRANGEBYSCORE', delayed, '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))) do
  local tid, id, dep, sync = string.match(m, '^([^%z]+)%z([^%z]+)%z([^%z]*)%z([01n])$')
  redis.call('ZREM', delayed, m)
  if tid then
    local stream = ARGV[3] .. tid
    admit(stream, 0)
    rotate(tenants, rr, tid)
    redis.call('XADD', stream, '*', 'tenant', tid, 'id', id, 'dep', dep, 'sync', sync)
    wakeup(wake, tonumber(ARGV[4]))
    n = n + 1
  end
end
return n`)

// ReleaseDue queues the retries due by now (at most 256 a call) and returns how many.
func (s *Store) ReleaseDue(ctx context.Context, now time.Time) (int, error) {
	n, err := releaseDueScript.Run(ctx, s.rdb, []string{s.k.delayed(), s.k.runTenants(), s.k.rr(), s.k.wake()},
		now.UnixMilli(), 256, s.k.runs(""), wakeKept).Int()
	if err != nil {
		return 0, unavailable("release retries", err)
	}
	return n, nil
}

// ListDeadLetters returns the summaries of the tenant's dead letters, newest first, at most limit;
// those whose record expired are dropped from the list.
func (s *Store) ListDeadLetters(ctx context.Context, tid string, limit int) ([]faaspot.ExecutionSummary, error) {
	ids, err := s.rdb.ZRevRange(ctx, s.k.dead(tid), 0, int64(limit)-1).Result()
	if err != nil {
		return nil, unavailable("list dead letters", err)
	}
	out := []faaspot.ExecutionSummary{}
	if len(ids) == 0 {
		return out, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.k.sum(tid, id)
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, unavailable("list dead letters", err)
	}
	var gone []any
	for i, v := range vals {
		str, ok := v.(string)
		sum, err := decodeSummary([]byte(str))
		if !ok || err != nil {
			gone = append(gone, ids[i])
			continue
		}
		out = append(out, sum)
	}
	if len(gone) > 0 {
		_ = s.rdb.ZRem(ctx, s.k.dead(tid), gone...).Err() // best effort: listed again next time
	}
	return out, nil
}

// RemoveDeadLetter takes the execution off the tenant's dead letters (it was run again).
func (s *Store) RemoveDeadLetter(ctx context.Context, tid, id string) error {
	if err := s.rdb.ZRem(ctx, s.k.dead(tid), id).Err(); err != nil {
		return unavailable("remove a dead letter", err)
	}
	return nil
}

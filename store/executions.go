package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
)

// notifyTTL bounds how long an unconsumed wake-up notification lives.
const notifyTTL = 10 * time.Minute

// GetExecution returns the tenant's execution. ErrNotFound when it has none with that id.
func (s *Store) GetExecution(ctx context.Context, tid, id string) (faaspot.Execution, error) {
	b, err := s.rdb.Get(ctx, s.k.exec(tid, id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return faaspot.Execution{}, ErrNotFound
	}
	if err != nil {
		return faaspot.Execution{}, unavailable("load execution", err)
	}
	e, err := decodeExecution(b)
	if err != nil {
		return faaspot.Execution{}, fmt.Errorf("decode execution %s: %w", id, err)
	}
	return e, nil
}

// RunInputs returns the execution and its deployment as the run uses it (see RunTarget: the
// version pinned by the execution, else the ready one, with that version's image and settings):
// what a worker needs to start a run. One round trip when the version to run is the newest;
// one more otherwise. Either may be ErrNotFound; a *faaspot.VersionError when the pinned version
// cannot run any more.
func (s *Store) RunInputs(ctx context.Context, tid, id, deployment string) (faaspot.Execution, faaspot.Deployment, error) {
	vals, err := s.rdb.MGet(ctx, s.k.exec(tid, id), s.k.dep(tid, deployment)).Result()
	if err != nil {
		return faaspot.Execution{}, faaspot.Deployment{}, unavailable("load run", err)
	}
	return s.runInputs(ctx, tid, id, deployment, vals)
}

// JobInputs is RunInputs of a run job: from the records its claim read with it, without a round
// trip when the version to run is the newest, else as RunInputs.
func (s *Store) JobInputs(ctx context.Context, j Job) (faaspot.Execution, faaspot.Deployment, error) {
	if j.inputs == nil {
		return s.RunInputs(ctx, j.Tenant, j.ID, j.Deployment)
	}
	return s.runInputs(ctx, j.Tenant, j.ID, j.Deployment, j.inputs[:])
}

// runInputs decodes the records of an execution and its deployment (vals: strings, or nil for
// one missing) and resolves the version to run.
func (s *Store) runInputs(ctx context.Context, tid, id, deployment string, vals []any) (faaspot.Execution, faaspot.Deployment, error) {
	var err error
	var e faaspot.Execution
	var d faaspot.Deployment
	str, ok := vals[0].(string)
	if !ok {
		return e, d, fmt.Errorf("execution %s: %w", id, ErrNotFound)
	}
	if e, err = decodeExecution([]byte(str)); err != nil {
		return e, d, fmt.Errorf("decode execution %s: %w", id, err)
	}
	if str, ok = vals[1].(string); !ok {
		return e, d, fmt.Errorf("deployment %s: %w", deployment, ErrNotFound)
	}
	if d, err = decodeDeployment([]byte(str)); err != nil {
		return e, d, fmt.Errorf("decode deployment %s: %w", deployment, err)
	}
	pinned := 0
	if e.Pinned {
		pinned = e.Version
	}
	d, err = s.target(ctx, tid, d, pinned)
	return e, d, err
}

// terminalLua defines ended(sum): whether the summary at key sum says the execution ended.
const terminalLua = `
local function ended(sum)
  local raw = redis.call('GET', sum)
  if not raw then return false end
  local ok, v = pcall(cjson.decode, raw)
  if not ok or type(v) ~= 'table' then return false end
  local st = v['status']
  return st == 'completed' or st == 'failed' or st == 'timeout'
end
`

// Modes of writeRunScript.
const (
	writeEnd   = "end"   // the terminal record: acknowledge the job, notify waiters
	writeDead  = "dead"  // writeEnd, and list the execution among the dead letters
	writeStart = "start" // the record of a run that started
	writeOnce  = "once"  // writeStart, only while the record says queued (runs at most once)
)

// writeRunScript writes an execution's record and summary unless the execution ended already
// (the first terminal record wins: a run re-run after its worker was thought dead never replaces
// the outcome its first worker recorded); in mode "once", only while the summary says queued.
// A terminal write (modes "end" and "dead") also acknowledges the job and, when it wrote and
// ARGV[6] is "1", hands the record to its waiters; "dead" lists the execution among the
// tenant's dead letters when it wrote. An ended execution's job is acknowledged all the same. It
// A terminal write with ARGV[11] "1" (a callback to deliver) schedules the delivery at once, and
// every terminal write counts the run in the day's usage (usage.go: this is what makes it count
// once). It returns 1 when it wrote, 0 when it did not. KEYS: record, summary, run stream,
// wake-up list, notification list, dead letters, callbacks, the day's usage. ARGV: record,
// summary, TTL (ms), mode, entry id, notify, notification TTL (s), wake-up list cap, now (ms),
// dead letters kept, callback, then usageArgs.
var writeRunScript = redis.NewScript(writeRecordLua + `
local exec, sum, stream, wake, done, dead, cbs = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local entry, kept = ARGV[5], tonumber(ARGV[8])
local terminal = ARGV[4] == 'end' or ARGV[4] == 'dead'
local write = writerecord(exec, sum, done, dead, KEYS[8])
if write and terminal and ARGV[11] == '1' then
  redis.call('ZADD', cbs, ARGV[9], string.match(stream, '[^:]+$') .. '\0' .. string.match(exec, '[^:]+$'))
end
if terminal then
  redis.call('XACK', stream, 'workers', entry)
  redis.call('XDEL', stream, entry)
  redis.call('RPUSH', wake, 1)
  redis.call('LTRIM', wake, -kept, -1)
end
if write then return 1 end
return 0`)

// writeRecordLua defines writerecord(exec, sum, done, dead, usage), the part of writeRunScript
// in the tenant's slot (its ARGV): it writes the record, notifies, counts the usage and lists the
// dead letter as writeRunScript says, and returns whether it wrote.
const writeRecordLua = terminalLua + usageLua + `
local function writerecord(exec, sum, done, dead, usage)
  local rec, summary, ttl, mode, notify, nttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[6], ARGV[7]
  local terminal = mode == 'end' or mode == 'dead'
  local write = not ended(sum)
  if write and mode == 'once' then
    local ok, v = pcall(cjson.decode, redis.call('GET', sum) or '')
    write = ok and type(v) == 'table' and v['status'] == 'queued'
  end
  if write then
    redis.call('SET', exec, rec, 'PX', ttl)
    redis.call('SET', sum, summary, 'PX', ttl)
    if terminal and notify == '1' then
      redis.call('RPUSH', done, rec)
      redis.call('EXPIRE', done, nttl)
    end
    if terminal then
      count(usage, 12)
    end
    if mode == 'dead' then
      redis.call('ZADD', dead, ARGV[9], string.match(exec, '[^:]+$'))
      redis.call('ZREMRANGEBYRANK', dead, 0, -tonumber(ARGV[10]) - 1)
    end
  end
  return write
end
`

// MarkRunning records that the execution started: its record and its summary, unless it ended
// already (see FinishRun).
func (s *Store) MarkRunning(ctx context.Context, tid string, e faaspot.Execution) error {
	_, err := s.writeRun(ctx, Job{Queue: Runs, Tenant: tid}, e, writeStart)
	return err
}

// StartOnce records that the execution started, only while its record says queued, and reports
// whether it did: false means another worker started it (or it ended), and it must not run here.
func (s *Store) StartOnce(ctx context.Context, tid string, e faaspot.Execution) (bool, error) {
	return s.writeRun(ctx, Job{Queue: Runs, Tenant: tid}, e, writeOnce)
}

// FinishRun writes the terminal record (and its summary), acknowledges the run job and, for a
// synchronous run, hands the record to its waiter, in one atomic step (over a Redis Cluster, two
// single-slot steps in this order: see writeRunSplit): the job is never acknowledged before its
// terminal record is stored. When the execution ended already (another
// worker recorded it: this one was thought dead, or finished a run reclaimed from it), the
// first record stays and the job is acknowledged: one execution has one outcome.
func (s *Store) FinishRun(ctx context.Context, job Job, e faaspot.Execution) error {
	_, err := s.writeRun(ctx, job, e, writeEnd)
	return err
}

// FinishDead is FinishRun for a run that failed its last attempt: in the same step it lists the
// execution among the tenant's dead letters (the newest deadKept).
func (s *Store) FinishDead(ctx context.Context, job Job, e faaspot.Execution) error {
	_, err := s.writeRun(ctx, job, e, writeDead)
	return err
}

// writeRun runs writeRunScript for e in mode; it reports whether it wrote the record.
func (s *Store) writeRun(ctx context.Context, job Job, e faaspot.Execution, mode string) (bool, error) {
	rec, err := encodeExecution(e)
	if err != nil {
		return false, fmt.Errorf("encode execution: %w", err)
	}
	tid, now := job.Tenant, s.now()
	args := append([]any{rec, encodeSummary(e), s.opts.ResultTTL.Milliseconds(), mode, job.EntryID, flag(job.Notify),
		int64(notifyTTL / time.Second), wakeKept, now.UnixMilli(), deadKept,
		flag(e.Callback != nil && e.Callback.State == faaspot.CallbackPending)}, usageArgs(e)...)
	if s.cluster {
		return s.writeRunSplit(ctx, job, e, mode, now, args)
	}
	var n int
	err = s.acked(ctx, s.rdb, func(c redis.Cmdable) error {
		var err error
		n, err = writeRunScript.Run(ctx, c,
			[]string{s.k.exec(tid, e.ID), s.k.sum(tid, e.ID), s.k.runs(tid), s.k.wake(), s.k.done(tid, e.ID), s.k.dead(tid), s.k.callbacks(), s.k.usage(tid, now)},
			args...).Int()
		return err
	})
	if err != nil {
		return false, unavailable("record run", err)
	}
	return n == 1, nil
}

// WaitExecution blocks until a synchronous execution is terminal, returning its record, or until
// the timeout passes (ok false). It is woken by FinishRun (BLPOP), never by polling. With shared
// (a run with an idempotency key, which several requests may wait for), the notification is
// left for the others (BLMOVE onto itself) until it expires, and a waiter coming after the run
// ended gets it at once.
func (s *Store) WaitExecution(ctx context.Context, tid, id string, timeout time.Duration, shared bool) (faaspot.Execution, bool, error) {
	val, ok, err := s.waitKey(ctx, s.k.done(tid, id), timeout, shared)
	if err != nil || !ok {
		return faaspot.Execution{}, false, err
	}
	e, err := decodeExecution([]byte(val))
	if err != nil {
		return faaspot.Execution{}, false, fmt.Errorf("decode execution %s: %w", id, err)
	}
	return e, true, nil
}

// waitSlice bounds one blocking pop: go-redis cannot interrupt a blocked read when ctx is
// cancelled, so a long wait is made of one-second pops with a ctx check between them. A pop
// returns as soon as the notification is pushed; the slices only bound how long a waiter whose
// caller went away keeps its connection.
const waitSlice = time.Second

// waitKey pops the value pushed on key, waiting up to timeout (in whole seconds, at least one:
// Redis' blocking pops count in seconds on older servers); with peek it leaves it there.
func (s *Store) waitKey(ctx context.Context, key string, timeout time.Duration, peek bool) (string, bool, error) {
	var val string
	var ok bool
	// The pop is a write on the waiter's connection that the replication stream carries after the
	// terminal record: the replicas holding it hold the record the answer hands out.
	err := s.acked(ctx, s.waits, func(c redis.Cmdable) error {
		var err error
		val, ok, err = s.popWait(ctx, c, key, timeout, peek)
		if !ok && err == nil {
			return errNothingPopped
		}
		return err
	})
	if errors.Is(err, errNothingPopped) {
		return "", false, nil
	}
	return val, ok, err
}

// errNothingPopped ends a wait that timed out before waiting for replicas.
var errNothingPopped = errors.New("nothing popped")

// popWait is waitKey's pops, on c.
func (s *Store) popWait(ctx context.Context, c redis.Cmdable, key string, timeout time.Duration, peek bool) (string, bool, error) {
	deadline := time.Now().Add(max(timeout, waitSlice))
	for time.Until(deadline) > 0 {
		if err := ctx.Err(); err != nil {
			return "", false, err
		}
		var val string
		var err error
		if peek {
			val, err = c.BLMove(ctx, key, key, "LEFT", "RIGHT", waitSlice).Result()
		} else {
			var res []string
			if res, err = c.BLPop(ctx, waitSlice, key).Result(); err == nil {
				val = res[1]
			}
		}
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return "", false, unavailable("wait", err)
		}
		return val, true, nil
	}
	return "", false, nil
}

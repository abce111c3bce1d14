package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Liveness. A worker node's consumer name is the same across its restarts (the daemon uses its
// node id); while the node runs it keeps {p}alive:{consumer} set (Heartbeat), expiring unless
// renewed. A job pending for a consumer without that key belongs to a dead node: Reclaim takes
// it at once, in batches. A job pending for a live consumer is taken only when it went untouched
// for the reclaimer's minIdle (its worker lost track of it, e.g. an acknowledgement lost with
// Redis); a worker touches its jobs while it works on them (Touch). The fair claim counts, against
// a tenant's cap, only the jobs of live consumers. A node that starts again under its name takes
// its own pending jobs at once (TakeOwn): they are from its previous life.

// Heartbeat marks consumer alive for ttl.
func (s *Store) Heartbeat(ctx context.Context, consumer string, ttl time.Duration) error {
	if err := s.rdb.Set(ctx, s.k.alive(consumer), 1, ttl).Err(); err != nil {
		return unavailable("heartbeat", err)
	}
	return nil
}

// Leave marks consumer dead at once, so that other nodes take its pending jobs without waiting
// for its heartbeat to expire. A node calls it once it stopped working on its jobs.
func (s *Store) Leave(ctx context.Context, consumer string) error {
	if err := s.rdb.Del(ctx, s.k.alive(consumer)).Err(); err != nil {
		return unavailable("leave", err)
	}
	return nil
}

// reclaimScript takes pending jobs of one stream for consumer ARGV[2], at most ARGV[4]: with
// ARGV[6] = "1" those pending for that consumer itself (its previous life); else those of
// consumers not alive (no {alive prefix}{consumer} key), then those untouched for ARGV[5] ms.
// It returns the entries taken, as XCLAIM does. KEYS: the stream. ARGV: group, consumer, alive
// key prefix, count, min idle (ms), own.
var reclaimScript = redis.NewScript(`
local stream = KEYS[1]
local grp, me, aprefix, count, minidle, own = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6]
local ok, sum = pcall(redis.call, 'XPENDING', stream, grp)
if not ok or tonumber(sum[1]) == 0 then return {} end
local ids = {}
for _, c in ipairs(sum[4]) do
  local name = c[1]
  local take
  if own == '1' then take = name == me else take = name ~= me and redis.call('EXISTS', aprefix .. name) == 0 end
  if take and #ids < count then
    for _, e in ipairs(redis.call('XPENDING', stream, grp, '-', '+', count - #ids, name)) do
      ids[#ids + 1] = e[1]
    end
  end
end
local out = {}
local function keep(m)
  if type(m) == 'table' and type(m[2]) == 'table' then out[#out + 1] = m end
end
if #ids > 0 then
  for _, m in ipairs(redis.call('XCLAIM', stream, grp, me, 0, unpack(ids))) do keep(m) end
end
if own ~= '1' and #out < count then
  local r = redis.call('XAUTOCLAIM', stream, grp, me, minidle, '0-0', 'COUNT', count - #out)
  for _, m in ipairs(r[2]) do keep(m) end
end
return out`)

// Reclaim takes over up to count jobs of q that a dead consumer left pending (see Liveness) or
// that went untouched for minIdle, and returns them, now delivered to consumer. It visits the
// streams of every tenant having jobs of q.
func (s *Store) Reclaim(ctx context.Context, q Queue, consumer string, minIdle time.Duration, count int64) ([]Job, error) {
	return s.takePending(ctx, q, consumer, minIdle, count, false)
}

// TakeOwn takes back up to count jobs of q pending for consumer itself: a node that starts again
// under its name calls it before taking new jobs, since none of its pending jobs is being
// worked on (two live nodes must never share a consumer name).
func (s *Store) TakeOwn(ctx context.Context, q Queue, consumer string, count int64) ([]Job, error) {
	return s.takePending(ctx, q, consumer, 0, count, true)
}

func (s *Store) takePending(ctx context.Context, q Queue, consumer string, minIdle time.Duration, count int64, own bool) ([]Job, error) {
	tids, err := s.rdb.SMembers(ctx, s.lane(q).tenants).Result()
	if err != nil {
		return nil, unavailable("reclaim "+q.String(), err)
	}
	var out []Job
	for _, tid := range tids {
		if int64(len(out)) >= count {
			break
		}
		like := Job{Queue: q, Tenant: tid}
		res, err := reclaimScript.Run(ctx, s.rdb, []string{s.streamOf(like)}, group, consumer, s.k.alive(""),
			count-int64(len(out)), minIdle.Milliseconds(), flag(own)).Slice()
		if err != nil && !errors.Is(err, redis.Nil) && !strings.Contains(err.Error(), "NOGROUP") {
			return out, unavailable("reclaim "+q.String(), err)
		}
		for _, m := range res {
			if j, ok := pendingJob(like, m); ok {
				out = append(out, j)
			}
		}
	}
	return out, nil
}

// pendingJob reads one entry {id, {field, value, …}} of reclaimScript's answer as a job of like's
// queue and tenant.
func pendingJob(like Job, m any) (Job, bool) {
	e, ok := m.([]any)
	if !ok || len(e) != 2 {
		return Job{}, false
	}
	id, _ := e[0].(string)
	fields, _ := e[1].([]any)
	values := map[string]any{}
	for i := 0; i+1 < len(fields); i += 2 {
		k, _ := fields[i].(string)
		values[k] = fields[i+1]
	}
	j := parseJob(like.Queue, redis.XMessage{ID: id, Values: values})
	if j.Tenant == "" {
		j.Tenant = like.Tenant
	}
	return j, id != ""
}

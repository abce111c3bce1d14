package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// copyCapsScript sets each tenant's field of the caps hash KEYS[1] to the cap of its record,
// unless the field changed since it was read: ARGV are triples (tenant id, the field as read,
// "" for none, the record's cap). It returns how many fields it set.
var copyCapsScript = redis.NewScript(`
local n = 0
for i = 1, #ARGV, 3 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i]) or ''
  if cur == ARGV[i + 1] and cur ~= ARGV[i + 2] then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
    n = n + 1
  end
end
return n`)

// copyCaps writes every tenant's max_concurrent_runs into the claim's copy ({q}:caps): the copy
// of a store migrated from the earlier layout (which had none: the layout migration needs this
// copy for every tenant), or one that a node dying inside SetQuotas left behind (its record
// written, the copy not: the copy is set right here). It never overwrites a cap that SetQuotas
// writes meanwhile: the copy is read before the records, and each field is set only while it
// still holds what was read (copyCapsScript); SetQuotas writes the record before the copy, so a
// copy changed after it was read was written from a record at least as new as the one read.
// (One interleaving still writes an older cap, until the next start or SetQuotas: a copy left
// stale by a node dying inside SetQuotas, and a new SetQuotas of that same stale value while
// this runs, its record written after this read it.)
func (s *Store) copyCaps(ctx context.Context) error {
	names, err := s.rdb.HGetAll(ctx, s.k.tenantNames()).Result()
	if err != nil || len(names) == 0 {
		return err
	}
	copied, err := s.rdb.HGetAll(ctx, s.k.caps()).Result()
	if err != nil {
		return fmt.Errorf("read the caps copy: %w", err)
	}
	tids := make([]string, 0, len(names))
	for _, tid := range names {
		tids = append(tids, tid)
	}
	cmds := make([]*redis.StringCmd, len(tids))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, tid := range tids {
			cmds[i] = p.HGet(ctx, s.k.tenant(tid), "max_concurrent_runs")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("read the tenants' caps: %w", err)
	}
	args := make([]any, 0, 3*len(tids))
	for i, tid := range tids {
		if v, err := cmds[i].Result(); err == nil && v != copied[tid] {
			args = append(args, tid, copied[tid], v)
		}
	}
	if err := s.fault("copy caps: write"); err != nil {
		return err
	}
	if len(args) == 0 {
		return nil
	}
	if err := copyCapsScript.Run(ctx, s.rdb, []string{s.k.caps()}, args...).Err(); err != nil {
		return fmt.Errorf("write the caps copy: %w", err)
	}
	return nil
}

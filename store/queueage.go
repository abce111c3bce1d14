package store

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// oldestScript returns the queue time (ms) of the oldest job waiting in a lane, not yet delivered
// to any worker, or -1 when none waits. KEYS[1] is the lane's tenants set; ARGV[1] its stream
// prefix, ARGV[2] the consumer group. A tenant's waiting jobs are the entries after its group's
// last delivered id (acknowledged entries are deleted); without a group, every entry waits.
var oldestScript = redis.NewScript(`
local oldest = -1
for _, tid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local stream = ARGV[1] .. tid
  local last = '0-0'
  local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', stream)
  if ok then
    for _, g in ipairs(groups) do
      local name, lid
      for i = 1, #g, 2 do
        if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then lid = g[i + 1] end
      end
      if name == ARGV[2] and lid then last = lid end
    end
  end
  for _, e in ipairs(redis.call('XRANGE', stream, last, '+', 'COUNT', 2)) do
    if e[1] ~= last then
      local ms = tonumber(string.match(e[1], '^(%d+)'))
      if oldest < 0 or ms < oldest then oldest = ms end
      break
    end
  end
end
return oldest
`)

// OldestQueued returns when the oldest job waiting in q (not yet delivered to any worker) was
// queued, and false when none waits. It is one script call, visiting each tenant having a
// stream of q: cheap enough for every scrape.
func (s *Store) OldestQueued(ctx context.Context, q Queue) (time.Time, bool, error) {
	l := s.lane(q)
	ms, err := oldestScript.Run(ctx, s.rdb, []string{l.tenants}, l.streamPrefix, group).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return time.Time{}, false, unavailable("oldest queued job", err)
	}
	if ms < 0 {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(ms), true, nil
}

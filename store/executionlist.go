package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
)

// Listing. A tenant's executions are listed newest first from its index (or its deployment's
// index), one page at a time: a page loads only its own summaries, or its own records when asked
// for them. The cursor names the last execution a page looked at (its creation time and id), so
// pages neither repeat nor skip executions while new ones arrive.

// MaxPage is the most executions one page holds; a larger ExecutionQuery.Limit counts as MaxPage.
const MaxPage = 1000

// pageRounds bounds the index reads of one page: each round replaces the executions whose
// records had expired (and unindexes them), so that a page is full unless the listing ends.
const pageRounds = 4

// legacyBatch bounds how many full records one read loads when a summary is missing (records
// written before summaries existed).
const legacyBatch = 50

// pageScript returns, newest first, up to ARGV[3]+1 members of the index KEYS[1], with their
// scores, that come after the cursor: score ARGV[1] and id ARGV[2] ("+inf" and "" for the first
// page). Members of equal score come in descending order, so those not after the cursor are the
// ones at its score not below its id, compared byte by byte as Redis orders them (Lua's own
// string comparison follows the server's locale).
var pageScript = redis.NewScript(`
local key, bound, after, n = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local function below(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local skip = 0
if after ~= '' then
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', key, bound, bound)) do
    if not below(m, after) then skip = skip + 1 end
  end
end
return redis.call('ZREVRANGEBYSCORE', key, bound, '-inf', 'WITHSCORES', 'LIMIT', skip, n + 1)`)

// pruneScript unindexes the executions ARGV[2..] of the tenant whose key prefix is ARGV[1] when
// neither their summary nor their record exists any more (they expired). KEYS[1] is the tenant's
// index (its slot).
var pruneScript = redis.NewScript(`
local tp = ARGV[1]
for i = 2, #ARGV do
  local id = ARGV[i]
  if redis.call('EXISTS', tp .. 'sum:' .. id, tp .. 'exec:' .. id) == 0 then
    redis.call('ZREM', tp .. 'execs', id)
    local dep = redis.call('HGET', tp .. 'execdep', id)
    if dep then
      redis.call('ZREM', tp .. 'execsof:' .. dep, id)
      redis.call('HDEL', tp .. 'execdep', id)
    end
  end
end
return 0`)

// ListExecutions returns one page of the tenant's executions, newest first, as summaries, of one
// deployment when q.Deployment is set, and the cursor of the next page ("" when this page is the
// last). A page holds at most q.Limit (1 to MaxPage) executions, and may hold fewer before the
// last. A cursor no listing answered is a *faaspot.Error naming the field "cursor".
func (s *Store) ListExecutions(ctx context.Context, tid string, q faaspot.ExecutionQuery) ([]faaspot.ExecutionSummary, string, error) {
	out := []faaspot.ExecutionSummary{}
	next, err := s.page(ctx, tid, q, func(ids []string) ([]string, error) {
		got, missing, err := s.summaries(ctx, tid, ids)
		out = append(out, got...)
		return missing, err
	})
	return out, next, err
}

// ListExecutionRecords is ListExecutions with whole records instead of summaries.
func (s *Store) ListExecutionRecords(ctx context.Context, tid string, q faaspot.ExecutionQuery) ([]faaspot.Execution, string, error) {
	out := []faaspot.Execution{}
	next, err := s.page(ctx, tid, q, func(ids []string) ([]string, error) {
		got, missing, err := s.records(ctx, tid, ids)
		out = append(out, got...)
		return missing, err
	})
	return out, next, err
}

// page walks the index from q's cursor, handing ids to load, which keeps those it found and
// returns the missing ones, until q.Limit were found or the index ends. It unindexes the missing
// ones and returns the next cursor.
func (s *Store) page(ctx context.Context, tid string, q faaspot.ExecutionQuery, load func([]string) ([]string, error)) (string, error) {
	bound, after, err := decodeCursor(q.Cursor)
	if err != nil {
		return "", err
	}
	index := s.k.execs(tid)
	if q.Deployment != "" {
		index = s.k.execsOf(tid, q.Deployment)
	}
	want, more := min(max(q.Limit, 1), MaxPage), true
	var gone []string
	for round := 0; want > 0 && more && round < pageRounds; round++ {
		res, err := pageScript.Run(ctx, s.rdb, []string{index}, bound, after, want).StringSlice()
		if err != nil {
			return "", unavailable("list executions", err)
		}
		more = len(res)/2 > want
		res = res[:2*min(len(res)/2, want)]
		ids := make([]string, 0, len(res)/2)
		for i := 0; i < len(res); i += 2 {
			ids = append(ids, res[i])
		}
		if len(ids) == 0 {
			break
		}
		missing, err := load(ids)
		if err != nil {
			return "", err
		}
		gone = append(gone, missing...)
		want -= len(ids) - len(missing)
		bound, after = res[len(res)-1], ids[len(ids)-1]
	}
	if len(gone) > 0 {
		args := append([]any{s.k.t(tid)}, toAny(gone)...)
		// KEYS[1], the tenant's index, only routes the script to the tenant's slot over a Cluster.
		if err := pruneScript.Run(ctx, s.rdb, []string{s.k.execs(tid)}, args...).Err(); err != nil {
			return "", unavailable("prune executions", err)
		}
	}
	if !more {
		return "", nil
	}
	return encodeCursor(bound, after), nil
}

// summaries loads the summaries of ids, in order, and names the ids that have none. A record
// without a summary (written by an earlier release) is summarised from the record.
func (s *Store) summaries(ctx context.Context, tid string, ids []string) ([]faaspot.ExecutionSummary, []string, error) {
	ks := make([]string, len(ids))
	for i, id := range ids {
		ks[i] = s.k.sum(tid, id)
	}
	vals, err := s.rdb.MGet(ctx, ks...).Result()
	if err != nil {
		return nil, nil, unavailable("list executions", err)
	}
	var noSummary []string
	for i, v := range vals {
		if _, ok := v.(string); !ok {
			noSummary = append(noSummary, ids[i])
		}
	}
	legacy := map[string]faaspot.ExecutionSummary{}
	var missing []string
	for start := 0; start < len(noSummary); start += legacyBatch {
		recs, gone, err := s.records(ctx, tid, noSummary[start:min(start+legacyBatch, len(noSummary))])
		if err != nil {
			return nil, nil, err
		}
		for _, e := range recs {
			legacy[e.ID] = e.Summary()
		}
		missing = append(missing, gone...)
	}
	out := make([]faaspot.ExecutionSummary, 0, len(ids))
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			if e, ok := legacy[ids[i]]; ok {
				out = append(out, e)
			}
			continue
		}
		if e, err := decodeSummary([]byte(str)); err == nil {
			out = append(out, e)
		}
	}
	return out, missing, nil
}

// records loads the records of ids, in order, and names the ids that have none.
func (s *Store) records(ctx context.Context, tid string, ids []string) ([]faaspot.Execution, []string, error) {
	ks := make([]string, len(ids))
	for i, id := range ids {
		ks[i] = s.k.exec(tid, id)
	}
	vals, err := s.rdb.MGet(ctx, ks...).Result()
	if err != nil {
		return nil, nil, unavailable("list executions", err)
	}
	out := make([]faaspot.Execution, 0, len(ids))
	var missing []string
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			missing = append(missing, ids[i])
			continue
		}
		if e, err := decodeExecution([]byte(str)); err == nil {
			out = append(out, e)
		}
	}
	return out, missing, nil
}

// cursorID is what an execution id in a cursor may be.
var cursorID = regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)

// encodeCursor renders the position after the execution id of score (its creation time in ms).
func encodeCursor(score, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("1." + score + "." + id))
}

// decodeCursor returns the position a cursor names: "+inf" and "" for the empty cursor.
func decodeCursor(c string) (score, id string, err error) {
	if c == "" {
		return "+inf", "", nil
	}
	bad := faaspot.Invalid("cursor", "cursor must be one a previous page answered")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", "", fmt.Errorf("decode cursor: %w", bad)
	}
	parts := strings.SplitN(string(b), ".", 3)
	if len(parts) != 3 || parts[0] != "1" || !cursorID.MatchString(parts[2]) {
		return "", "", fmt.Errorf("decode cursor: %w", bad)
	}
	if _, err := strconv.ParseInt(parts[1], 10, 64); err != nil {
		return "", "", fmt.Errorf("decode cursor: %w", bad)
	}
	return parts[1], parts[2], nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

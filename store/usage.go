package store

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
)

// Usage metering. Each tenant has one hash per UTC day, {p}t:{tid}:usage:{YYYY-MM-DD}, whose
// fields are counters:
//
//	runs_completed, runs_failed, runs_timeout   terminal runs by status
//	wall_us, cpu_us                             the runs' own time and CPU time, microseconds
//	gb_ns                                       memory limit (GiB) × own time, GiB-nanoseconds
//	builds, builds_failed, build_us             builds that ran, those that failed, their time
//
// A run is counted by the script that writes its terminal record (writeRunScript), in the same
// atomic step and only when that step writes the record: the first terminal record of an
// execution is the only one kept, so a run reclaimed from a worker thought dead, whose two
// workers both finish, is counted once. Its resources are those its record carries
// (faaspot.ExecUsage: every attempt's, summed by the workers as a retried run goes), so a retried
// run also counts once, on the day it ended, with all its attempts' resources. An attempt whose
// outcome was never recorded (its worker died) is not counted. A build is counted by FinishBuild
// in the transaction that settles its version, once (a build whose deployment was deleted
// meanwhile has no version left to settle: were its job reclaimed and built twice, both would
// count). The hashes expire usageTTL after their last write, and go with the tenant
// (DeleteTenant).

// usageTTL is how long a day's usage is kept after its last write: over a year, so that a
// platform billing monthly or yearly has every day it needs.
const usageTTL = 400 * 24 * time.Hour

// MaxUsageDays bounds the days one usage query covers.
const MaxUsageDays = 366

// Fields of the usage hashes.
const (
	usageWallUS       = "wall_us"
	usageCPUUS        = "cpu_us"
	usageGBNS         = "gb_ns"
	usageBuilds       = "builds"
	usageBuildsFailed = "builds_failed"
	usageBuildUS      = "build_us"
)

// usage is the tenant's usage hash of t's UTC day.
func (k keys) usage(tid string, t time.Time) string {
	return k.t(tid) + "usage:" + t.UTC().Format(time.DateOnly)
}

// usageArgs are the ARGV of writeRunScript's usage: the status field to count and the resources
// of e (all its attempts), then the TTL (ms).
func usageArgs(e faaspot.Execution) []any {
	var u faaspot.ExecUsage
	if e.Usage != nil {
		u = *e.Usage
	}
	return []any{"runs_" + string(e.Status), micro(u.WallMS / 1000), micro(u.CPUMS / 1000),
		int64(math.Round(u.GBSeconds * 1e9)), usageTTL.Milliseconds()}
}

// usageLua defines count(key, a): adds a run to the day's usage at key, from ARGV[a..a+4] (see
// usageArgs), and renews the hash's TTL.
const usageLua = `
local function count(key, a)
  redis.call('HINCRBY', key, ARGV[a], 1)
  redis.call('HINCRBY', key, 'wall_us', ARGV[a+1])
  redis.call('HINCRBY', key, 'cpu_us', ARGV[a+2])
  redis.call('HINCRBY', key, 'gb_ns', ARGV[a+3])
  redis.call('PEXPIRE', key, ARGV[a+4])
end
`

// countBuild adds a build that ran for d (failed or not) to the day's usage at key, in p.
func (s *Store) countBuild(ctx context.Context, p redis.Pipeliner, key string, d time.Duration, failed bool) {
	p.HIncrBy(ctx, key, usageBuilds, 1)
	if failed {
		p.HIncrBy(ctx, key, usageBuildsFailed, 1)
	}
	p.HIncrBy(ctx, key, usageBuildUS, d.Microseconds())
	p.PExpire(ctx, key, usageTTL)
}

// micro is seconds in whole microseconds.
func micro(seconds float64) int64 { return int64(math.Round(seconds * 1e6)) }

// Usage returns the tenant's usage of each UTC day from from to to (both included, their times
// of day ignored), oldest first, days without use included. ErrInvalid (a *faaspot.Error naming
// "to") when to is before from or the range is over MaxUsageDays.
func (s *Store) Usage(ctx context.Context, tid string, from, to time.Time) ([]faaspot.UsageDay, error) {
	from, to = day(from), day(to)
	n := int(to.Sub(from)/(24*time.Hour)) + 1
	if n < 1 || n > MaxUsageDays {
		return nil, faaspot.Invalid("to", "the range must cover 1 to %d days, to not before from", MaxUsageDays)
	}
	keys := make([]string, n)
	for i := range n {
		keys[i] = s.k.usage(tid, from.AddDate(0, 0, i))
	}
	vals, err := readUsageScript.Run(ctx, s.rdb, keys).Slice()
	if err != nil || len(vals) != n {
		return nil, unavailable("read usage", fmt.Errorf("%d days of %d: %w", len(vals), n, err))
	}
	out := make([]faaspot.UsageDay, n)
	for i, v := range vals {
		out[i] = usageDayOf(v)
		out[i].Date = from.AddDate(0, 0, i).Format(time.DateOnly)
	}
	return out, nil
}

// day is t's UTC day at midnight.
func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// readUsageScript returns the fields and values of each usage hash KEYS[i], flat (HGETALL's
// answer): one round trip for the whole range, however many days.
var readUsageScript = redis.NewScript(`
local out = {}
for i, k in ipairs(KEYS) do out[i] = redis.call('HGETALL', k) end
return out`)

// usageDayOf reads a usage hash as readUsageScript returns it.
func usageDayOf(v any) faaspot.UsageDay {
	h := map[string]string{}
	flat, _ := v.([]any)
	for i := 0; i+1 < len(flat); i += 2 {
		f, _ := flat[i].(string)
		h[f], _ = flat[i+1].(string)
	}
	n := func(f string) int64 { v, _ := strconv.ParseInt(h[f], 10, 64); return v }
	return faaspot.UsageDay{
		Runs:        faaspot.UsageRuns{Completed: n("runs_completed"), Failed: n("runs_failed"), Timeout: n("runs_timeout")},
		WallSeconds: float64(n(usageWallUS)) / 1e6, CPUSeconds: float64(n(usageCPUUS)) / 1e6,
		GBSeconds: float64(n(usageGBNS)) / 1e9, Builds: n(usageBuilds), BuildsFailed: n(usageBuildsFailed),
		BuildSeconds: float64(n(usageBuildUS)) / 1e6,
	}
}

// storedBatch is how many keys one round trip of BytesStored measures.
const storedBatch = 500

// BytesStored measures, now, the bytes of what the store holds for the tenant: its execution
// records and summaries (those of its index, at most Options.ExecutionsKept plus the runs in
// flight), its deployment records and their version records. It reads the records' lengths
// (STRLEN, a round trip per storedBatch keys) and the version records (small, at most
// Options.VersionsKept a deployment): bounded by the index cap and the tenant's deployments,
// never by its history. Live logs, queues and images are not counted.
func (s *Store) BytesStored(ctx context.Context, tid string) (int64, error) {
	ids, err := s.rdb.ZRange(ctx, s.k.execs(tid), 0, -1).Result()
	if err != nil {
		return 0, unavailable("measure stored bytes", err)
	}
	names, err := s.rdb.SMembers(ctx, s.k.deps(tid)).Result()
	if err != nil {
		return 0, unavailable("measure stored bytes", err)
	}
	keys := make([]string, 0, 2*len(ids)+len(names))
	for _, id := range ids {
		keys = append(keys, s.k.exec(tid, id), s.k.sum(tid, id))
	}
	for _, name := range names {
		keys = append(keys, s.k.dep(tid, name))
	}
	total, err := s.strlens(ctx, keys)
	if err != nil {
		return 0, err
	}
	for _, name := range names {
		vals, err := s.rdb.HVals(ctx, s.k.vers(tid, name)).Result()
		if err != nil {
			return 0, unavailable("measure stored bytes", err)
		}
		for _, v := range vals {
			total += int64(len(v))
		}
	}
	return total, nil
}

// strlenScript returns the sum of the lengths of the string keys KEYS (missing ones count 0).
var strlenScript = redis.NewScript(`
local n = 0
for _, k in ipairs(KEYS) do n = n + redis.call('STRLEN', k) end
return n`)

// strlens sums the lengths of the string keys, storedBatch a round trip.
func (s *Store) strlens(ctx context.Context, keys []string) (int64, error) {
	var total int64
	for start := 0; start < len(keys); start += storedBatch {
		n, err := strlenScript.Run(ctx, s.rdb, keys[start:min(start+storedBatch, len(keys))]).Int64()
		if err != nil {
			return 0, unavailable("measure stored bytes", err)
		}
		total += n
	}
	return total, nil
}

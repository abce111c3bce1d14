package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Queue names one of the work streams.
type Queue int

// The work queues.
const (
	Builds Queue = iota
	Runs
)

func (q Queue) String() string {
	if q == Builds {
		return "builds"
	}
	return "runs"
}

const group = "workers"

// Job is one entry of a work queue, delivered to one consumer until acknowledged.
type Job struct {
	Queue   Queue
	EntryID string
	Tenant  string
	// ID is the execution id, Deployment its deployment's name; Sync says a caller waits for
	// the record (runs); Notify that the terminal record is handed to waiters (a sync run, or
	// one with an idempotency key, which a repeated sync request may wait for).
	ID         string
	Deployment string
	Sync       bool
	Notify     bool
	// Name and Version identify the deployment version to build (builds).
	Name    string
	Version int
	// Enqueued is when the entry was added (from its stream id).
	Enqueued time.Time
	// inputs are a claimed run's execution and deployment records as the claim read them (nil
	// when it did not): see JobInputs.
	inputs *[2]any
}

// streamOf is the stream a job lives in: its tenant's build or run stream.
func (s *Store) streamOf(j Job) string {
	if j.Queue == Builds {
		return s.k.builds(j.Tenant)
	}
	return s.k.runs(j.Tenant)
}

// EnsureGroups prepares the store at a node's start: it moves the keys of an earlier key layout
// to the current one (migrate.go), moves the build jobs an earlier release queued on its one
// shared build stream to their tenants' build streams (the streams and their consumer groups are
// created with a tenant's first job), and copies the tenants' run caps for the claim. Calling it
// again, or on several nodes at once, is harmless.
func (s *Store) EnsureGroups(ctx context.Context) error {
	if err := s.ensureLayout(ctx); err != nil {
		return err
	}
	if err := s.copyCaps(ctx); err != nil {
		return unavailable("copy run caps", err)
	}
	err := migrateBuildsScript.Run(ctx, s.rdb, []string{s.k.legacyBuilds(), s.k.buildTenants(), s.k.brr(), s.k.bwake()},
		s.k.builds(""), wakeKept).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return unavailable("move queued builds", err)
	}
	return nil
}

// NextJob blocks up to block (which must be positive) for a new job of the queue, delivered to
// consumer. It returns (nil, nil) when none arrived in time. Jobs are taken fairly across
// tenants, each tenant capped in concurrent jobs of the queue (RunCap, BuildCap): see nextJob.
func (s *Store) NextJob(ctx context.Context, q Queue, consumer string, block time.Duration) (*Job, error) {
	return s.nextJob(ctx, s.lane(q), consumer, block)
}

// touchScript resets a pending entry's idle time only while the consumer still owns it, so a slow
// worker can never take back a job that another worker has reclaimed.
var touchScript = redis.NewScript(`
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1, ARGV[3])
if #p == 0 then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1`)

// ErrLost means the job is no longer this consumer's: another worker reclaimed it.
var ErrLost = errors.New("job reclaimed by another worker")

// Touch resets the idle time of a job being worked on, so that Reclaim does not hand it to another
// worker while this one is alive. Workers call it periodically during long jobs. ErrLost when
// the job was reclaimed meanwhile.
func (s *Store) Touch(ctx context.Context, j Job, consumer string) error {
	n, err := touchScript.Run(ctx, s.rdb, []string{s.streamOf(j)}, group, j.EntryID, consumer).Int()
	if err != nil {
		return unavailable("touch job", err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", j, ErrLost)
	}
	return nil
}

// Ack acknowledges and deletes a job without writing any record (e.g. a job whose target vanished).
func (s *Store) Ack(ctx context.Context, j Job) error {
	if s.cluster && j.Queue == Runs {
		return s.ackSplit(ctx, j)
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		s.ack(ctx, p, j)
		return nil
	})
	if err != nil {
		return unavailable("ack", err)
	}
	return nil
}

func (s *Store) ack(ctx context.Context, p redis.Pipeliner, j Job) {
	p.XAck(ctx, s.streamOf(j), group, j.EntryID)
	p.XDel(ctx, s.streamOf(j), j.EntryID)
	// A slot of the tenant is free: wake a worker that may have passed over it.
	wake := s.lane(j.Queue).wake
	p.RPush(ctx, wake, 1)
	p.LTrim(ctx, wake, -wakeKept, -1)
}

// QueueDepth returns how many jobs wait in the queue, not yet delivered to any worker.
func (s *Store) QueueDepth(ctx context.Context, q Queue) (int64, error) {
	l := s.lane(q)
	tids, err := s.rdb.SMembers(ctx, l.tenants).Result()
	if err != nil {
		return 0, unavailable("queue depth", err)
	}
	var total int64
	for _, tid := range tids {
		n, err := s.waiting(ctx, l.streamPrefix+tid)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// waiting counts a stream's entries not yet delivered (entries are deleted once acknowledged).
func (s *Store) waiting(ctx context.Context, stream string) (int64, error) {
	n, err := s.rdb.XLen(ctx, stream).Result()
	if err != nil {
		return 0, unavailable("queue depth", err)
	}
	p, err := s.rdb.XPending(ctx, stream, group).Result()
	if err != nil && !errors.Is(err, redis.Nil) && !strings.Contains(err.Error(), "NOGROUP") {
		return 0, unavailable("queue depth", err)
	}
	if p != nil {
		n -= p.Count
	}
	return max(n, 0), nil
}

func parseJob(q Queue, m redis.XMessage) Job {
	str := func(k string) string { v, _ := m.Values[k].(string); return v }
	j := Job{Queue: q, EntryID: m.ID, Tenant: str("tenant"), ID: str("id"), Name: str("name"),
		Deployment: str("dep"), Sync: str("sync") == "1", Notify: str("sync") == "1" || str("sync") == "n"}
	j.Version, _ = strconv.Atoi(str("version"))
	if ms, err := strconv.ParseInt(strings.SplitN(m.ID, "-", 2)[0], 10, 64); err == nil {
		j.Enqueued = time.UnixMilli(ms)
	}
	return j
}

// syncField is how a run job's Sync and Notify are kept in its stream entry: "1" sync, "n" async
// but notifying waiters, "0" neither.
func syncField(sync, notify bool) string {
	switch {
	case sync:
		return "1"
	case notify:
		return "n"
	}
	return "0"
}

// String names a job for logs (no user data beyond the deployment name).
func (j Job) String() string {
	if j.Queue == Builds {
		return fmt.Sprintf("build %s/%s v%d", j.Tenant, j.Name, j.Version)
	}
	return fmt.Sprintf("run %s/%s", j.Tenant, j.ID)
}

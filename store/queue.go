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
	// ID is the execution id (runs).
	ID string
	// Name and Version identify the deployment version to build (builds).
	Name    string
	Version int
	// Enqueued is when the entry was added (from its stream id).
	Enqueued time.Time
}

func (s *Store) stream(q Queue) string {
	if q == Builds {
		return s.k.builds()
	}
	return s.k.runs()
}

// EnsureGroups creates the streams and their consumer group when missing.
func (s *Store) EnsureGroups(ctx context.Context) error {
	for _, q := range []Queue{Builds, Runs} {
		err := s.rdb.XGroupCreateMkStream(ctx, s.stream(q), group, "0").Err()
		if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
			return unavailable("create group "+q.String(), err)
		}
	}
	return nil
}

// NextJob blocks up to block (which must be positive: 0 would block forever) for a new job of
// the queue, delivered to consumer. It returns (nil, nil) when none arrived in time.
func (s *Store) NextJob(ctx context.Context, q Queue, consumer string, block time.Duration) (*Job, error) {
	res, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: group, Consumer: consumer, Streams: []string{s.stream(q), ">"}, Count: 1, Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("read "+q.String(), err)
	}
	for _, st := range res {
		for _, m := range st.Messages {
			j := parseJob(q, m)
			return &j, nil
		}
	}
	return nil, nil
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
	n, err := touchScript.Run(ctx, s.rdb, []string{s.stream(j.Queue)}, group, j.EntryID, consumer).Int()
	if err != nil {
		return unavailable("touch job", err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", j, ErrLost)
	}
	return nil
}

// Reclaim takes over up to count jobs that were delivered to some consumer but not acknowledged
// for longer than minIdle — the consumer died — and returns them, now delivered to consumer.
func (s *Store) Reclaim(ctx context.Context, q Queue, consumer string, minIdle time.Duration, count int64) ([]Job, error) {
	msgs, _, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: s.stream(q), Group: group, Consumer: consumer, MinIdle: minIdle, Start: "0-0", Count: count,
	}).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable("reclaim "+q.String(), err)
	}
	out := make([]Job, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, parseJob(q, m))
	}
	return out, nil
}

// Ack acknowledges and deletes a job without writing any record (e.g. a job whose target vanished).
func (s *Store) Ack(ctx context.Context, j Job) error {
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
	p.XAck(ctx, s.stream(j.Queue), group, j.EntryID)
	p.XDel(ctx, s.stream(j.Queue), j.EntryID)
}

// QueueDepth returns how many jobs wait in the queue, not yet delivered to any worker.
func (s *Store) QueueDepth(ctx context.Context, q Queue) (int64, error) {
	n, err := s.rdb.XLen(ctx, s.stream(q)).Result()
	if err != nil {
		return 0, unavailable("queue depth", err)
	}
	p, err := s.rdb.XPending(ctx, s.stream(q), group).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, unavailable("queue depth", err)
	}
	if p != nil {
		n -= p.Count
	}
	return max(n, 0), nil
}

func parseJob(q Queue, m redis.XMessage) Job {
	str := func(k string) string { v, _ := m.Values[k].(string); return v }
	j := Job{Queue: q, EntryID: m.ID, Tenant: str("tenant"), ID: str("id"), Name: str("name")}
	j.Version, _ = strconv.Atoi(str("version"))
	if ms, err := strconv.ParseInt(strings.SplitN(m.ID, "-", 2)[0], 10, 64); err == nil {
		j.Enqueued = time.UnixMilli(ms)
	}
	return j
}

// String names a job for logs (no user data beyond the deployment name).
func (j Job) String() string {
	if j.Queue == Builds {
		return fmt.Sprintf("build %s/%s v%d", j.Tenant, j.Name, j.Version)
	}
	return fmt.Sprintf("run %s/%s", j.Tenant, j.ID)
}

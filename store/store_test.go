package store_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// testStore is a Store over an in-process miniredis, or over the Redis Cluster (cluster_test.go),
// with the raw pieces for inspection.
type testStore struct {
	*store.Store
	mr     *testRedis
	rdb    redis.UniversalClient
	prefix string
}

// options are opts with the test defaults and this store's prefix: those of another node of
// the same store.
func (s *testStore) options(opts store.Options) store.Options {
	if opts.Prefix == "" {
		opts.Prefix = s.prefix
	}
	return withTestDefaults(opts)
}

// testKey is the secret key of test stores.
var testKey = []byte("k-0123456789abcdef0123456789abcd")

// withTestDefaults fills what a test leaves out: the daemon's prefix, TTL and run cap, testKey.
func withTestDefaults(opts store.Options) store.Options {
	if opts.SecretKey == nil {
		opts.SecretKey = testKey
	}
	if opts.Prefix == "" {
		opts.Prefix = "fs:"
	}
	if opts.ResultTTL == 0 {
		opts.ResultTTL = 7 * 24 * time.Hour
	}
	if opts.RunCap == 0 {
		opts.RunCap = 4
	}
	return opts
}

// mustOpenStore returns a store over a fresh miniredis with its consumer groups created. The
// store reaches miniredis over in-memory pipes, never a socket, so it also works inside a
// testing/synctest bubble: there blocking pops time out on the bubble's fake clock, and
// synctest.Wait returns once every client is blocked in Redis.
func mustOpenStore(tb testing.TB, opts store.Options) *testStore {
	tb.Helper()
	var ts *testStore
	if onCluster() {
		rdb, prefix := clusterClient(tb)
		if opts.Prefix == "" {
			opts.Prefix = prefix
		}
		ts = &testStore{mr: &testRedis{tb: tb, rdb: rdb, prefix: opts.Prefix}, rdb: rdb}
	} else {
		mr := miniredis.NewMiniRedis()
		tb.Cleanup(mr.Close)
		rdb := redis.NewClient(&redis.Options{
			Dialer: func(context.Context, string, string) (net.Conn, error) { return mr.Dial() },
			// Off: it would look the address up in the DNS to classify the endpoint; a bubble
			// allows no DNS.
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		})
		tb.Cleanup(func() { _ = rdb.Close() })
		ts = &testStore{mr: &testRedis{tb: tb, mini: mr, rdb: rdb}, rdb: rdb}
	}
	opts = withTestDefaults(opts)
	ts.prefix = opts.Prefix
	s, err := store.New(ts.rdb, opts)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.EnsureGroups(context.Background()); err != nil {
		tb.Fatalf("EnsureGroups: %v", err)
	}
	// A second call must be harmless (every node calls it at start-up).
	if err := s.EnsureGroups(context.Background()); err != nil {
		tb.Fatalf("EnsureGroups again: %v", err)
	}
	if splitSteps() {
		s.SplitSteps()
	}
	ts.Store = s
	return ts
}

// testClock is a settable clock for Options.Now.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock(t time.Time) *testClock { return &testClock{now: t} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// t0 is the time tests start their clocks at: a whole millisecond, as stream ids count them.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func mustCreateTenant(tb testing.TB, s *testStore, name string) (faaspot.Tenant, string) {
	tb.Helper()
	t, token, err := s.CreateTenant(context.Background(), name)
	if err != nil {
		tb.Fatalf("CreateTenant(%q): %v", name, err)
	}
	return t, token
}

// mustNextJob reads the next job of q, failing when none arrives.
// mustHeartbeat marks consumer alive for an hour.
func mustHeartbeat(tb testing.TB, s *testStore, consumer string) {
	tb.Helper()
	if err := s.Heartbeat(context.Background(), consumer, time.Hour); err != nil {
		tb.Fatal(err)
	}
}

// mustNextJob claims the next job of q for consumer, marked alive first.
func mustNextJob(tb testing.TB, s *testStore, q store.Queue, consumer string) store.Job {
	tb.Helper()
	mustHeartbeat(tb, s, consumer)
	j, err := s.NextJob(context.Background(), q, consumer, 100*time.Millisecond)
	if err != nil || j == nil {
		tb.Fatalf("NextJob(%v) = %v, %v; want a job", q, j, err)
	}
	return *j
}

// mustNoJob checks that q has no job for consumer.
func mustNoJob(tb testing.TB, s *testStore, q store.Queue) {
	tb.Helper()
	j, err := s.NextJob(context.Background(), q, "probe", 20*time.Millisecond)
	if err != nil || j != nil {
		tb.Fatalf("NextJob(%v) = %+v, %v; want none", q, j, err)
	}
}

// allText returns every key and value in the Redis, for leak checks.
func allText(tb testing.TB, mr *testRedis) []string {
	tb.Helper()
	var out []string
	for _, k := range mr.Keys() {
		out = append(out, k)
		switch mr.Type(k) {
		case "string":
			v, _ := mr.Get(k)
			out = append(out, v)
		case "hash":
			fields, _ := mr.HKeys(k)
			for _, f := range fields {
				out = append(out, f, mr.HGet(k, f))
			}
		case "set":
			m, _ := mr.Members(k)
			out = append(out, m...)
		case "zset":
			m, _ := mr.ZMembers(k)
			out = append(out, m...)
		case "list":
			m, _ := mr.List(k)
			out = append(out, m...)
		case "stream":
			entries, _ := mr.Stream(k)
			for _, e := range entries {
				out = append(out, e.ID)
				out = append(out, e.Values...)
			}
		default:
			tb.Fatalf("key %s has unexpected type %s", k, mr.Type(k))
		}
	}
	return out
}

// TestInstallationID: every node of one store reads the same id; a store under another prefix
// of the same Redis has another.
func TestInstallationID(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	first, err := s.InstallationID(ctx)
	if err != nil || len(first) != 16 {
		t.Fatalf("InstallationID = %q, %v", first, err)
	}
	peer, err := store.New(s.rdb, s.options(store.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if again, err := peer.InstallationID(ctx); err != nil || again != first {
		t.Errorf("another node of the store reads %q, %v; want %q", again, err, first)
	}
	other, err := store.New(s.rdb, s.options(store.Options{Prefix: s.prefix + "other:"}))
	if err != nil {
		t.Fatal(err)
	}
	if id, err := other.InstallationID(ctx); err != nil || id == first {
		t.Errorf("a store under another prefix reads %q, %v; want an id of its own", id, err)
	}
}

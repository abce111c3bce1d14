package store_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// testRedis is what tests inspect the Redis under a test store with, in miniredis's terms: the
// miniredis itself, or the same reads and writes made on the Redis Cluster (keys of the store's
// prefix only). What only miniredis can do (set its clock, count commands) skips the test on the
// Cluster.
type testRedis struct {
	tb     testing.TB
	mini   *miniredis.Miniredis // nil on the Cluster
	rdb    redis.UniversalClient
	prefix string
}

var bg = context.Background()

func (r *testRedis) skip(what string) {
	r.tb.Helper()
	r.tb.Skip("skipped on Redis Cluster: " + what + " needs miniredis")
}

// CommandCount is miniredis's count of the commands it served.
func (r *testRedis) CommandCount() int {
	if r.mini == nil {
		r.skip("counting the commands a call makes")
	}
	return r.mini.CommandCount()
}

// FastForward moves miniredis's TTL clock.
func (r *testRedis) FastForward(d time.Duration) {
	if r.mini == nil {
		r.skip("moving the server's clock (FastForward)")
	}
	r.mini.FastForward(d)
}

// SetTime sets miniredis's clock (TIME, stream ids).
func (r *testRedis) SetTime(t time.Time) {
	if r.mini == nil {
		r.skip("setting the server's clock (SetTime)")
	}
	r.mini.SetTime(t)
}

func (r *testRedis) Del(k string) bool {
	if r.mini != nil {
		return r.mini.Del(k)
	}
	return r.rdb.Del(bg, k).Val() == 1
}

func (r *testRedis) Exists(k string) bool {
	if r.mini != nil {
		return r.mini.Exists(k)
	}
	return r.rdb.Exists(bg, k).Val() == 1
}

func (r *testRedis) Get(k string) (string, error) {
	if r.mini != nil {
		return r.mini.Get(k)
	}
	return r.rdb.Get(bg, k).Result()
}

func (r *testRedis) Set(k, v string) error {
	if r.mini != nil {
		return r.mini.Set(k, v)
	}
	return r.rdb.Set(bg, k, v, 0).Err()
}

// TTL is a key's time to live, 0 when it has none (as miniredis says); on the Cluster rounded
// up to whole seconds, as the milliseconds since it was set have passed on a real server.
func (r *testRedis) TTL(k string) time.Duration {
	if r.mini != nil {
		return r.mini.TTL(k)
	}
	d := max(r.rdb.PTTL(bg, k).Val(), 0)
	return (d + time.Second - 1).Truncate(time.Second)
}

// Keys returns the keys, sorted: on the Cluster those of the store's prefix, on every master.
func (r *testRedis) Keys() []string {
	if r.mini != nil {
		return r.mini.Keys()
	}
	var out []string
	cc := r.rdb.(*redis.ClusterClient)
	var mu sync.Mutex
	err := cc.ForEachMaster(bg, func(ctx context.Context, c *redis.Client) error {
		keys, err := c.Keys(ctx, r.prefix+"*").Result()
		mu.Lock()
		defer mu.Unlock()
		out = append(out, keys...)
		return err
	})
	if err != nil {
		r.tb.Fatalf("keys: %v", err)
	}
	sort.Strings(out)
	return out
}

func (r *testRedis) Stream(k string) ([]miniredis.StreamEntry, error) {
	if r.mini != nil {
		return r.mini.Stream(k)
	}
	msgs, err := r.rdb.XRange(bg, k, "-", "+").Result()
	out := make([]miniredis.StreamEntry, 0, len(msgs))
	for _, m := range msgs {
		e := miniredis.StreamEntry{ID: m.ID}
		for f, v := range m.Values {
			s, _ := v.(string)
			e.Values = append(e.Values, f, s)
		}
		out = append(out, e)
	}
	return out, err
}

func (r *testRedis) XAdd(k, id string, values []string) (string, error) {
	if r.mini != nil {
		return r.mini.XAdd(k, id, values)
	}
	return r.rdb.XAdd(bg, &redis.XAddArgs{Stream: k, ID: id, Values: values}).Result()
}

func (r *testRedis) Type(k string) string {
	if r.mini != nil {
		return r.mini.Type(k)
	}
	return r.rdb.Type(bg, k).Val()
}

func (r *testRedis) HKeys(k string) ([]string, error) {
	if r.mini != nil {
		return r.mini.HKeys(k)
	}
	return r.rdb.HKeys(bg, k).Result()
}

func (r *testRedis) HGet(k, f string) string {
	if r.mini != nil {
		return r.mini.HGet(k, f)
	}
	return r.rdb.HGet(bg, k, f).Val()
}

func (r *testRedis) Members(k string) ([]string, error) {
	if r.mini != nil {
		return r.mini.Members(k)
	}
	return r.rdb.SMembers(bg, k).Result()
}

func (r *testRedis) ZMembers(k string) ([]string, error) {
	if r.mini != nil {
		return r.mini.ZMembers(k)
	}
	return r.rdb.ZRange(bg, k, 0, -1).Result()
}

func (r *testRedis) List(k string) ([]string, error) {
	if r.mini != nil {
		return r.mini.List(k)
	}
	return r.rdb.LRange(bg, k, 0, -1).Result()
}

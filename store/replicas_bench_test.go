package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/internal/redistest"
	"github.com/faaspot/faaspot/store"
)

// BenchmarkEnqueueMinReplicas measures what FAASPOT_REDIS_MIN_REPLICAS costs an accepted run:
// EnqueueRun on a real master with one replica (Debian's redis-server on loopback), without
// WAIT and with WAIT 1, side by side in one run.
func BenchmarkEnqueueMinReplicas(b *testing.B) {
	master := redistest.StartServer(b)
	redistest.StartServer(b, "--replicaof", "127.0.0.1", fmt.Sprint(master.Port))
	master.WaitReplicas(b, 1)
	mc := master.Client()
	defer mc.Close()
	ctx := context.Background()
	for _, n := range []int{0, 1} {
		b.Run(fmt.Sprintf("min_replicas=%d", n), func(b *testing.B) {
			s, err := store.New(mc, withTestDefaults(store.Options{Prefix: fmt.Sprintf("b%d:", n), MinReplicas: n}))
			if err != nil {
				b.Fatal(err)
			}
			if err := s.EnsureGroups(ctx); err != nil {
				b.Fatal(err)
			}
			tenant, _, err := s.CreateTenant(ctx, fmt.Sprintf("bench%d", time.Now().UnixNano()))
			if err != nil {
				b.Fatal(err)
			}
			e := faaspot.Execution{Deployment: "f", Status: faaspot.ExecQueued, CreatedAt: time.Now()}
			b.ResetTimer()
			for i := range b.N {
				e.ID = fmt.Sprintf("e%d-%d", b.N, i)
				if err := s.EnqueueRun(ctx, tenant.ID, e, 0, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

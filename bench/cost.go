package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
)

// indexKept is how many executions a tenant's index keeps (the store's default ExecutionsKept,
// which the daemon does not change): an enqueue past it deletes the oldest records.
const indexKept = 1000

// redisCost is Redis memory per completed small execution: used_memory before and after
// Executions completed async runs of the echo function over HTTP on an all-in-one node, spread
// over tenants so that no tenant's index passes indexKept (each run's record is kept).
type redisCost struct {
	Executions  int     `json:"executions"`
	Tenants     int     `json:"tenants"`
	Completed   int     `json:"completed"`
	NotComplete int     `json:"not_completed"`
	RunS        float64 `json:"run_s"` // from the first request to the last completion
	UsedBefore  int64   `json:"used_memory_before"`
	UsedAfter   int64   `json:"used_memory_after"`
	BytesPerRun float64 `json:"bytes_per_execution"`
	KeysBefore  int64   `json:"keys_before"` // keys under the node's prefix
	KeysAfter   int64   `json:"keys_after"`
	KeysPerRun  float64 `json:"keys_per_execution"`
}

// costTenant is one tenant of the cost phase and the execution ids of its runs.
type costTenant struct {
	c   *fsclient.Client
	ids []string
}

// benchRedisCost starts a node, makes the tenants (each deploying echo and running it once,
// so that their streams exist), reads Redis, runs the executions, waits for them all to end and
// reads Redis again.
func (e *benchEnv) benchRedisCost(ctx context.Context, executions int) (redisCost, error) {
	per := indexKept - 1 // the warm-up run takes one place in each index
	res := redisCost{Executions: executions, Tenants: (executions + per - 1) / per}
	n, err := e.startNode(ctx, "cost", nil)
	if err != nil {
		return res, err
	}
	defer n.close()
	ts := make([]*costTenant, res.Tenants)
	for i := range ts {
		token, err := n.newTenant(ctx, fmt.Sprintf("cost-%d", i))
		if err != nil {
			return res, err
		}
		ts[i] = &costTenant{c: fsclient.New(n.url, token)}
		if _, err := ts[i].c.CreateDeployment(ctx, faaspot.DeploymentRequest{Name: "echo", Code: echoCode}, true); err != nil {
			return res, fmt.Errorf("deploy echo for cost-%d: %w", i, err)
		}
		if _, _, err := ts[i].c.RunSync(ctx, "echo", map[string]any{"name": "bench"}); err != nil {
			return res, fmt.Errorf("warm-up run of cost-%d: %w", i, err)
		}
	}
	rdb, err := e.redis.client()
	if err != nil {
		return res, err
	}
	defer rdb.Close()
	time.Sleep(500 * time.Millisecond) // the warm-up's asynchronous writes (usage, pool) are done
	if res.UsedBefore, res.KeysBefore, err = usedMemory(ctx, rdb, n.cfg.KeyPrefix); err != nil {
		return res, err
	}
	start := time.Now()
	if err := runAll(ctx, ts, executions, per); err != nil {
		return res, err
	}
	if res.Completed, res.NotComplete, err = waitEnded(ctx, ts, 3*time.Minute); err != nil {
		return res, err
	}
	res.RunS = time.Since(start).Seconds()
	time.Sleep(500 * time.Millisecond)
	if res.UsedAfter, res.KeysAfter, err = usedMemory(ctx, rdb, n.cfg.KeyPrefix); err != nil {
		return res, err
	}
	res.BytesPerRun = float64(res.UsedAfter-res.UsedBefore) / float64(executions)
	res.KeysPerRun = float64(res.KeysAfter-res.KeysBefore) / float64(executions)
	return res, nil
}

// runAll queues the executions, per at most per tenant, 16 requests at a time.
func runAll(ctx context.Context, ts []*costTenant, executions, per int) error {
	for i, t := range ts {
		k := min(per, executions-i*per)
		ids := make(chan string, k)
		o := closedLoop(ctx, 16, time.Hour, int64(k), func(ctx context.Context) (reply, error) {
			id, err := t.c.Run(ctx, "echo", map[string]any{"name": "bench"})
			if err == nil {
				ids <- id
			}
			return reply{}, err
		})
		close(ids)
		for id := range ids {
			t.ids = append(t.ids, id)
		}
		if o.errors > 0 {
			return fmt.Errorf("async runs: %d refused: %v", o.errors, o.first)
		}
	}
	return nil
}

// waitEnded polls each tenant's listing until every run it queued has ended (or limit passes),
// and counts those that completed.
func waitEnded(ctx context.Context, ts []*costTenant, limit time.Duration) (completed, other int, err error) {
	deadline := time.Now().Add(limit)
	for {
		completed, other = 0, 0
		pending := 0
		for _, t := range ts {
			want := map[string]bool{}
			for _, id := range t.ids {
				want[id] = true
			}
			es, _, err := t.c.ListExecutions(ctx, faaspot.ExecutionQuery{Limit: indexKept})
			if err != nil {
				return 0, 0, err
			}
			for _, s := range es {
				switch {
				case !want[s.ID]:
				case s.Status == faaspot.ExecCompleted:
					completed++
				case s.Status.Terminal():
					other++
				default:
					pending++
				}
			}
		}
		if pending == 0 || time.Now().After(deadline) {
			return completed, other, nil
		}
		select {
		case <-ctx.Done():
			return completed, other, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// usedMemory reads Redis's used_memory and counts the keys under prefix.
func usedMemory(ctx context.Context, rdb *redis.Client, prefix string) (used, keys int64, err error) {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, 0, fmt.Errorf("redis INFO memory: %w", err)
	}
	if used, err = infoField(info, "used_memory"); err != nil {
		return 0, 0, err
	}
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys++
	}
	return used, keys, iter.Err()
}

// infoField reads an integer field of Redis's INFO answer ("name:value" lines).
func infoField(info, name string) (int64, error) {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("redis INFO: no %s", name)
}

package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// loadOutcome is what a closed-loop load of concurrent clients achieved.
type loadOutcome struct {
	ok      int
	errors  int
	elapsed time.Duration
	lat     []time.Duration
	first   error
}

// closedLoop runs clients goroutines, each sending one request after another (do), until
// duration has passed or limit requests were sent; it returns when every request has answered.
func closedLoop(ctx context.Context, clients int, duration time.Duration, limit int64, do func(context.Context) (reply, error)) loadOutcome {
	var sent atomic.Int64
	var mu sync.Mutex
	var out loadOutcome
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(duration)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			ok, bad := 0, 0
			var first error
			for time.Now().Before(deadline) && sent.Add(1) <= limit && ctx.Err() == nil {
				r, err := do(ctx)
				if err != nil {
					bad++
					if first == nil {
						first = err
					}
					continue
				}
				ok++
				lat = append(lat, r.took)
			}
			mu.Lock()
			defer mu.Unlock()
			out.ok, out.errors = out.ok+ok, out.errors+bad
			out.lat = append(out.lat, lat...)
			if out.first == nil {
				out.first = first
			}
		}()
	}
	wg.Wait()
	out.elapsed = time.Since(start)
	return out
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

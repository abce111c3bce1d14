package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
)

// scaleResult is the cost of many deployments on one all-in-one node: the time for Deployments
// code-only deployments (no requirements: they share the dependencies image, built before the
// clock starts), created at once with ?wait=false, to all be ready; then the daemon's memory once
// a run of each has filled the warm pool to its cap.
type scaleResult struct {
	Deployments int `json:"deployments"`
	// CreateRefusals counts creates answered 503 or 429, sent again after a pause (a client's
	// duty); CreateErrors those that still failed, FirstRefusal the first such answer.
	CreateRefusals int     `json:"create_refusals_retried"`
	CreateErrors   int     `json:"create_errors"`
	FirstRefusal   string  `json:"first_refusal,omitempty"`
	CreateS        float64 `json:"create_s"` // sending the creates, retries included
	Ready          int     `json:"ready"`
	Failed         int     `json:"failed"`
	ReadyS         float64 `json:"all_ready_s"` // from the first create to the last ready (the bound when not all were)
	AllReady       bool    `json:"all_ready"`
	BoundS         float64 `json:"bound_s"`
	RunErrors      int     `json:"run_errors"`
	RunsS          float64 `json:"runs_s"`
	// Memory: the daemon's resident set with the seed deployment only, then with every deployment
	// and the pool at its cap; the pool's running containers and its configured cap.
	RSSBeforeMB    float64 `json:"daemon_rss_before_mb"`
	RSSAfterMB     float64 `json:"daemon_rss_after_mb"`
	PoolContainers int     `json:"pool_containers"`
	PoolCap        int     `json:"pool_cap"`
}

// benchScale measures the scale figures on a node of its own.
func (e *benchEnv) benchScale(ctx context.Context, count int, bound time.Duration) (scaleResult, error) {
	res := scaleResult{Deployments: count, BoundS: bound.Seconds()}
	n, err := e.startNode(ctx, "scale", nil)
	if err != nil {
		return res, err
	}
	defer n.close()
	res.PoolCap = n.cfg.WarmMaxTotal
	if _, _, err := n.deploy(ctx, "seed", echoCode); err != nil { // builds the dependencies image
		return res, err
	}
	rss, err := processRSS(n.pid())
	if err != nil {
		return res, err
	}
	res.RSSBeforeMB = mb(uint64(rss))
	start := time.Now()
	names := make([]string, count)
	for i := range names {
		names[i] = fmt.Sprintf("d%03d", i)
	}
	var mu sync.Mutex
	var created []string
	res.CreateErrors = parallel(ctx, 8, names, func(ctx context.Context, name string) error {
		refused, err := createRetrying(ctx, n, name)
		mu.Lock()
		defer mu.Unlock()
		res.CreateRefusals += len(refused)
		if len(refused) > 0 && res.FirstRefusal == "" {
			res.FirstRefusal = errString(refused[0])
		}
		if err == nil {
			created = append(created, name)
		}
		return err
	})
	res.CreateS = time.Since(start).Seconds()
	if err := waitReady(ctx, n, created, start.Add(bound), &res); err != nil {
		return res, err
	}
	res.ReadyS = time.Since(start).Seconds()
	res.AllReady = res.AllReady && len(created) == count
	if !res.AllReady {
		res.ReadyS = max(res.ReadyS, bound.Seconds())
	}
	runStart := time.Now()
	res.RunErrors = parallel(ctx, n.cfg.Workers, names, func(ctx context.Context, name string) error {
		_, err := n.syncRun(ctx, name)
		return err
	})
	res.RunsS = time.Since(runStart).Seconds()
	time.Sleep(2 * time.Second) // the last runs' containers are back in the pool
	if cs, err := e.sandboxes(ctx, n.cfg.NodeID, false); err == nil {
		res.PoolContainers = len(cs)
	}
	if rss, err = processRSS(n.pid()); err != nil {
		return res, err
	}
	res.RSSAfterMB = mb(uint64(rss))
	return res, nil
}

// createRetrying creates a deployment with ?wait=false; an answer 503 or 429 is sent again
// after a pause, up to 20 times. It returns the refusals it met.
func createRetrying(ctx context.Context, n *node, name string) ([]error, error) {
	var refused []error
	for attempt := 0; ; attempt++ {
		_, err := n.c.CreateDeployment(ctx, faaspot.DeploymentRequest{Name: name, Code: helloCode(0) + "# " + name + "\n"}, false)
		if err == nil || attempt == 20 || !(fsclient.IsStatus(err, http.StatusServiceUnavailable) || fsclient.IsStatus(err, http.StatusTooManyRequests)) {
			return refused, err
		}
		refused = append(refused, err)
		select {
		case <-ctx.Done():
			return refused, ctx.Err()
		case <-time.After(time.Duration(50*(attempt+1)) * time.Millisecond):
		}
	}
}

// waitReady polls the tenant's deployments every 250 ms until every one of names is ready or
// failed, or deadline passes.
func waitReady(ctx context.Context, n *node, names []string, deadline time.Time, res *scaleResult) error {
	want := map[string]bool{}
	for _, name := range names {
		want[name] = true
	}
	for {
		ds, err := n.c.ListDeployments(ctx)
		if err != nil {
			return err
		}
		res.Ready, res.Failed = 0, 0
		for _, d := range ds {
			switch {
			case !want[d.Name]:
			case d.Status == faaspot.StatusReady:
				res.Ready++
			case d.Status == faaspot.StatusFailed:
				res.Failed++
			}
		}
		res.AllReady = res.Ready == len(names)
		if res.Ready+res.Failed == len(names) || time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// parallel calls f on every item, workers at a time, and returns how many calls failed.
func parallel(ctx context.Context, workers int, items []string, f func(context.Context, string) error) int {
	ch := make(chan string)
	var mu sync.Mutex
	var wg sync.WaitGroup
	failed := 0
	for range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range ch {
				if err := f(ctx, it); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		}()
	}
	for _, it := range items {
		ch <- it
	}
	close(ch)
	wg.Wait()
	return failed
}

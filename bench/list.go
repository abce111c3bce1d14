package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/daemon"
	"github.com/faaspot/faaspot/store"
)

// listResult is the latency of GET /v1/executions?limit=100 with Records execution records stored.
// The default configuration keeps indexKept executions per tenant (an enqueue past it deletes the
// oldest records), so the records belong to Records/indexKept tenants, each with a full index;
// the listing is one tenant's first page.
type listResult struct {
	Records  int     `json:"records"`
	Tenants  int     `json:"tenants"`
	Written  int     `json:"written"`
	WriteS   float64 `json:"write_s"`
	How      string  `json:"how"`
	Template string  `json:"record_template"`
	Requests int     `json:"requests"`
	Items    int     `json:"items_per_page"`
	Errors   int     `json:"errors"`
	// LatencyMS runs from sending the request to the answer's last byte, one keep-alive
	// connection, one request at a time.
	LatencyMS summary `json:"latency_ms"`
}

// listHow says how the records are written.
const listHow = "written in-process through the store package's own run path (EnqueueRun, NextJob, " +
	"FinishRun: the scripts a worker runs, no container) into the node's Redis and prefix, " +
	"with no worker node running; then an all-in-one node serves the listing"

// benchList writes the records, then measures the listing on an all-in-one node.
func (e *benchEnv) benchList(ctx context.Context, records, requests int, sample *faaspot.Execution) (listResult, error) {
	res := listResult{Records: records, Tenants: (records + indexKept - 1) / indexKept, How: listHow, Requests: requests}
	api, err := e.startNode(ctx, "list-api", map[string]string{"FAASPOT_ROLE": "api"})
	if err != nil {
		return res, err
	}
	defer api.close()
	tokens := make([]string, res.Tenants)
	for i := range tokens {
		if tokens[i], err = api.newTenant(ctx, fmt.Sprintf("list-%03d", i)); err != nil {
			return res, err
		}
	}
	tpl := syntheticRecord()
	res.Template = "synthetic (a completed run of a function returning its arguments)"
	if sample != nil {
		tpl, res.Template = *sample, "a real completed record of the echo function (this run's)"
	}
	start := time.Now()
	res.Written, err = e.writeRecords(ctx, api.cfg, res.Tenants, records, tpl)
	res.WriteS = time.Since(start).Seconds()
	if err != nil {
		return res, err
	}
	api.close()
	n, err := e.startNodeAs(ctx, "list", api.joinVars(), tokens[0])
	if err != nil {
		return res, err
	}
	defer n.close()
	var lat []time.Duration
	for i := range requests + 20 {
		r, err := n.call(ctx, http.MethodGet, "/v1/executions?limit=100")
		if err != nil || r.status != http.StatusOK {
			res.Errors++
			continue
		}
		if i == 0 {
			var page []json.RawMessage
			_ = json.Unmarshal([]byte(r.body), &page)
			res.Items = len(page)
		}
		if i >= 20 { // the first 20 warm the connection and the daemon
			lat = append(lat, r.took)
		}
	}
	res.LatencyMS = summarize(lat)
	return res, nil
}

// writeRecords queues per tenant its share of records and completes them, 32 at a time, through
// the store's API (no worker is running on the prefix). It returns how many it completed.
func (e *benchEnv) writeRecords(ctx context.Context, cfg daemon.Config, tenants, records int, tpl faaspot.Execution) (int, error) {
	rdb, err := e.redis.client()
	if err != nil {
		return 0, err
	}
	defer rdb.Close()
	// Execution records are not sealed: the secret key is required by New, never used here.
	st, err := store.New(rdb, store.Options{Prefix: cfg.KeyPrefix, ResultTTL: cfg.ResultTTL, RunCap: 1 << 30,
		SecretKey: make([]byte, store.KeySize)})
	if err != nil {
		return 0, err
	}
	tids := make([]string, tenants)
	for i := range tids {
		t, err := st.TenantByName(ctx, fmt.Sprintf("list-%03d", i))
		if err != nil {
			return 0, err
		}
		tids[i] = t.ID
	}
	work := make(chan string, 256)
	go func() {
		defer close(work)
		for i := range records {
			select {
			case work <- tids[i%tenants]:
			case <-ctx.Done():
				return
			}
		}
	}()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var done int
	var first error
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tid := range work {
				err := writeOne(ctx, st, tid, tpl)
				mu.Lock()
				if err == nil {
					done++
				} else if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return done, first
}

// writeOne queues one run for tenant tid, takes a run job (this one or another writer's) as a
// worker would, and writes its completed record from the template.
func writeOne(ctx context.Context, st *store.Store, tid string, tpl faaspot.Execution) error {
	q := faaspot.Execution{ID: faaspot.NewID(), Deployment: "echo", Version: 1, Status: faaspot.ExecQueued,
		Args: tpl.Args, CreatedAt: time.Now().UTC()}
	if err := st.EnqueueRun(ctx, tid, q, 0, false); err != nil {
		return err
	}
	job, err := st.NextJob(ctx, store.Runs, "bench-writer", time.Second)
	if err != nil || job == nil {
		return fmt.Errorf("take a written run: %v", err)
	}
	c := tpl
	c.ID, c.Deployment, c.Version, c.CreatedAt = job.ID, job.Deployment, 1, job.Enqueued.UTC()
	started, finished := time.Now().UTC(), time.Now().UTC()
	c.StartedAt, c.FinishedAt, c.Callback, c.IdempotencyKey = &started, &finished, nil, ""
	return st.FinishRun(ctx, *job, c)
}

// syntheticRecord is a completed run of a function returning its arguments, as a worker
// records it.
func syntheticRecord() faaspot.Execution {
	zero := 0
	args := json.RawMessage(`{"name": "bench"}`)
	return faaspot.Execution{Version: 1, Attempts: 1, Status: faaspot.ExecCompleted, Args: args, Result: args,
		QueueMS: 0.4, AcquireMS: 0.1, DurationMS: 1.2, ExitCode: &zero}
}

package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/api"
)

// fakeDirect is a DirectRunner that runs what it is given (answering end on the channel it
// returns, nil: never) or, when queue is set, queues it in the store.
type fakeDirect struct {
	queue bool
	end   func(faaspot.Execution) *faaspot.Execution
	ex    api.ExecutionStore
	got   []faaspot.Deployment
}

func (f *fakeDirect) RunDirect(ctx context.Context, tid string, d faaspot.Deployment, e faaspot.Execution, maxQueued int) (<-chan faaspot.Execution, error) {
	f.got = append(f.got, d)
	if f.queue {
		return nil, f.ex.EnqueueRun(ctx, tid, e, maxQueued, true)
	}
	ch := make(chan faaspot.Execution, 1)
	if final := f.end(e); final != nil {
		ch <- *final
		close(ch)
	}
	return ch, nil
}

// TestDirectDispatch: a sync run the node runs itself is answered from its record, handed over
// in memory; one it does not end within the sync wait is answered 202; async and keyed runs are
// never offered.
func TestDirectDispatch(t *testing.T) {
	fd := &fakeDirect{end: func(e faaspot.Execution) *faaspot.Execution {
		e.Status, e.Result = faaspot.ExecCompleted, json.RawMessage(`"here"`)
		return &e
	}}
	env := newEnvWith(t, func(c *api.Config) { c.SyncWait = time.Second }, func(d *api.Deps) { d.Direct = fd })
	fd.ex = env.store
	env.readyDeployment("fn")
	rec := env.do(http.MethodPost, "/v1/sync/deployments/fn/rpc/", env.token, "")
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `"here"` || len(fd.got) != 1 || fd.got[0].ReadyVersion != 1 {
		t.Fatalf("direct run = %d %s (offered %+v)", rec.Code, rec.Body, fd.got)
	}
	fd.end = func(faaspot.Execution) *faaspot.Execution { return nil } // runs past the sync wait
	var pending faaspot.RunPending
	expect(t, env.do(http.MethodPost, "/v1/sync/deployments/fn/rpc/", env.token, ""), http.StatusAccepted, &pending)
	if pending.ExecutionID == "" {
		t.Fatal("a direct run past the sync wait answered no execution id")
	}
	expect(t, env.do(http.MethodPost, "/v1/deployments/fn/rpc/", env.token, ""), http.StatusAccepted, nil)
	env.doKeyed(http.MethodPost, "/v1/sync/deployments/fn/rpc/", "k1")
	if len(fd.got) != 2 {
		t.Fatalf("offered %d runs, want the two unkeyed sync ones", len(fd.got))
	}
}

// TestDirectDispatchQueued: a run the node does not run itself is waited for as any queued run.
func TestDirectDispatchQueued(t *testing.T) {
	fd := &fakeDirect{queue: true}
	env := newEnvWith(t, nil, func(d *api.Deps) { d.Direct = fd })
	fd.ex = env.store
	env.readyDeployment("fn")
	worker := env.runWorker(func(e *faaspot.Execution) { e.Status, e.Result = faaspot.ExecCompleted, json.RawMessage(`"queued"`) })
	rec := env.do(http.MethodPost, "/v1/sync/deployments/fn/rpc/", env.token, "")
	if err := <-worker; err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `"queued"` || len(fd.got) != 1 {
		t.Fatalf("queued run = %d %s", rec.Code, rec.Body)
	}
}

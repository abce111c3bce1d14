package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// TestEnqueueDirect: a sync run offered by a consumer is queued and claimed by it in one step when
// nothing of the tenant waits and the tenant is under its cap: no other worker can take it, it
// counts against the cap, and its terminal record acknowledges it. Otherwise (a job waiting, the
// cap reached, an idempotency key) it is queued for any worker.
func TestEnqueueDirect(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{RunCap: 2})
	tn, _ := mustCreateTenant(t, s, "acme")
	mustHeartbeat(t, s, "node-a")

	first := queued("fn", time.Now())
	job, err := s.EnqueueDirect(ctx, tn.ID, first, 0, "node-a")
	if err != nil || job == nil || job.ID != first.ID || job.Tenant != tn.ID || job.EntryID == "" || !job.Sync || job.Notify {
		t.Fatalf("EnqueueDirect = %+v, %v; want the run claimed by node-a, not notifying", job, err)
	}
	mustNoJob(t, s, store.Runs)
	if rec, err := s.GetExecution(ctx, tn.ID, first.ID); err != nil || rec.Status != faaspot.ExecQueued {
		t.Fatalf("record = %+v, %v", rec, err)
	}

	second, err := s.EnqueueDirect(ctx, tn.ID, queued("fn", time.Now()), 0, "node-a")
	if err != nil || second == nil {
		t.Fatalf("second EnqueueDirect = %+v, %v; want claimed (1 running, cap 2)", second, err)
	}
	atCap := queued("fn", time.Now())
	if j, err := s.EnqueueDirect(ctx, tn.ID, atCap, 0, "node-a"); err != nil || j != nil {
		t.Fatalf("at the cap: %+v, %v; want queued for any worker", j, err)
	}
	// One waits now: a direct offer must not jump it, even under the cap.
	done := first
	done.Status = faaspot.ExecCompleted
	if err := s.FinishRun(ctx, *job, done); err != nil {
		t.Fatal(err)
	}
	behind := queued("fn", time.Now())
	if j, err := s.EnqueueDirect(ctx, tn.ID, behind, 0, "node-a"); err != nil || j != nil {
		t.Fatalf("with a run waiting: %+v, %v; want queued behind it", j, err)
	}
	if j := mustNextJob(t, s, store.Runs, "node-b"); j.ID != atCap.ID {
		t.Fatalf("next job %s, want the one queued at the cap first", j.ID)
	}
	keyed := queued("fn", time.Now())
	keyed.IdempotencyKey = "k1"
	if j, err := s.EnqueueDirect(ctx, tn.ID, keyed, 0, "node-a"); err != nil || j != nil {
		t.Fatalf("a keyed run: %+v, %v; want queued", j, err)
	}
}

// TestClaimReadsInputs: a run job claimed from the queue comes with its execution and deployment
// records: reading them costs no command more (a reclaimed job's are read again).
func TestClaimReadsInputs(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	spec := faaspot.DeploymentSpec{Name: "fn", Source: faaspot.Source{Code: "def main(a, c): pass"}}
	if _, _, err := s.PutDeployment(ctx, tn.ID, spec, 0); err != nil {
		t.Fatal(err)
	}
	e := mustEnqueue(t, s, tn.ID, queued("fn", time.Now()))
	job := mustNextJob(t, s, store.Runs, "w")
	got, dep, err := s.JobInputs(ctx, job)
	if err != nil || got.ID != e.ID || dep.Name != "fn" || dep.Version != 1 {
		t.Fatalf("JobInputs = %+v, %+v, %v", got, dep, err)
	}
	if splitSteps() {
		t.Skip("over a Cluster the claim cannot read the records (another slot): JobInputs reads them")
	}
	before := s.mr.CommandCount()
	if _, _, err := s.JobInputs(ctx, job); err != nil {
		t.Fatal(err)
	}
	if n := s.mr.CommandCount() - before; n != 0 {
		t.Errorf("JobInputs of a claimed job cost %d commands, want 0", n)
	}
	bare := store.Job{Queue: store.Runs, Tenant: tn.ID, ID: e.ID, Deployment: "fn"}
	if again, _, err := s.JobInputs(ctx, bare); err != nil || again.ID != e.ID {
		t.Fatalf("JobInputs of a job without its records = %+v, %v", again, err)
	}
}

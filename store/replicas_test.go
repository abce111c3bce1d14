package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/internal/redistest"
	"github.com/faaspot/faaspot/store"
)

// TestMinReplicas runs on a real master and replica (Debian's redis-server on loopback): with
// MinReplicas 1, what an acknowledged call wrote is on the replica when the call returns; with
// the replica gone, the call fails with ErrUnavailable and ErrReplicas within ReplicaTimeout.
func TestMinReplicas(t *testing.T) {
	master := redistest.StartServer(t)
	replica := redistest.StartServer(t, "--replicaof", "127.0.0.1", fmt.Sprint(master.Port))
	ctx := context.Background()
	mc, rc := master.Client(), replica.Client()
	defer mc.Close()
	defer rc.Close()
	master.WaitReplicas(t, 1)
	s, err := store.New(mc, withTestDefaults(store.Options{MinReplicas: 1, ReplicaTimeout: 500 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureGroups(ctx); err != nil {
		t.Fatal(err)
	}
	tenant, _, err := s.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	// Read back through a store on the replica: what the calls returned is there.
	rs, err := store.New(rc, withTestDefaults(store.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rs.TenantByName(ctx, "acme"); err != nil {
		t.Errorf("the tenant is not on the replica when CreateTenant returns: %v", err)
	}
	if _, _, err := s.PutDeployment(ctx, tenant.ID, faaspot.DeploymentSpec{Name: "f", Source: faaspot.Source{Code: "x"}}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.GetDeployment(ctx, tenant.ID, "f"); err != nil {
		t.Errorf("the deployment is not on the replica when PutDeployment returns: %v", err)
	}
	e := faaspot.Execution{ID: "e1", Deployment: "f", Status: faaspot.ExecQueued, CreatedAt: time.Now()}
	if err := s.EnqueueRun(ctx, tenant.ID, e, 0, false); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.GetExecution(ctx, tenant.ID, "e1"); err != nil {
		t.Errorf("the execution is not on the replica when EnqueueRun returns: %v", err)
	}

	// No direct dispatch with MinReplicas: the sync run is queued for any worker, not claimed.
	e.ID = "d1"
	if j, err := s.EnqueueDirect(ctx, tenant.ID, e, 0, "node-a"); err != nil || j != nil {
		t.Errorf("EnqueueDirect with MinReplicas = %+v, %v; want the run queued, no job", j, err)
	}

	replica.Kill()
	start := time.Now()
	e.ID = "e2"
	err = s.EnqueueRun(ctx, tenant.ID, e, 0, false)
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, store.ErrReplicas) {
		t.Fatalf("EnqueueRun without a replica = %v, want ErrUnavailable and ErrReplicas", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("EnqueueRun without a replica failed after %v: it should give up after the replica timeout (500ms)", took)
	}
}

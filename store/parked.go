package store

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
)

// Runs of a deployment whose first version is still building are parked: their records are
// written (queued) and indexed as any run's, and their ids wait on the deployment's parked list
// rather than on the tenant's run stream, so no worker claims a run it cannot start. The
// transaction that ends the build (FinishBuild), or deletes the deployment, queues them all on
// the stream in the same atomic step; a worker then runs them on the ready version, or records
// them failed with the build's reason (BuildFailed) or as DeploymentNotFound. No run is lost
// between the API's look at the deployment and its park: enqueueScript looks again atomically.

// EnqueueOrPark queues e on the deployment's ready version, or parks it when the deployment has
// none yet and is building (parked true). maxQueued bounds the runs waiting to start on the
// tenant's stream, and separately those parked on the deployment (a *QuotaError). ErrBuildFailed
// when it has no ready version and its build failed; ErrNotFound when the tenant or the
// deployment is gone. See EnqueueRun for the rest.
func (s *Store) EnqueueOrPark(ctx context.Context, tid string, e faaspot.Execution, maxQueued int, sync bool) (parked bool, err error) {
	n, err := s.enqueue(ctx, tid, e, maxQueued, sync, true)
	return n == 2, err
}

// releaseScript queues every run parked on a deployment on the tenant's run stream and empties
// the list; it returns how many it queued. KEYS: parked list, run stream, the run lane's tenant
// set, rotation and wake-up list. ARGV: tenant id, deployment name, wake-up list cap.
var releaseScript = redis.NewScript(laneLua + `
local parked, stream, tenants, rr, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local tid, dep, wakekept = ARGV[1], ARGV[2], tonumber(ARGV[3])
local n = 0
for _, entry in ipairs(redis.call('LRANGE', parked, 0, -1)) do
  local sync, id = string.match(entry, '^([01n]):(.+)$')
  if id then
    if n == 0 then
      admit(stream, 0)
      rotate(tenants, rr, tid)
    end
    redis.call('XADD', stream, '*', 'tenant', tid, 'id', id, 'dep', dep, 'sync', sync)
    wakeup(wake, wakekept)
    n = n + 1
  end
end
redis.call('DEL', parked)
return n`)

// releaseParked adds releaseScript for the tenant's deployment name to p (a transaction).
func (s *Store) releaseParked(ctx context.Context, p redis.Pipeliner, tid, name string) {
	releaseScript.Eval(ctx, p, []string{s.k.parked(tid, name), s.k.runs(tid), s.k.runTenants(), s.k.rr(), s.k.wake()},
		tid, name, wakeKept)
}

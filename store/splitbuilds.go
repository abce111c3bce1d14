package store

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
)

// Builds over a Redis Cluster: a deployment's records and its parked runs live in its tenant's
// slot, the build and run streams in the scheduling slot (keys.go). The transactions that write
// both on one Redis are, on a Cluster, a transaction in the tenant's slot followed by a step in
// the scheduling slot, ordered as each says below.

// queueBuildScript queues a build job on the tenant's build stream and wakes a build worker;
// with ARGV[5] = "1" only when the stream does not hold a job of that version already (a repair:
// see putDeploymentSplit), answering 0 then. KEYS: build stream, build tenants, rotation, wake-up
// list. ARGV: tenant id, name, version, enqueue time (ms), only if missing, wake-up list cap.
var queueBuildScript = redis.NewScript(laneLua + `
local stream, tenants, rr, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local tid, name, version, at = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if ARGV[5] == '1' and redis.call('EXISTS', stream) == 1 then
  for _, e in ipairs(redis.call('XRANGE', stream, '-', '+')) do
    local n, v = nil, nil
    for j = 1, #e[2], 2 do
      if e[2][j] == 'name' then n = e[2][j + 1] elseif e[2][j] == 'version' then v = e[2][j + 1] end
    end
    if n == name and v == version then return 0 end
  end
end
admit(stream, 0)
rotate(tenants, rr, tid)
redis.call('XADD', stream, '*', 'tenant', tid, 'name', name, 'version', version, 'at', at)
wakeup(wake, tonumber(ARGV[6]))
return 1`)

// putDeploymentSplit is PutDeployment over a Cluster: the tenant's queued builds are counted
// first (a read of the scheduling slot: MaxQueuedBuilds is checked before the write rather than
// in the same step, so concurrent creates may pass it by their number), then the version is
// written in a transaction of the tenant's slot (as on one Redis: records, source, context,
// version record), then its build is queued. One round trip more than on one Redis. A node dying
// between the last two leaves the version building without a job: putting the same content
// again (which changes nothing otherwise) queues its build when the stream holds none, once the
// version is orphanAge old.
func (s *Store) putDeploymentSplit(ctx context.Context, tid string, spec faaspot.DeploymentSpec, maxDeployments int, ctxJSON []byte, hash string) (faaspot.Deployment, bool, error) {
	if s.opts.MaxQueuedBuilds > 0 {
		n, err := s.waiting(ctx, s.k.builds(tid))
		if err != nil {
			return faaspot.Deployment{}, false, err
		}
		if n >= int64(s.opts.MaxQueuedBuilds) {
			return faaspot.Deployment{}, false, &faaspot.QuotaError{What: "queued builds", Limit: float64(s.opts.MaxQueuedBuilds)}
		}
	}
	key, names := s.k.dep(tid, spec.Name), s.k.deps(tid)
	var out faaspot.Deployment
	var created bool
	err := s.watch(ctx, func(tx *redis.Tx) error {
		d, same, err := s.nextVersion(ctx, tx, tid, spec, hash, maxDeployments)
		if err != nil || same {
			out, created = d, false
			return err
		}
		drop, err := s.versionsToDrop(ctx, tx, tid, spec.Name, d.Version, d.ReadyVersion)
		if err != nil {
			return err
		}
		rec := encodeDeployment(d)
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, key, rec, 0)
			p.SAdd(ctx, names, spec.Name)
			p.HSet(ctx, s.k.src(tid, spec.Name, d.Version), "code", spec.Source.Code, "requirements", spec.Source.Requirements)
			p.Set(ctx, s.k.ctx(tid, spec.Name, d.Version), s.secrets.seal(ctxJSON, contextAD(tid, spec.Name, d.Version)), 0)
			args := append([]any{rec, d.Version, encodeVersion(versionRecordOf(d, hash))}, s.dropArgs(tid, spec.Name, drop)...)
			putVersionScript.Eval(ctx, p, []string{key, s.k.vers(tid, spec.Name)}, args...)
			return nil
		})
		out, created = d, err == nil
		return err
	}, key, names)
	if err != nil {
		return out, false, err
	}
	orphan := !created && out.Status == faaspot.StatusBuilding && s.now().Sub(out.UpdatedAt) >= orphanAge
	if created || orphan {
		err = queueBuildScript.Run(ctx, s.rdb, []string{s.k.builds(tid), s.k.buildTenants(), s.k.brr(), s.k.bwake()},
			tid, spec.Name, out.Version, out.UpdatedAt.UnixMilli(), flag(orphan), wakeKept).Err()
		if err != nil {
			return out, false, unavailable("queue build", err)
		}
	}
	return out, created, nil
}

// buildAfter is what FinishBuild leaves, over a Cluster, to the steps after its transaction:
// the build job's acknowledgement and the release of the runs parked on the deployment (read
// under the transaction's watch).
type buildAfter struct {
	done, release bool
	parked        []string
}

// releaseAckScript queues the runs parked on a deployment (ARGV[5..]: "sync:id" entries) on the
// tenant's run stream, and acknowledges a build job (ARGV[1], "" for none). KEYS: build stream,
// build wake-up list, run stream, run tenants, rotation, run wake-up list. ARGV: entry id, tenant
// id, deployment, wake-up list cap, entries.
var releaseAckScript = redis.NewScript(laneLua + `
local bstream, bwake, stream, tenants, rr, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local entry, tid, dep, wakekept = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local n = 0
for i = 5, #ARGV do
  local sync, id = string.match(ARGV[i], '^([01n]):(.+)$')
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
if entry ~= '' then
  redis.call('XACK', bstream, 'workers', entry)
  redis.call('XDEL', bstream, entry)
  wakeup(bwake, wakekept)
end
return n`)

// finishBuildAfter takes FinishBuild's steps after its transaction over a Cluster: the parked
// runs queued and the build job acknowledged (one step of the scheduling slot), then the runs
// released taken off the parked list (the tenant's slot). Two round trips more than on one Redis
// when runs were parked, one otherwise. A node dying before the first leaves the build job
// pending: another worker reclaims it, builds again, and its FinishBuild finds the version
// settled, changes nothing and releases the parked runs (but a failed build's source is gone:
// that worker only acknowledges it, and runs parked on a deployment whose first build failed
// stay parked until its next build ends or it is deleted). A node dying between the two leaves
// the released runs on the list: the deployment's next release queues them again, and a run so
// queued twice runs twice if its first run has not ended by then.
func (s *Store) finishBuildAfter(ctx context.Context, job Job, after buildAfter) error {
	tid, name := job.Tenant, job.Name
	var entries []string
	if after.release {
		entries = after.parked
	}
	if err := s.releaseAck(ctx, tid, name, job.EntryID, entries); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	if err := s.rdb.LTrim(ctx, s.k.parked(tid, name), int64(len(entries)), -1).Err(); err != nil {
		return unavailable("release parked runs", err)
	}
	return nil
}

// deleteDeploymentSplit is DeleteDeployment over a Cluster: the runs parked on the deployment are
// queued first (they fail as DeploymentNotFound, as they would once it is deleted), then the
// deployment is deleted with its parked list in a transaction of the tenant's slot, watching the
// list: runs parked meanwhile are queued on the next turn, those queued already are not queued
// again. One round trip more than on one Redis. A node dying between the two leaves the
// deployment in place with its parked runs queued (and failed): deleting it again finishes, and
// may queue them again, each dropped then as ended.
func (s *Store) deleteDeploymentSplit(ctx context.Context, tid, name string) (faaspot.Deployment, error) {
	key, parked := s.k.dep(tid, name), s.k.parked(tid, name)
	var out faaspot.Deployment
	released := 0
	err := s.watch(ctx, func(tx *redis.Tx) error {
		d, err := s.getDeployment(ctx, tx, key)
		if err != nil {
			return err
		}
		entries, err := tx.LRange(ctx, parked, int64(released), -1).Result()
		if err != nil {
			return err
		}
		if len(entries) > 0 {
			if err := s.releaseAck(ctx, tid, name, "", entries); err != nil {
				return err
			}
			released += len(entries)
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, key, s.k.vers(tid, name), parked)
			p.SRem(ctx, s.k.deps(tid), name)
			for v := 1; v <= d.Version; v++ {
				p.Del(ctx, s.k.src(tid, name, v), s.k.ctx(tid, name, v))
			}
			return nil
		})
		out = d
		return err
	}, key, parked)
	return out, err
}

// releaseAck runs releaseAckScript: the entries of runs parked on the tenant's deployment name
// queued, and the build job of entry id acknowledged ("": none).
func (s *Store) releaseAck(ctx context.Context, tid, name, entry string, entries []string) error {
	args := []any{entry, tid, name, wakeKept}
	for _, e := range entries {
		args = append(args, e)
	}
	err := releaseAckScript.Run(ctx, s.rdb, []string{s.k.builds(tid), s.k.bwake(), s.k.runs(tid), s.k.runTenants(), s.k.rr(), s.k.wake()},
		args...).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return unavailable("release parked runs", err)
	}
	return nil
}

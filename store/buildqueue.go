package store

import "github.com/redis/go-redis/v9"

// Builds are scheduled like runs (see runqueue.go): each tenant has its own build stream, claimed
// round-robin across tenants, a tenant capped at BuildCap concurrent builds and MaxQueuedBuilds
// builds waiting to start.

// putScript writes a new version of a deployment and queues its build, or refuses (0) without
// writing anything when the tenant's build stream already holds its maximum (ARGV[9], 0: none)
// of builds waiting to start. PutDeployment runs it inside its transaction.
// KEYS: deployment record, deployment names, source, context, build stream, build tenants,
// build rotation, build wake-up list.
// ARGV: record, name, code, requirements, sealed context, tenant id, version, enqueue time (ms),
// maximum of queued builds, wake-up list cap.
var putScript = redis.NewScript(laneLua + `
local dep, names, src, ctx, stream, tenants, rr, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local rec, name, code, reqs, sealed, tid, version, at = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local maxq, wakekept = tonumber(ARGV[9]), tonumber(ARGV[10])
if not admit(stream, maxq) then return 0 end
redis.call('SET', dep, rec)
redis.call('SADD', names, name)
redis.call('HSET', src, 'code', code, 'requirements', reqs)
redis.call('SET', ctx, sealed)
rotate(tenants, rr, tid)
redis.call('XADD', stream, '*', 'tenant', tid, 'name', name, 'version', version, 'at', at)
wakeup(wake, wakekept)
return 1`)

// migrateBuildsScript moves every entry of the shared build stream of earlier releases (KEYS[1])
// to its tenant's build stream (key prefix ARGV[1]), in order, then deletes the shared stream and
// wakes the build workers. An entry a worker of an earlier release still holds is moved too: it
// may be built twice, which only records the same outcome again.
// KEYS: shared stream, build tenants, build rotation, build wake-up list.
var migrateBuildsScript = redis.NewScript(laneLua + `
local legacy, tenants, rr, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local sprefix, wakekept = ARGV[1], tonumber(ARGV[2])
if redis.call('EXISTS', legacy) == 0 then return 0 end
local entries = redis.call('XRANGE', legacy, '-', '+')
for _, e in ipairs(entries) do
  local f, tid = e[2], nil
  for i = 1, #f, 2 do
    if f[i] == 'tenant' then tid = f[i + 1] end
  end
  if tid then
    local stream = sprefix .. tid
    admit(stream, 0)
    rotate(tenants, rr, tid)
    redis.call('XADD', stream, '*', unpack(f))
  end
end
redis.call('DEL', legacy)
if #entries > 0 then wakeup(wake, wakekept) end
return #entries`)

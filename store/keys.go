package store

import (
	"crypto/sha256"
	"encoding/hex"
)

// keys renders the Redis key layout. Every key is tagged (its part in braces decides its Redis
// Cluster slot), so that a store works on one Redis and on a Redis Cluster alike:
//
//   - {tid}: every key of one tenant's data, so that every step on one tenant's data is
//     single-slot (tenant data is sharded by tenant);
//   - {q}: every scheduling key, the tenants' run and build streams included, so that the fair
//     claim (claimScript, which visits the tenants and their streams in turn) stays one atomic
//     script on a Cluster; the limit is that the scheduler lives on the one shard serving {q}
//     while the records are sharded;
//   - {g}: the few store-wide keys (tenant names, installation id, layout version);
//   - token keys carry no tag: each is read alone, and they spread over the slots.
//
// On one Redis the store keeps its atomic scripts and transactions, which may write keys of
// several tags at once (one round trip, no slots to respect). Over a Cluster (New given a
// *redis.ClusterClient) every script and transaction touches one slot: the few that write both a
// tenant's data and scheduling or store-wide keys are single-slot steps instead, in an order that
// leaves nothing accepted half-made when a node dies between two of them; each function states
// what such a death leaves and who repairs it:
//
//   - a run queued: record, then job; a full queue takes the record back (enqueueSplit); a repeated
//     idempotency key re-queues a run whose job was never queued (requeueOrphan);
//   - a run ended: record, usage and notification, then acknowledgement and callback schedule
//     (writeRunSplit, ackSplit); a retry (retryLaterSplit); a callback settled (settleSplit);
//   - the claim reads a tenant's run cap from {q}:caps (SetQuotas writes it after the tenant
//     record; EnsureGroups copies every cap again) and leaves the run's records to the worker
//     (JobInputs: one round trip more);
//   - a deployment created: version, then build job (putDeploymentSplit; MaxQueuedBuilds is
//     checked before the write, not in the same step); a build ended: outcome, then parked runs
//     queued and job acknowledged, then the parked list trimmed (finishBuildAfter: a death
//     between the last two may queue a parked run twice); a deployment deleted
//     (deleteDeploymentSplit);
//   - tenants, tokens, authentication (token, then tenant and rate bucket) and tenant deletion
//     (splittenants.go).
//
// A prefix holding braces would tag every key with the prefix's tag: everything in one slot,
// which works but does not spread.
//
//	{p}tenant:{tid}                      hash   tenant record
//	{p}tokens:{tid}                      hash   token id -> JSON {hash, created_at}
//	{p}t:{tid}:dep:{name}                string deployment record (JSON)
//	{p}t:{tid}:deps                      set    deployment names
//	{p}t:{tid}:src:{name}:{version}      hash   code, requirements of one version (until built)
//	{p}t:{tid}:ctx:{name}:{version}      string the version's context (JSON), never returned by the API
//	{p}t:{tid}:vers:{name}               hash   version -> version record (JSON): number, status,
//	                                            error, dates, content hash, limits, context keys;
//	                                            at most Options.VersionsKept, never the context
//	{p}t:{tid}:exec:{id}                 string execution record (JSON), TTL once terminal
//	{p}t:{tid}:execs                     zset   recent execution ids by creation time (ms)
//	{p}t:{tid}:execsof:{name}            zset   the same, of one deployment
//	{p}t:{tid}:execdep                   hash   execution id -> deployment, for the ids indexed
//	{p}t:{tid}:sum:{id}                  string execution summary (JSON), lives as long as the record
//	{p}t:{tid}:done:{id}                 list   pushed once when the execution is terminal
//	{p}t:{tid}:built:{name}:{version}    list   pushed once when that version's build ends
//	{p}t:{tid}:parked:{name}             list   "sync:id" of runs waiting for the first version
//	{p}t:{tid}:log:{id}                  stream a run's live output (logs.go): pieces, a follower's
//	                                            "watch", the "end"; capped, expires after the run
//	{p}t:{tid}:rate                      hash   the tenant's request-rate bucket (auth script)
//	{p}t:{tid}:dead                      zset   the tenant's dead letters: execution ids by time (ms)
//	{p}t:{tid}:whsecret                  string the tenant's callback signing secret, sealed
//	{p}t:{tid}:idem:{name}:{sha256(key)} string the execution an idempotency key gives, for
//	                                            Options.IdempotencyTTL
//	{p}t:{tid}:usage:{YYYY-MM-DD}        hash   the tenant's usage of that UTC day (usage.go),
//	                                            kept 400 days after its last write
//	{p}{q}:runs:tid                      stream the tenant's run jobs, consumer group "workers"
//	{p}{q}:tenants                       set    tenants that have a run stream
//	{p}{q}:rr                            list   the same tenants in round-robin order
//	{p}{q}:wake                          list   wake-up tokens for idle run workers (capped)
//	{p}{q}:caps                          hash   tid -> the tenant's max_concurrent_runs, a copy
//	                                            of the tenant record's for the claim (0 or none:
//	                                            Options.RunCap)
//	{p}{q}:delayed                       zset   retries to queue, "tid NUL id NUL dep NUL sync" by
//	                                            due time (ms)
//	{p}{q}:callbacks                     zset   callbacks to deliver, "tid NUL id" by due time (ms)
//	{p}{q}:builds:tid                    stream the tenant's build jobs, consumer group "workers"
//	{p}{q}:btenants                      set    tenants that have a build stream
//	{p}{q}:brr                           list   the same tenants in round-robin order
//	{p}{q}:bwake                         list   wake-up tokens for idle build workers (capped)
//	{p}{q}:builds                        stream build jobs of earlier releases, moved to the
//	                                            tenants' build streams by EnsureGroups
//	{p}{q}:alive:{consumer}              string set while the worker node of that consumer name
//	                                            lives (liveness.go), expiring unless renewed
//	{p}{g}:tenants                       hash   tenant name -> tid
//	{p}{g}:installation                  string random id of this store, set once
//	{p}{g}:layout                        string the key layout's version (migrate.go)
//	{p}token:SHA256                      string tid (tokens are never stored in clear: SHA256 is
//	                                            the token's hash, hex); no tag
//
// (In the table, {tid} stands for the tenant id in literal braces, "{p}t:{0a1b}:deps"; {q} and
// {g} are literal.)
//
// Scripts that visit several executions or tenants build their keys from a prefix the same way
// (trimLua and pruneScript: exec:, sum:, done:, execsof:, execdep under {p}t:{tid}:; claimScript:
// the queues' stream prefixes and {p}{q}:caps): a change here must be made there too.
type keys struct{ p string }

// tag is the hash tag of one tenant's keys.
func tag(tid string) string { return "{" + tid + "}" }

func (k keys) tenant(tid string) string    { return k.p + "tenant:" + tag(tid) }
func (k keys) tenantNames() string         { return k.p + "{g}:tenants" }
func (k keys) token(hash string) string    { return k.p + "token:" + hash }
func (k keys) tokens(tid string) string    { return k.p + "tokens:" + tag(tid) }
func (k keys) t(tid string) string         { return k.p + "t:" + tag(tid) + ":" }
func (k keys) dep(tid, name string) string { return k.t(tid) + "dep:" + name }
func (k keys) deps(tid string) string      { return k.t(tid) + "deps" }
func (k keys) src(tid, name string, v int) string {
	return k.t(tid) + "src:" + name + ":" + itoa(v)
}
func (k keys) ctx(tid, name string, v int) string {
	return k.t(tid) + "ctx:" + name + ":" + itoa(v)
}
func (k keys) vers(tid, name string) string {
	return k.t(tid) + "vers:" + name
}
func (k keys) exec(tid, id string) string { return k.t(tid) + "exec:" + id }
func (k keys) execs(tid string) string    { return k.t(tid) + "execs" }
func (k keys) execsOf(tid, name string) string {
	return k.t(tid) + "execsof:" + name
}
func (k keys) execDep(tid string) string  { return k.t(tid) + "execdep" }
func (k keys) sum(tid, id string) string  { return k.t(tid) + "sum:" + id }
func (k keys) done(tid, id string) string { return k.t(tid) + "done:" + id }
func (k keys) built(tid, name string, v int) string {
	return k.t(tid) + "built:" + name + ":" + itoa(v)
}
func (k keys) idem(tid, name, key string) string {
	sum := sha256.Sum256([]byte(key))
	return k.t(tid) + "idem:" + name + ":" + hex.EncodeToString(sum[:])
}
func (k keys) parked(tid, name string) string {
	return k.t(tid) + "parked:" + name
}
func (k keys) q() string                { return k.p + "{q}:" }
func (k keys) runs(tid string) string   { return k.q() + "runs:" + tid }
func (k keys) runTenants() string       { return k.q() + "tenants" }
func (k keys) rr() string               { return k.q() + "rr" }
func (k keys) wake() string             { return k.q() + "wake" }
func (k keys) caps() string             { return k.q() + "caps" }
func (k keys) builds(tid string) string { return k.q() + "builds:" + tid }
func (k keys) buildTenants() string     { return k.q() + "btenants" }
func (k keys) brr() string              { return k.q() + "brr" }
func (k keys) bwake() string            { return k.q() + "bwake" }
func (k keys) legacyBuilds() string     { return k.q() + "builds" }
func (k keys) delayed() string          { return k.q() + "delayed" }
func (k keys) dead(tid string) string   { return k.t(tid) + "dead" }
func (k keys) callbacks() string        { return k.q() + "callbacks" }
func (k keys) webhookSecret(tid string) string {
	return k.t(tid) + "whsecret"
}
func (k keys) installation() string { return k.p + "{g}:installation" }
func (k keys) layout() string       { return k.p + "{g}:layout" }
func (k keys) alive(consumer string) string {
	return k.q() + "alive:" + consumer
}

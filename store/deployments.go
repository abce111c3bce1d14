package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
)

// BuildOutcome is the result of building one version.
type BuildOutcome struct {
	Image string // set when the build succeeded
	Log   string
	Error string // set when it failed: a message meant for the user
	// Duration is how long the build ran: one that ran (positive) counts in the tenant's usage
	// (usage.go) when its outcome is recorded; a build that never ran (superseded) does not.
	Duration time.Duration
}

// PutDeployment records a new version of the named deployment (creating it when new) and queues
// its build on the tenant's build stream, all in one transaction (over a Redis Cluster, ordered
// single-slot steps: see putDeploymentSplit): when it returns created true the build is durably
// queued. A spec whose code, requirements, limits, warm policy and context
// are those of the newest version, when that version has not failed and no rollback came after
// it, changes nothing: it returns
// the deployment as it is and created false. Every new version gets a record (see ListVersions);
// past Options.VersionsKept the oldest records go, never the ready version's. When
// maxDeployments > 0, a new name that would take the tenant past that many deployments is refused
// with a *QuotaError and nothing is written; the count is checked in the same transaction, so
// concurrent creates cannot overshoot it. Likewise a tenant with MaxQueuedBuilds builds waiting
// to start is refused with a *QuotaError ("queued builds").
func (s *Store) PutDeployment(ctx context.Context, tid string, spec faaspot.DeploymentSpec, maxDeployments int) (d faaspot.Deployment, created bool, err error) {
	defer s.changedDeployment(ctx, tid, spec.Name)
	ctxJSON, err := json.Marshal(orEmpty(spec.Context))
	if err != nil {
		return faaspot.Deployment{}, false, fmt.Errorf("encode context: %w", err)
	}
	hash := s.contentHash(tid, spec, ctxJSON)
	if s.cluster {
		return s.putDeploymentSplit(ctx, tid, spec, maxDeployments, ctxJSON, hash)
	}
	key, names := s.k.dep(tid, spec.Name), s.k.deps(tid)
	var out faaspot.Deployment
	err = s.watch(ctx, func(tx *redis.Tx) error {
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
		var put *redis.Cmd
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			put = putScript.Eval(ctx, p, []string{key, names, s.k.src(tid, spec.Name, d.Version),
				s.k.ctx(tid, spec.Name, d.Version), s.k.builds(tid), s.k.buildTenants(), s.k.brr(), s.k.bwake()},
				rec, spec.Name, spec.Source.Code, spec.Source.Requirements,
				s.secrets.seal(ctxJSON, contextAD(tid, spec.Name, d.Version)), tid, d.Version,
				d.UpdatedAt.UnixMilli(), s.opts.MaxQueuedBuilds, wakeKept)
			args := append([]any{rec, d.Version, encodeVersion(versionRecordOf(d, hash))}, s.dropArgs(tid, spec.Name, drop)...)
			putVersionScript.Eval(ctx, p, []string{key, s.k.vers(tid, spec.Name)}, args...)
			return nil
		})
		if err != nil {
			return err
		}
		if n, _ := put.Int(); n == 0 {
			return &faaspot.QuotaError{What: "queued builds", Limit: float64(s.opts.MaxQueuedBuilds)}
		}
		out, created = d, true
		if s.opts.MinReplicas > 0 {
			return s.waitReplicas(ctx, tx) // the answer acknowledges the new version
		}
		return nil
	}, key, names)
	return out, created && err == nil, err
}

// nextVersion reads the deployment under tx's watch and returns it with the version spec makes,
// status building; a new deployment when it has none (a *QuotaError past maxDeployments > 0).
// same is true, and the deployment returned as it is, when its newest version deployed content of
// this hash and has not failed, and no rollback came after it.
func (s *Store) nextVersion(ctx context.Context, tx *redis.Tx, tid string, spec faaspot.DeploymentSpec, hash string, maxDeployments int) (d faaspot.Deployment, same bool, err error) {
	d, err = s.getDeployment(ctx, tx, s.k.dep(tid, spec.Name))
	now := s.now().UTC()
	switch {
	case errors.Is(err, ErrNotFound):
		if maxDeployments > 0 {
			n, err := tx.SCard(ctx, s.k.deps(tid)).Result()
			if err != nil {
				return d, false, err
			}
			if n >= int64(maxDeployments) {
				return d, false, &faaspot.QuotaError{What: "deployments", Limit: float64(maxDeployments)}
			}
		}
		d = faaspot.Deployment{ID: randomHex(8), Name: spec.Name, CreatedAt: now}
	case err != nil:
		return d, false, err
	case d.RolledBackAt >= d.Version:
		// A rollback chose the ready version after the newest was requested: deploying the newest's
		// content again means to run it, so it makes a version that becomes the ready one.
	default:
		if same, err := s.sameAsNewest(ctx, tx, tid, d, hash); err != nil || same {
			return d, same, err
		}
	}
	d.Version++
	d.Status, d.Error, d.BuildLog = faaspot.StatusBuilding, "", ""
	d.Limits, d.Warm, d.Retry, d.CallbackURL = spec.Limits, spec.Warm, spec.Retry, spec.CallbackURL
	d.ContextKeys = sortedKeys(spec.Context)
	d.UpdatedAt = now
	return d, false, nil
}

// GetDeployment returns the tenant's deployment. ErrNotFound when it has none of that name.
func (s *Store) GetDeployment(ctx context.Context, tid, name string) (faaspot.Deployment, error) {
	return s.getDeployment(ctx, s.rdb, s.k.dep(tid, name))
}

// ListDeployments returns the tenant's deployments sorted by name.
func (s *Store) ListDeployments(ctx context.Context, tid string) ([]faaspot.Deployment, error) {
	names, err := s.rdb.SMembers(ctx, s.k.deps(tid)).Result()
	if err != nil {
		return nil, unavailable("list deployments", err)
	}
	sort.Strings(names)
	out := make([]faaspot.Deployment, 0, len(names))
	if len(names) == 0 {
		return out, nil
	}
	ks := make([]string, len(names))
	for i, n := range names {
		ks[i] = s.k.dep(tid, n)
	}
	vals, err := s.rdb.MGet(ctx, ks...).Result()
	if err != nil {
		return nil, unavailable("list deployments", err)
	}
	for _, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		if d, err := decodeDeployment([]byte(str)); err == nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// DeleteDeployment removes the deployment with its sources, contexts and version records and returns the record
// it removed, so the caller can remove its images. ErrNotFound when absent.
func (s *Store) DeleteDeployment(ctx context.Context, tid, name string) (faaspot.Deployment, error) {
	defer s.changedDeployment(ctx, tid, name)
	if s.cluster {
		return s.deleteDeploymentSplit(ctx, tid, name)
	}
	key := s.k.dep(tid, name)
	var out faaspot.Deployment
	err := s.watch(ctx, func(tx *redis.Tx) error {
		d, err := s.getDeployment(ctx, tx, key)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			s.releaseParked(ctx, p, tid, name) // their workers record them DeploymentNotFound
			p.Del(ctx, key, s.k.vers(tid, name))
			p.SRem(ctx, s.k.deps(tid), name)
			for v := 1; v <= d.Version; v++ {
				p.Del(ctx, s.k.src(tid, name, v), s.k.ctx(tid, name, v))
			}
			return nil
		})
		out = d
		return err
	}, key)
	return out, err
}

// LoadVersion returns one version of a deployment with its code and requirements: kept while the
// version builds and while it is the ready one. ErrNotFound otherwise.
func (s *Store) LoadVersion(ctx context.Context, tid, name string, version int) (faaspot.Version, error) {
	m, err := s.rdb.HGetAll(ctx, s.k.src(tid, name, version)).Result()
	if err != nil {
		return faaspot.Version{}, unavailable("load source", err)
	}
	if len(m) == 0 {
		return faaspot.Version{}, fmt.Errorf("source of %s v%d: %w", name, version, ErrNotFound)
	}
	return faaspot.Version{Deployment: name, Number: version,
		Source: faaspot.Source{Code: m["code"], Requirements: m["requirements"]}}, nil
}

// LoadContext returns the context of one version as a JSON object, decrypted. ErrSecretKey when
// it was sealed under another key or belongs to another record.
func (s *Store) LoadContext(ctx context.Context, tid, name string, version int) (json.RawMessage, error) {
	b, err := s.rdb.Get(ctx, s.k.ctx(tid, name, version)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("context of %s v%d: %w", name, version, ErrNotFound)
	}
	if err != nil {
		return nil, unavailable("load context", err)
	}
	plain, err := s.secrets.open(b, contextAD(tid, name, version))
	if err != nil {
		return nil, fmt.Errorf("context of %s v%d: %w", name, version, err)
	}
	return plain, nil
}

// FinishBuild records the outcome of building one version (in the deployment and in the
// version's record, with its image on success), drops the oldest version records past the kept
// ones with their sources and contexts, acknowledges the build job, drops the source and context
// of a version that failed, queues the runs parked on the deployment once it has a ready version
// or its build failed (see EnqueueOrPark), and wakes waiters. A successful build of a version
// newer than the ready one becomes the ready version, unless a rollback chose the ready version
// after this one was requested (see Rollback); the status changes only when the version is still
// the newest requested. A build that ran (out.Duration) counts in the tenant's usage in the same
// transaction, once: the outcome of a version already settled changes nothing and counts nothing.
// ErrNotFound when the deployment was deleted meanwhile (the job is acknowledged anyway, and the
// build counted).
// Over a Redis Cluster the job's acknowledgement and the release of parked runs follow the
// transaction, in the scheduling slot (finishBuildAfter).
func (s *Store) FinishBuild(ctx context.Context, job Job, out BuildOutcome) (faaspot.Deployment, error) {
	tid, name, v := job.Tenant, job.Name, job.Version
	defer s.changedDeployment(ctx, tid, name)
	key := s.k.dep(tid, name)
	var res faaspot.Deployment
	var after buildAfter // over a Cluster, what is left to the steps after the transaction
	err := s.watch(ctx, func(tx *redis.Tx) error {
		after = buildAfter{}
		d, err := s.getDeployment(ctx, tx, key)
		if errors.Is(err, ErrNotFound) {
			return s.finishBuildOfGone(ctx, tx, job, out, &after)
		}
		if err != nil {
			return err
		}
		if after.parked, err = s.parkedUnderWatch(ctx, tx, tid, name); err != nil {
			return err
		}
		rec, found, err := s.loadVersion(ctx, tx, tid, name, v)
		if err != nil {
			return err
		}
		if found && rec.Status != string(faaspot.StatusBuilding) {
			// The build of a settled version ended again (its job was run twice): nothing changes
			// (over a Cluster, runs its first end left parked are released: finishBuildAfter).
			res = d
			after.release = d.ReadyVersion > 0 || d.Status == faaspot.StatusFailed
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error { s.ackIn(ctx, p, job); return nil })
			after.done = err == nil
			return err
		}
		// A built version keeps its source and context while its record is kept: a pinned run or
		// a rollback may use it (the source to build its image again on a node that lacks it).
		// A version that failed to build never runs, nor one whose record is gone: they go.
		var drop []string
		switch {
		case out.Error != "" || !found:
			drop = append(drop, s.k.ctx(tid, name, v), s.k.src(tid, name, v))
		case v > d.ReadyVersion && v > d.RolledBackAt:
			d.ReadyVersion, d.Image = v, out.Image
		}
		if v == d.Version {
			d.Status, d.Error, d.BuildLog = faaspot.StatusReady, "", out.Log
			if out.Error != "" {
				d.Status, d.Error = faaspot.StatusFailed, out.Error
			}
			d.UpdatedAt = s.now().UTC()
		}
		settle, err := s.settleVersion(ctx, tx, tid, d, v, rec, found, out)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, key, encodeDeployment(d), 0)
			settle(p)
			if len(drop) > 0 {
				p.Del(ctx, drop...)
			}
			s.ackIn(ctx, p, job)
			if out.Duration > 0 {
				s.countBuild(ctx, p, s.k.usage(tid, s.now()), out.Duration, out.Error != "")
			}
			if d.ReadyVersion > 0 || d.Status == faaspot.StatusFailed {
				s.releaseIn(ctx, p, tid, name, &after) // they run now, or fail with the build
			}
			p.RPush(ctx, s.k.built(tid, name, v), 1)
			p.Expire(ctx, s.k.built(tid, name, v), notifyTTL)
			return nil
		})
		after.done = err == nil
		res = d
		return err
	}, s.finishBuildWatched(tid, name)...)
	if s.cluster && after.done {
		if aerr := s.finishBuildAfter(ctx, job, after); aerr != nil {
			return res, aerr
		}
	}
	return res, err
}

// finishBuildOfGone is FinishBuild's transaction for a deployment deleted meanwhile: the job is
// acknowledged, the version's source and context dropped and the build counted, and the answer
// is ErrNotFound.
func (s *Store) finishBuildOfGone(ctx context.Context, tx *redis.Tx, job Job, out BuildOutcome, after *buildAfter) error {
	tid, name, v := job.Tenant, job.Name, job.Version
	_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
		s.ackIn(ctx, p, job)
		p.Del(ctx, s.k.src(tid, name, v), s.k.ctx(tid, name, v))
		if out.Duration > 0 {
			s.countBuild(ctx, p, s.k.usage(tid, s.now()), out.Duration, out.Error != "")
		}
		return nil
	})
	if err != nil {
		return err
	}
	after.done = true
	return fmt.Errorf("deployment %s: %w", name, ErrNotFound)
}

// finishBuildWatched are the keys FinishBuild's transaction watches: the deployment's record,
// and over a Cluster its parked list, read under the watch (see finishBuildAfter).
func (s *Store) finishBuildWatched(tid, name string) []string {
	if s.cluster {
		return []string{s.k.dep(tid, name), s.k.parked(tid, name)}
	}
	return []string{s.k.dep(tid, name)}
}

// parkedUnderWatch reads, over a Cluster, the runs parked on the deployment under tx's watch
// (finishBuildWatched): those finishBuildAfter releases. On one Redis the transaction releases
// them (releaseScript) and nothing is read.
func (s *Store) parkedUnderWatch(ctx context.Context, tx *redis.Tx, tid, name string) ([]string, error) {
	if !s.cluster {
		return nil, nil
	}
	return tx.LRange(ctx, s.k.parked(tid, name), 0, -1).Result()
}

// ackIn adds the job's acknowledgement to p (a transaction); over a Cluster the job lives in
// another slot, and the caller acknowledges it after the transaction (finishBuildAfter).
func (s *Store) ackIn(ctx context.Context, p redis.Pipeliner, job Job) {
	if !s.cluster {
		s.ack(ctx, p, job)
	}
}

// releaseIn adds the release of the runs parked on the deployment to p (a transaction); over a
// Cluster it marks them to release after the transaction (finishBuildAfter).
func (s *Store) releaseIn(ctx context.Context, p redis.Pipeliner, tid, name string, after *buildAfter) {
	if s.cluster {
		after.release = true
		return
	}
	s.releaseParked(ctx, p, tid, name)
}

// WaitBuilt blocks until the build of the version has ended or the timeout passes; it reports
// whether the build ended. It is woken by FinishBuild, never by polling.
func (s *Store) WaitBuilt(ctx context.Context, tid, name string, version int, timeout time.Duration) (bool, error) {
	_, ok, err := s.waitKey(ctx, s.k.built(tid, name, version), timeout, false)
	return ok, err
}

func (s *Store) getDeployment(ctx context.Context, c redis.Cmdable, key string) (faaspot.Deployment, error) {
	b, err := c.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return faaspot.Deployment{}, ErrNotFound
	}
	if err != nil {
		return faaspot.Deployment{}, unavailable("load deployment", err)
	}
	d, err := decodeDeployment(b)
	if err != nil {
		return faaspot.Deployment{}, fmt.Errorf("decode deployment %s: %w", key, err)
	}
	return d, nil
}

// watch runs fn in an optimistic transaction on keys, retrying when another writer got there
// first. The store's own errors (not found, exists, quota, unavailable, a record that does not
// decode) pass through; others mean Redis failed.
func (s *Store) watch(ctx context.Context, fn func(tx *redis.Tx) error, keys ...string) error {
	for attempt := range watchAttempts {
		err := s.rdb.Watch(ctx, fn, keys...)
		if errors.Is(err, redis.TxFailedErr) {
			// Another writer won: wait a random while, longer each time, so that many
			// concurrent writers (200 creates of one tenant at once) spread out and all get
			// through instead of colliding again in step.
			wait := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrUnavailable) &&
			!errors.Is(err, ErrQuota) && !errors.Is(err, ErrExists) && !isDecodeError(err) {
			return unavailable("transaction", err)
		}
		return err
	}
	return unavailable("transaction", errors.New("too much contention on "+strings.Join(keys, ", ")))
}

// watchAttempts bounds the attempts of one optimistic transaction (about 2 s of backoff at most).
const watchAttempts = 40

func isDecodeError(err error) bool {
	var se *json.SyntaxError
	var ue *json.UnmarshalTypeError
	return errors.As(err, &se) || errors.As(err, &ue)
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

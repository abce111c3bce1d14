package store

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
)

// Rollback makes version v of the tenant's deployment the one that runs: its ready version, with
// that version's image, limits, warm policy and context. A build of a version requested before
// the rollback never replaces it (see FinishBuild); a version requested after does, as does
// deploying the newest version's content again. Rolling back to the ready version holds it
// against the builds under way. ErrNotFound when the tenant has no deployment of that name; a
// *faaspot.VersionError when v cannot run (see RunnableVersion).
func (s *Store) Rollback(ctx context.Context, tid, name string, v int) (faaspot.Deployment, error) {
	defer s.changedDeployment(ctx, tid, name)
	key, vers := s.k.dep(tid, name), s.k.vers(tid, name)
	var out faaspot.Deployment
	err := s.watch(ctx, func(tx *redis.Tx) error {
		d, err := s.getDeployment(ctx, tx, key)
		if err != nil {
			return err
		}
		r, err := s.runnable(ctx, tx, tid, name, v)
		if err != nil {
			return err
		}
		out = d
		if d.ReadyVersion == v && d.RolledBackAt == d.Version {
			return nil
		}
		d.ReadyVersion, d.Image, d.RolledBackAt = v, r.Image, d.Version
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, key, encodeDeployment(d), 0)
			return nil
		})
		out = d
		return err
	}, key, vers)
	return out, err
}

// RunnableVersion returns the record of version v of the tenant's deployment when a run can be
// pinned to it or a rollback choose it: built, with its image recorded and its source and
// context kept. ErrNotFound when the tenant has no deployment of that name; otherwise a
// *faaspot.VersionError wrapping faaspot.ErrVersionNotFound (no record of v is kept) or
// faaspot.ErrVersionNotReady (building, failed, or built before versions kept their images).
func (s *Store) RunnableVersion(ctx context.Context, tid, name string, v int) (faaspot.VersionInfo, error) {
	n, err := s.rdb.Exists(ctx, s.k.dep(tid, name)).Result()
	if err != nil {
		return faaspot.VersionInfo{}, unavailable("load deployment", err)
	}
	if n == 0 {
		return faaspot.VersionInfo{}, ErrNotFound
	}
	r, err := s.runnable(ctx, s.rdb, tid, name, v)
	if err != nil {
		return faaspot.VersionInfo{}, err
	}
	return r.domain(0), nil
}

// runnable reads version v's record through c and checks that it can run (see RunnableVersion).
func (s *Store) runnable(ctx context.Context, c redis.Cmdable, tid, name string, v int) (versionRecord, error) {
	r, err := s.versionOf(ctx, c, tid, name, v)
	if err != nil {
		return r, err
	}
	if err := runnableRecord(r); err != nil {
		return r, err
	}
	n, err := c.Exists(ctx, s.k.src(tid, name, v), s.k.ctx(tid, name, v)).Result()
	if err != nil {
		return r, unavailable("load version", err)
	}
	if n != 2 {
		return r, versionError(v, "has lost its source or context: deploy its code again", faaspot.ErrVersionNotReady)
	}
	return r, nil
}

// versionOf reads version v's record through c: a *faaspot.VersionError wrapping
// faaspot.ErrVersionNotFound when none is kept.
func (s *Store) versionOf(ctx context.Context, c redis.Cmdable, tid, name string, v int) (versionRecord, error) {
	var r versionRecord
	b, err := c.HGet(ctx, s.k.vers(tid, name), itoa(v)).Bytes()
	if errors.Is(err, redis.Nil) {
		return r, versionError(v, "is not kept", faaspot.ErrVersionNotFound)
	}
	if err != nil {
		return r, unavailable("load version", err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, versionError(v, "has an unreadable record", faaspot.ErrVersionNotFound)
	}
	return r, nil
}

// runnableRecord returns the *faaspot.VersionError of a version record that cannot run, or nil.
func runnableRecord(r versionRecord) error {
	switch {
	case r.Status == string(faaspot.StatusBuilding):
		return versionError(r.Version, "is still building", faaspot.ErrVersionNotReady)
	case r.Status != string(faaspot.StatusReady):
		return versionError(r.Version, "failed to build", faaspot.ErrVersionNotReady)
	case r.Image == "":
		return versionError(r.Version, "was built before versions kept their images: deploy its code again", faaspot.ErrVersionNotReady)
	}
	return nil
}

func versionError(v int, reason string, err error) *faaspot.VersionError {
	return &faaspot.VersionError{Version: v, Reason: reason, Err: err}
}

// RunTarget returns the tenant's deployment as a run of it uses it: ReadyVersion is the version
// to run (pinned when > 0, else the ready one) and Image, Limits, Warm and ContextKeys are that
// version's. ErrNotFound when the deployment is gone; a *faaspot.VersionError when the pinned
// version cannot run.
func (s *Store) RunTarget(ctx context.Context, tid, name string, pinned int) (faaspot.Deployment, error) {
	d, err := s.GetDeployment(ctx, tid, name)
	if err != nil {
		return d, err
	}
	return s.target(ctx, tid, d, pinned)
}

// target returns d as a run of version pinned (> 0) or of its ready version uses it. The record
// of a deployment describes its newest version: unless that is the one to run, the version's own
// record gives its image and settings. A ready version without a record (an earlier release's)
// runs with the deployment record's image and settings.
func (s *Store) target(ctx context.Context, tid string, d faaspot.Deployment, pinned int) (faaspot.Deployment, error) {
	v := d.ReadyVersion
	if pinned > 0 {
		v = pinned
	}
	if v == 0 || (v == d.ReadyVersion && v == d.Version) {
		return d, nil
	}
	r, err := s.versionOf(ctx, s.rdb, tid, d.Name, v)
	if err == nil && pinned > 0 {
		err = runnableRecord(r)
	}
	switch {
	case err != nil && pinned == 0 && !errors.Is(err, ErrUnavailable):
		return d, nil
	case err != nil:
		return d, err
	}
	d.ReadyVersion, d.ContextKeys = v, r.ContextKeys
	d.Limits = faaspot.Limits{MemoryMB: r.Limits.MemoryMB, CPUs: r.Limits.CPUs, TimeoutS: r.Limits.TimeoutS}
	info := r.domain(0)
	d.Warm, d.Retry, d.CallbackURL = info.Warm, info.Retry, info.CallbackURL
	if r.Image != "" {
		d.Image = r.Image
	}
	return d, nil
}

package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// fakeStore is an in-memory store of one tenant's deployments and executions. Its error fields,
// when set, are returned by the call they name.
type fakeStore struct {
	log *callLog

	mu       sync.Mutex
	deps     map[string]faaspot.Deployment // by name
	versions map[int]faaspot.Version       // of any deployment, by number
	contexts map[int]json.RawMessage       // of any deployment, by version
	execs    map[string]faaspot.Execution  // by id
	// kept are the kept versions of any deployment, by number: ListVersions lists them, and a
	// pinned run (RunInputs, RunTarget) runs one with its image and limits.
	kept       map[int]faaspot.VersionInfo
	getErr     error
	versionErr error
	contextErr error
	listErr    error
	inputsErr  error
	touchErr   error
	markErr    error // MarkRunning's: nothing is marked
	finishErr  error // FinishRun's: nothing is written or acknowledged
	// reclaimErr fails Reclaim of the queues it names.
	reclaimErr map[store.Queue]error
	// reloaded, when set, replaces the deployment on its first GetDeployment or RunTarget (a
	// redeploy that happened between RunInputs and LoadContext).
	reloaded *faaspot.Deployment

	// next feeds NextJob; reclaims feeds Reclaim by queue (each job is given out once), own
	// TakeOwn.
	next     chan nextJob
	reclaims map[store.Queue][]store.Job
	own      map[store.Queue][]store.Job
	counts   []int64   // the counts Reclaim was called with
	dead     []string  // FinishDead's executions
	retries  []retryAt // RetryLater's
	// heartbeatErr fails Heartbeat; finishFails, when positive, fails that many FinishRun calls
	// with finishErr before they succeed (0: finishErr fails every call).
	heartbeatErr error
	finishFails  int

	acked    []store.Job
	outcomes []store.BuildOutcome
	logged   []store.LogPiece // appended to live logs, of any execution
	ended    []string         // executions whose live log was marked ended
	marked   []faaspot.Execution
	finished []faaspot.Execution
	minIdle  []time.Duration
	// touched, when set, receives once each Touch is answered.
	touched chan struct{}
}

// retryAt is one call of RetryLater.
type retryAt struct {
	e   faaspot.Execution
	due time.Time
}

type nextJob struct {
	job *store.Job
	err error
}

func newFakeStore(log *callLog) *fakeStore {
	return &fakeStore{log: log, deps: map[string]faaspot.Deployment{}, versions: map[int]faaspot.Version{},
		contexts: map[int]json.RawMessage{}, execs: map[string]faaspot.Execution{}, kept: map[int]faaspot.VersionInfo{},
		reclaims: map[store.Queue][]store.Job{}, own: map[store.Queue][]store.Job{}}
}

func notFound(what string) error { return fmt.Errorf("%s: %w", what, store.ErrNotFound) }

func (s *fakeStore) NextJob(ctx context.Context, q store.Queue, consumer string, block time.Duration) (*store.Job, error) {
	s.log.add("store.NextJob")
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case n := <-s.next:
		return n.job, n.err
	}
}

// Reclaim gives out the jobs of reclaims[q], count at most, recording count in counts.
func (s *fakeStore) Reclaim(ctx context.Context, q store.Queue, consumer string, minIdle time.Duration, count int64) ([]store.Job, error) {
	s.log.add("store.Reclaim " + q.String())
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.minIdle = append(s.minIdle, minIdle)
	s.counts = append(s.counts, count)
	if err := s.reclaimErr[q]; err != nil {
		return nil, err
	}
	jobs := s.reclaims[q]
	n := min(int(count), len(jobs))
	s.reclaims[q] = jobs[n:]
	return jobs[:n], nil
}

// TakeOwn gives out the jobs of own[q].
func (s *fakeStore) TakeOwn(ctx context.Context, q store.Queue, consumer string, count int64) ([]store.Job, error) {
	s.log.add("store.TakeOwn " + q.String())
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	jobs := s.own[q]
	delete(s.own, q)
	return jobs, nil
}

// Heartbeat fails with heartbeatErr while set.
func (s *fakeStore) Heartbeat(ctx context.Context, consumer string, ttl time.Duration) error {
	s.log.add("store.Heartbeat")
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.heartbeatErr
}

func (s *fakeStore) Leave(ctx context.Context, consumer string) error {
	s.log.add("store.Leave")
	return ctx.Err()
}

func (s *fakeStore) Touch(ctx context.Context, j store.Job, consumer string) error {
	s.log.add("store.Touch")
	if s.touched != nil {
		defer func() { s.touched <- struct{}{} }()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.touchErr
}

func (s *fakeStore) Ack(ctx context.Context, j store.Job) error {
	s.log.add("store.Ack")
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acked = append(s.acked, j)
	return nil
}

func (s *fakeStore) GetDeployment(ctx context.Context, tid, name string) (faaspot.Deployment, error) {
	s.log.add("store.GetDeployment")
	if err := ctx.Err(); err != nil {
		return faaspot.Deployment{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deployment(name)
}

// deployment returns the named deployment, replaced by reloaded first when set; the caller holds
// s.mu.
func (s *fakeStore) deployment(name string) (faaspot.Deployment, error) {
	if s.reloaded != nil {
		s.deps[name], s.reloaded = *s.reloaded, nil
	}
	if s.getErr != nil {
		return faaspot.Deployment{}, s.getErr
	}
	d, ok := s.deps[name]
	if !ok {
		return faaspot.Deployment{}, notFound("deployment " + name)
	}
	return d, nil
}

func (s *fakeStore) LoadVersion(ctx context.Context, tid, name string, version int) (faaspot.Version, error) {
	s.log.add("store.LoadVersion")
	if err := ctx.Err(); err != nil {
		return faaspot.Version{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.versions[version]
	if s.versionErr != nil || !ok {
		return faaspot.Version{}, cmpErr(s.versionErr, notFound("source"))
	}
	return v, nil
}

// FinishBuild records the outcome as the store does: a success newer than the ready version
// becomes the ready one; the job is acknowledged, even when the deployment is gone.
func (s *fakeStore) FinishBuild(ctx context.Context, job store.Job, out store.BuildOutcome) (faaspot.Deployment, error) {
	s.log.add("store.FinishBuild")
	if err := ctx.Err(); err != nil {
		return faaspot.Deployment{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcomes = append(s.outcomes, out)
	s.acked = append(s.acked, job)
	d, ok := s.deps[job.Name]
	if !ok {
		return faaspot.Deployment{}, notFound("deployment " + job.Name)
	}
	if out.Error == "" && job.Version > d.ReadyVersion {
		d.ReadyVersion, d.Image = job.Version, out.Image
	}
	if job.Version == d.Version {
		d.Status, d.Error = faaspot.StatusReady, out.Error
		if out.Error != "" {
			d.Status = faaspot.StatusFailed
		}
	}
	s.deps[job.Name] = d
	return d, nil
}

func (s *fakeStore) JobInputs(ctx context.Context, j store.Job) (faaspot.Execution, faaspot.Deployment, error) {
	return s.RunInputs(ctx, j.Tenant, j.ID, j.Deployment)
}

func (s *fakeStore) RunInputs(ctx context.Context, tid, id, deployment string) (faaspot.Execution, faaspot.Deployment, error) {
	s.log.add("store.RunInputs")
	if err := ctx.Err(); err != nil {
		return faaspot.Execution{}, faaspot.Deployment{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inputsErr != nil {
		return faaspot.Execution{}, faaspot.Deployment{}, s.inputsErr
	}
	e, ok := s.execs[id]
	if !ok {
		return e, faaspot.Deployment{}, notFound("execution " + id)
	}
	d, ok := s.deps[deployment]
	if !ok {
		return e, d, notFound("deployment " + deployment)
	}
	pinned := 0
	if e.Pinned {
		pinned = e.Version
	}
	d, err := s.target(d, pinned)
	return e, d, err
}

func (s *fakeStore) RunTarget(ctx context.Context, tid, name string, pinned int) (faaspot.Deployment, error) {
	s.log.add("store.RunTarget")
	if err := ctx.Err(); err != nil {
		return faaspot.Deployment{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.deployment(name)
	if err != nil {
		return d, err
	}
	return s.target(d, pinned)
}

// target is d as a run of version pinned (> 0: one of kept) or of its ready version uses it.
func (s *fakeStore) target(d faaspot.Deployment, pinned int) (faaspot.Deployment, error) {
	if pinned == 0 {
		return d, nil
	}
	v, ok := s.kept[pinned]
	if !ok {
		return d, &faaspot.VersionError{Version: pinned, Reason: "is not kept", Err: faaspot.ErrVersionNotFound}
	}
	d.ReadyVersion, d.Image, d.Limits = pinned, v.Image, v.Limits
	return d, nil
}

func (s *fakeStore) ListVersions(ctx context.Context, tid, name string) ([]faaspot.VersionInfo, error) {
	s.log.add("store.ListVersions")
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listErr != nil {
		return nil, s.listErr
	}
	var out []faaspot.VersionInfo
	for _, v := range s.kept {
		out = append(out, v)
	}
	return out, nil
}

func (s *fakeStore) LoadContext(ctx context.Context, tid, name string, version int) (json.RawMessage, error) {
	s.log.add("store.LoadContext")
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.contexts[version]
	if s.contextErr != nil || !ok {
		return nil, cmpErr(s.contextErr, notFound("context"))
	}
	return c, nil
}

func (s *fakeStore) MarkRunning(ctx context.Context, tid string, e faaspot.Execution) error {
	s.log.add("store.MarkRunning")
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.markErr != nil {
		return s.markErr
	}
	s.marked = append(s.marked, e)
	return nil
}

// StartOnce marks e running when its stored record is queued.
func (s *fakeStore) StartOnce(ctx context.Context, tid string, e faaspot.Execution) (bool, error) {
	s.log.add("store.StartOnce")
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.execs[e.ID].Status != faaspot.ExecQueued {
		return false, nil
	}
	s.execs[e.ID] = e
	s.marked = append(s.marked, e)
	return true, nil
}

func (s *fakeStore) FinishRun(ctx context.Context, job store.Job, e faaspot.Execution) error {
	s.log.add("store.FinishRun")
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finishErr != nil {
		if s.finishFails == 0 {
			return s.finishErr
		}
		if s.finishFails--; s.finishFails == 0 {
			s.finishErr = nil
		}
		return cmpErr(s.finishErr, fmt.Errorf("finish run: %w", faaspot.ErrUnavailable))
	}
	s.finished = append(s.finished, e)
	s.acked = append(s.acked, job)
	s.execs[e.ID] = e
	return nil
}

// FinishDead is FinishRun, the execution also listed in dead.
func (s *fakeStore) FinishDead(ctx context.Context, job store.Job, e faaspot.Execution) error {
	if err := s.FinishRun(ctx, job, e); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dead = append(s.dead, e.ID)
	return nil
}

// RetryLater acknowledges the job and records the retry in retries.
func (s *fakeStore) RetryLater(ctx context.Context, job store.Job, e faaspot.Execution, due time.Time) error {
	s.log.add("store.RetryLater")
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acked = append(s.acked, job)
	s.execs[e.ID] = e
	s.retries = append(s.retries, retryAt{e, due})
	return nil
}

func (s *fakeStore) ReleaseDue(ctx context.Context, now time.Time) (int, error) {
	s.log.add("store.ReleaseDue")
	return 0, ctx.Err()
}

func (s *fakeStore) LogWriter(ctx context.Context, tid, id string) *store.LogWriter {
	return store.NewLogWriter(ctx, func(ctx context.Context, pieces []store.LogPiece) error {
		s.log.add("store.AppendLog")
		s.mu.Lock()
		defer s.mu.Unlock()
		s.logged = append(s.logged, pieces...)
		return ctx.Err()
	})
}

func (s *fakeStore) EndLog(ctx context.Context, tid, id string) error {
	s.log.add("store.EndLog")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = append(s.ended, id)
	return ctx.Err()
}

func (s *fakeStore) ListDeployments(ctx context.Context, tid string) ([]faaspot.Deployment, error) {
	s.log.add("store.ListDeployments")
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listErr != nil {
		return nil, s.listErr
	}
	var out []faaspot.Deployment
	for _, d := range s.deps {
		out = append(out, d)
	}
	return out, nil
}

// snapshot returns copies of what the store recorded.
func (s *fakeStore) snapshot() (acked []store.Job, outcomes []store.BuildOutcome, finished []faaspot.Execution) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.acked), slices.Clone(s.outcomes), slices.Clone(s.finished)
}

func cmpErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

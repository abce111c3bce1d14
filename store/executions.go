package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
)

// notifyTTL bounds how long an unconsumed wake-up notification lives.
const notifyTTL = 10 * time.Minute

// GetExecution returns the tenant's execution. ErrNotFound when it has none with that id.
func (s *Store) GetExecution(ctx context.Context, tid, id string) (faaspot.Execution, error) {
	b, err := s.rdb.Get(ctx, s.k.exec(tid, id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return faaspot.Execution{}, ErrNotFound
	}
	if err != nil {
		return faaspot.Execution{}, unavailable("load execution", err)
	}
	e, err := decodeExecution(b)
	if err != nil {
		return faaspot.Execution{}, fmt.Errorf("decode execution %s: %w", id, err)
	}
	return e, nil
}

// RunInputs returns the execution and its deployment as the run uses it (see RunTarget: the
// version pinned by the execution, else the ready one, with that version's image and settings):
// what a worker needs to start a run. One round trip when the version to run is the newest;
// one more otherwise. Either may be ErrNotFound; a *faaspot.VersionError when the pinned version
// cannot run any more.
func (s *Store) RunInputs(ctx context.Context, tid, id, deployment string) (faaspot.Execution, faaspot.Deployment, error) {
	vals, err := s.rdb.MGet(ctx, s.k.exec(tid, id), s.k.dep(tid, deployment)).Result()
	if err != nil {
		return faaspot.Execution{}, faaspot.Deployment{}, unavailable("load run", err)
	}
	var e faaspot.Execution
	var d faaspot.Deployment
	str, ok := vals[0].(string)
	if !ok {
		return e, d, fmt.Errorf("execution %s: %w", id, ErrNotFound)
	}
	if e, err = decodeExecution([]byte(str)); err != nil {
		return e, d, fmt.Errorf("decode execution %s: %w", id, err)
	}
	if str, ok = vals[1].(string); !ok {
		return e, d, fmt.Errorf("deployment %s: %w", deployment, ErrNotFound)
	}
	if d, err = decodeDeployment([]byte(str)); err != nil {
		return e, d, fmt.Errorf("decode deployment %s: %w", deployment, err)
	}
	pinned := 0
	if e.Pinned {
		pinned = e.Version
	}
	d, err = s.target(ctx, tid, d, pinned)
	return e, d, err
}

// MarkRunning records that the execution started: its record and its summary.
func (s *Store) MarkRunning(ctx context.Context, tid string, e faaspot.Execution) error {
	rec, err := encodeExecution(e)
	if err != nil {
		return fmt.Errorf("encode execution: %w", err)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.k.exec(tid, e.ID), rec, s.opts.ResultTTL)
		p.Set(ctx, s.k.sum(tid, e.ID), encodeSummary(e), s.opts.ResultTTL)
		return nil
	})
	if err != nil {
		return unavailable("mark running", err)
	}
	return nil
}

// FinishRun writes the terminal record (and its summary), acknowledges the run job and, for a synchronous run,
// hands the record to its waiter, in one transaction: the job is never acknowledged before its
// terminal record is stored.
func (s *Store) FinishRun(ctx context.Context, job Job, e faaspot.Execution) error {
	rec, err := encodeExecution(e)
	if err != nil {
		return fmt.Errorf("encode execution: %w", err)
	}
	tid := job.Tenant
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.k.exec(tid, e.ID), rec, s.opts.ResultTTL)
		p.Set(ctx, s.k.sum(tid, e.ID), encodeSummary(e), s.opts.ResultTTL)
		s.ack(ctx, p, job)
		if job.Sync {
			p.RPush(ctx, s.k.done(tid, e.ID), rec)
			p.Expire(ctx, s.k.done(tid, e.ID), notifyTTL)
		}
		return nil
	})
	if err != nil {
		return unavailable("finish run", err)
	}
	return nil
}

// WaitExecution blocks until a synchronous execution is terminal, returning its record, or until
// the timeout passes (ok false). It is woken by FinishRun (BLPOP), never by polling.
func (s *Store) WaitExecution(ctx context.Context, tid, id string, timeout time.Duration) (faaspot.Execution, bool, error) {
	val, ok, err := s.waitKey(ctx, s.k.done(tid, id), timeout)
	if err != nil || !ok {
		return faaspot.Execution{}, false, err
	}
	e, err := decodeExecution([]byte(val))
	if err != nil {
		return faaspot.Execution{}, false, fmt.Errorf("decode execution %s: %w", id, err)
	}
	return e, true, nil
}

// waitSlice bounds one blocking pop: go-redis cannot interrupt a blocked read when ctx is
// cancelled, so a long wait is made of one-second pops with a ctx check between them. A pop
// returns as soon as the notification is pushed; the slices only bound how long a waiter whose
// caller went away keeps its connection.
const waitSlice = time.Second

// waitKey pops the value pushed on key, waiting up to timeout (in whole seconds, at least one:
// Redis' blocking pops count in seconds on older servers).
func (s *Store) waitKey(ctx context.Context, key string, timeout time.Duration) (string, bool, error) {
	deadline := time.Now().Add(max(timeout, waitSlice))
	for time.Until(deadline) > 0 {
		if err := ctx.Err(); err != nil {
			return "", false, err
		}
		res, err := s.waits.BLPop(ctx, waitSlice, key).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return "", false, unavailable("wait", err)
		}
		return res[1], true, nil
	}
	return "", false, nil
}

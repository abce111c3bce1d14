package sandbox

import (
	"context"
	"time"
)

// refillTimeout bounds the start of one replacement container.
const refillTimeout = 30 * time.Second

// refill starts, in the background, a container to replace one of req's key that leaves the pool
// only because it may serve no more runs (single-use containers: an unconfined runner, or
// PoolPolicy.MaxRuns reached), when the pool would keep it: so each run of such a version finds
// a container already started and its function imported, as with reusable ones. epoch is the
// spent container's (see pool.forbid): nothing replaces a container whose key was retired while
// it ran (its version was replaced, or its deployment deleted), nor anything once Close began; a
// replacement that fails to start is logged and not retried (the next run starts its own).
func (s *Sandbox) refill(req Request, epoch uint64) {
	if !s.pool.wants(req.Key, req.Policy, epoch) {
		return
	}
	req.Args, req.Context, req.ExecutionID = nil, nil, ""
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.bg.Err() != nil {
		return
	}
	s.refills.Add(1)
	go func() {
		defer s.refills.Done()
		ctx, cancel := context.WithTimeout(s.bg, refillTimeout)
		defer cancel()
		if err := s.Prewarm(ctx, req, 1); err != nil && s.bg.Err() == nil {
			s.log.Warn("start a replacement for a single-use container", "key", req.Key, "err", err)
		}
	}()
}

// stopRefills cancels the replacements under way and waits for them: a container one of them
// started is then in the pool or removed.
func (s *Sandbox) stopRefills() {
	s.bgMu.Lock()
	s.stopBg()
	s.bgMu.Unlock()
	s.refills.Wait()
}

// wants reports whether the pool would keep one more idle box of key under pol, started now,
// to replace a box created at epoch: not when a prefix of key was retired since epoch, nor when
// the pool is closed or full, or pol keeps no more.
func (p *pool) wants(key string, pol PoolPolicy, epoch uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return pol.MaxIdle > 0 && !p.closed && p.n < p.max && len(p.idle[key]) < pol.MaxIdle && !p.outlived(key, epoch)
}

package sandbox

import (
	"context"
	"time"

	"github.com/docker/docker/api/types/container"
)

// Run executes req in an idle container of its key, or in a fresh one, and keeps the container
// for the next run when req.Policy allows and the run left it clean. The function's failures —
// exception, timeout, out of memory, crash — are reported in the Result (see classify), and a
// container that saw a timeout, a crash, a broken protocol or left processes behind is never
// reused. An error (wrapping ErrEngine, or ctx's error) means the engine failed or the caller gave
// up, and the outcome is unknown; the container is killed and removed all the same.
func (s *Sandbox) Run(ctx context.Context, req Request) (Result, error) {
	start := time.Now()
	b, cold, err := s.acquire(ctx, req)
	if err != nil {
		return Result{}, err
	}
	busy := s.busyOf(b.mode)
	busy.Add(1)
	defer busy.Add(-1)
	cpu := b.cpuCounter(s.cfg.CgroupRoot)
	cpuBefore, cpuOK := cpu.read()
	wasReady, sent := b.ready, time.Now()
	f, out, err := b.exec(ctx, req)
	acquired, duration := timings(start, sent, time.Now(), wasReady, b.readyAt)
	cpuUsed := cpuSince(cpu, cpuBefore, cpuOK)
	if err != nil && ctx.Err() != nil {
		s.kill(ctx, b)
		s.discard(b)
		return Result{}, ctx.Err()
	}
	res, v := classify(s.observe(ctx, b, f, out, err), req.Limits)
	res.ColdStart, res.Acquire, res.Duration, res.CPU = cold, acquired, duration, cpuUsed
	s.release(ctx, b, v, req)
	return res, nil
}

// acquire returns an idle box of req's key, or a box started for this run (cold). An idle box
// whose container died meanwhile is discarded: that is not the function's failure.
func (s *Sandbox) acquire(ctx context.Context, req Request) (b *box, cold bool, err error) {
	for b = s.pool.take(req.Key); b != nil; b = s.pool.take(req.Key) {
		if b.alive() {
			return b, false, nil
		}
		s.discard(b)
	}
	b, err = s.start(ctx, req)
	return b, true, err
}

// timings splits a run's time into acquiring a ready container and the function's own time:
// start is when Run began, sent when the request went to the box, done when the exec ended. When
// the box became ready during the exec (a cold start: the function's import), the import counts
// as acquiring.
func timings(start, sent, done time.Time, wasReady bool, readyAt time.Time) (acquire, duration time.Duration) {
	if !wasReady && !readyAt.IsZero() {
		return readyAt.Sub(start), done.Sub(readyAt)
	}
	return sent.Sub(start), done.Sub(sent)
}

// brokenExitWait is how long a runner that died without a frame is given to finish exiting;
// killedExitWait the same after Run killed a runner that broke the protocol.
const (
	brokenExitWait = 2 * time.Second
	killedExitWait = time.Second
)

// observe completes what an exec showed with what the engine knows, when classify needs it: how
// a broken box's container ended (a runner that broke the protocol is killed first: it may live
// on) and the runner's own stderr, or whether a forked run's process killed by SIGKILL met the
// OOM killer.
func (s *Sandbox) observe(ctx context.Context, b *box, f frame, out outcome, err error) execution {
	e := execution{frame: f, outcome: out, err: err}
	switch {
	case out == answered && forkedRunDied(f) && !f.OOM && f.ExitCode == exitKilled:
		_, e.oom = s.exitOf(ctx, b, 0) // the runner lives on: nothing to wait for
	case out == broken:
		wait := brokenExitWait
		if err != nil {
			s.kill(ctx, b)
			wait = killedExitWait
		}
		e.exitCode, e.oom = s.exitOf(ctx, b, wait)
		e.runnerStderr, e.runnerStderrTruncated = b.stderr.String(), b.stderr.Truncated()
	}
	return e
}

// exitOf waits up to wait for a box's container to end and reports its exit code (-1 when it did
// not end and the engine does not know) and whether the kernel's OOM killer struck in it. The
// engine's answer is awaited at most killTimeout, whatever ctx: an engine that does not answer
// at once is in trouble, and the run must end all the same.
func (s *Sandbox) exitOf(ctx context.Context, b *box, wait time.Duration) (int, bool) {
	code := -1
	select {
	case w := <-b.exited:
		code = int(w.StatusCode)
	case <-b.waitErr:
	case <-time.After(wait):
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	defer cancel()
	info, err := s.docker.ContainerInspect(ctx, b.id)
	if err != nil || info.State == nil {
		return code, false
	}
	if code < 0 {
		code = info.State.ExitCode
	}
	return code, info.State.OOMKilled
}

// release keeps b idle for the next run of its key when v allows it and the pool takes it;
// otherwise b is discarded, killed first when v says so. A sound box that may serve no more runs
// (its runner is unconfined, or it reached req.Policy's MaxRuns) is discarded (closing its stdin
// ends its runner, which as the container's init takes every process with it; the removal
// forces the rest, off the run's path) and replaced in the background (see refill), so that the
// next run still finds a ready container.
func (s *Sandbox) release(ctx context.Context, b *box, v verdict, req Request) {
	spent := b.unconfined || (req.Policy.MaxRuns > 0 && b.runs >= req.Policy.MaxRuns)
	if v.reuse && spent {
		v = verdict{}
		s.refill(req, b.epoch)
	}
	if v.reuse && s.pool.put(b, req.Policy, s.discard) {
		return
	}
	if v.kill {
		s.kill(ctx, b)
	}
	s.discard(b)
}

// killTimeout bounds a kill: an engine that does not answer at once is in trouble.
const killTimeout = 10 * time.Second

// kill stops everything in b's container at once (SIGKILL), so that nothing it runs goes on
// while the container is removed. Its context derives from the run's ctx without its
// cancellation: a run whose caller gave up must still not leave the function running.
func (s *Sandbox) kill(ctx context.Context, b *box) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	defer cancel()
	if err := s.docker.ContainerKill(ctx, b.id, "KILL"); err != nil {
		s.log.Debug("kill container", "container", short(b.id), "err", err) // often: it exited already
	}
}

// discard stops reading b and removes its container in the background (a run's answer does not
// wait for it; Close does).
func (s *Sandbox) discard(b *box) {
	b.stop()
	s.removals.Add(1)
	go func() {
		defer s.removals.Done()
		s.remove(b.id)
	}()
}

// removeTimeout bounds the removal of one container.
const removeTimeout = 30 * time.Second

// remove deletes a container, whatever happened to its runs. It runs in the background, after
// the run that used the container ended, so it has its own deadline.
func (s *Sandbox) remove(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), removeTimeout)
	defer cancel()
	if err := s.docker.ContainerRemove(ctx, id, container.RemoveOptions{Force: true}); err != nil {
		s.log.Warn("remove container", "container", short(id), "err", err)
	}
}

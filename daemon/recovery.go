package daemon

import (
	"context"
	"sync"
	"time"

	"github.com/faaspot/faaspot/store"
)

// Recovery. A worker node's consumer name is its node id, the same across restarts. While it
// runs, heartbeatLoop keeps it alive in the store; at start it takes back its own pending jobs
// (a previous life's, which nothing works on); reclaimLoop takes the jobs of dead nodes (no
// heartbeat) and the jobs their live worker stopped touching, as many at once as this node has
// free slots. Runs and builds each have a fixed number of slots (the operator's workers): jobs
// taken by the loops and reclaimed ones share them, so recovery never runs more at once.

// heartbeatRetry is the pause after a failed heartbeat: short, so that a node re-asserts its
// liveness as soon as the store is back.
const heartbeatRetry = 500 * time.Millisecond

// slots bounds the jobs of one queue running at once on this node.
type slots chan struct{}

// acquire takes a slot, false when ctx or stop (nil: none) ended first, or stop has ended.
func (s slots) acquire(ctx, stop context.Context) bool {
	var stopping <-chan struct{}
	if stop != nil {
		if stop.Err() != nil {
			return false
		}
		stopping = stop.Done()
	}
	select {
	case s <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	case <-stopping:
		return false
	}
}

func (s slots) release() { <-s }

// tryAcquire takes a slot if one is free now.
func (s slots) tryAcquire() bool {
	select {
	case s <- struct{}{}:
		return true
	default:
		return false
	}
}

// free is how many slots are free now.
func (s slots) free() int { return cap(s) - len(s) }

// heartbeatLoop marks this node alive every reclaimIdle/4 (for reclaimIdle) until ctx ends,
// retrying at once after a failure, and records when the store last failed (see reclaimLoop).
func (w *workers) heartbeatLoop(ctx context.Context) {
	for {
		wait := w.set.reclaimIdle / 4
		if err := w.queue.Heartbeat(ctx, w.consumer, w.set.reclaimIdle); err != nil {
			if ctx.Err() != nil {
				return
			}
			w.storeFailed.Store(w.clock.Now().UnixNano())
			w.log.Warn("heartbeat", "err", err)
			wait = heartbeatRetry
		}
		if !sleep(ctx, w.clock, wait) {
			return
		}
	}
}

// takeOwn hands this node's own pending jobs of every queue, from its previous life, to the
// workers, before they take new ones. A failure is logged: reclaimLoop takes them later.
func (w *workers) takeOwn(ctx context.Context, inflight *sync.WaitGroup) {
	for _, q := range []store.Queue{store.Runs, store.Builds} {
		if cap(w.slotsOf(q)) == 0 {
			continue // this node takes no job of q (FAASPOT_WORKERS or FAASPOT_BUILD_WORKERS 0)
		}
		jobs, err := w.queue.TakeOwn(ctx, q, w.consumer, int64(w.set.runWorkers+w.set.buildWorkers)*4)
		if err != nil {
			w.log.Warn("take back this node's pending jobs", "queue", q, "err", err)
			continue
		}
		for _, j := range jobs {
			w.log.Info("took back a job this node held before it restarted", "job", j.String())
		}
		w.dispatch(inflight, jobs)
	}
}

// reclaimLoop takes over, every reclaimIdle/3, the jobs of dead nodes and the jobs left untouched
// for reclaimIdle, up to this node's free slots of each queue, and runs them. It skips a turn
// while the store failed within reclaimIdle: other nodes' heartbeats may have lapsed through no
// fault of theirs.
func (w *workers) reclaimLoop(soft context.Context, inflight *sync.WaitGroup) {
	for sleep(soft, w.clock, w.set.reclaimIdle/3) {
		if failed := w.storeFailed.Load(); failed != 0 && w.clock.Now().Sub(time.Unix(0, failed)) < w.set.reclaimIdle {
			continue
		}
		for _, q := range []store.Queue{store.Builds, store.Runs} {
			free := w.slotsOf(q).free()
			if free == 0 {
				continue
			}
			jobs, err := w.queue.Reclaim(soft, q, w.consumer, w.set.reclaimIdle, int64(free))
			if err != nil {
				w.log.Warn("reclaim", "queue", q, "err", err)
				continue
			}
			for _, j := range jobs {
				w.log.Info("reclaimed a job of a dead or stalled worker", "job", j.String())
			}
			w.dispatch(inflight, jobs)
		}
	}
}

// dispatch runs each job in its own goroutine, counted by inflight; each waits for a slot of its
// queue (touching the job meanwhile, so that it does not age).
func (w *workers) dispatch(inflight *sync.WaitGroup, jobs []store.Job) {
	for _, j := range jobs {
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			w.handle(j)
		}()
	}
}

// slotsOf returns the slots of q.
func (w *workers) slotsOf(q store.Queue) slots {
	if q == store.Builds {
		return w.buildSlots
	}
	return w.runSlots
}

package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faaspot/faaspot/callback"
	"github.com/faaspot/faaspot/metrics"
	"github.com/faaspot/faaspot/registry"
	"github.com/faaspot/faaspot/store"
)

// Timings of the worker loops that are not the operator's settings.
const (
	// nextJobBlock is how long one read of a queue waits for a job.
	nextJobBlock = 5 * time.Second
	// readRetry is the pause after a failed read of a queue.
	readRetry = time.Second
	// leaveTimeout bounds the store call that marks a stopped node dead.
	leaveTimeout = 2 * time.Second
)

// workerSettings is the part of Config the workers read.
type workerSettings struct {
	runWorkers, buildWorkers int
	// reclaimIdle bounds how long a dead node's jobs wait (see Config.ReclaimIdle): the node's
	// heartbeat and its jobs are renewed every reclaimIdle/4, reclaims run every reclaimIdle/3.
	reclaimIdle time.Duration
	// stopGrace is how long in-flight jobs may go on once the workers are told to stop.
	stopGrace time.Duration
	// maxAttempts caps a deployment's retry policy (see Retries).
	maxAttempts int
	// janitorInterval (0: no janitor) and janitorGrace: see janitorLoop and sweepImages.
	janitorInterval, janitorGrace time.Duration
	limits                        limitSettings
	warm                          warmSettings
	// registry is where images are pushed and pulled (FAASPOT_REGISTRY; zero: none).
	registry registry.Address
}

// settingsOf picks the workers' settings out of cfg.
func settingsOf(cfg Config) workerSettings {
	return workerSettings{
		runWorkers: cfg.Workers, buildWorkers: cfg.BuildWorkers,
		reclaimIdle: cfg.ReclaimIdle, stopGrace: cfg.StopGrace, maxAttempts: cfg.MaxRetryAttempts,
		janitorInterval: cfg.JanitorInterval, janitorGrace: cfg.JanitorGrace,
		limits: limitsOf(cfg),
		warm: warmSettings{enabled: cfg.Warm, maxIdle: cmp.Or(cfg.WarmMaxIdle, cfg.Workers), maxRuns: cfg.WarmMaxRuns,
			idleTTL: cfg.WarmIdleTTL, prewarm: cfg.WarmPrewarm},
		registry: cfg.registryAddress(),
	}
}

// workers pulls jobs from the queues. Stopping (soft) ends the loops; in-flight jobs get a grace
// period before their context (hard) is cancelled and they are left pending for another worker.
type workers struct {
	queue   jobQueue
	builds  buildRecords
	runs    runRecords
	lister  deploymentLister
	builder imageBuilder
	sandbox runner
	set     workerSettings
	metrics *metrics.Metrics
	log     *slog.Logger
	clock   clock

	// consumer names this node in the queues' consumer groups: its node id, the same after a
	// restart (see Recovery).
	consumer string
	// runSlots and buildSlots bound the jobs of each queue running at once.
	runSlots, buildSlots slots
	// storeFailed is when (unix ns) the heartbeat last failed, 0 if never: see reclaimLoop.
	storeFailed atomic.Int64
	// hard is the context every job derives from; soft ends when the workers are told to stop
	// (a job not started by then stays pending). start sets both.
	hard, soft context.Context
	contexts   contextCache
	// callbacks delivers the callbacks of ended runs (nil: none are delivered by this node).
	callbacks *deliverer
	// direct queues and claims runs dispatched directly, idle counts a version's idle warm
	// containers here (nil: no direct dispatch); directs maps the execution id of each direct
	// run in progress to the channel its terminal record is handed to (direct.go).
	direct  directQueue
	idle    func(key string) int
	directs sync.Map
	// rebuilding serialises the rare rebuilds of images missing on this node (see localImage).
	rebuilding sync.Mutex
	// pulls makes the runs missing the same image wait for one pull (see localImage).
	pulls flight
	// building is held shared by every image build and exclusively by the janitor's removal of
	// images built for other stores: a build may take its cached layers from such an image
	// (the engine's build cache), and must not see it removed halfway.
	building sync.RWMutex
}

// startWorkers starts the workers of d on its store, builder and sandbox; they stop when soft
// is cancelled, and d.wg counts them until their in-flight jobs are over.
func (d *Daemon) startWorkers(soft context.Context) {
	consumer := d.node
	if consumer == "" {
		host, _ := os.Hostname()
		consumer = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), randomHex(4))
	}
	w := &workers{queue: d.store, builds: d.store, runs: d.store, lister: d.store,
		builder: d.builder, sandbox: d.sandbox, set: settingsOf(d.cfg), metrics: d.metrics,
		log: d.log, clock: systemClock{}, consumer: consumer}
	w.direct, d.workers = d.store, w
	if d.cfg.Warm {
		w.idle = func(key string) int { n, _ := d.sandbox.Idle(key); return n }
	}
	w.callbacks = newDeliverer(d.store, callback.NewSender(d.guard, d.cfg.CallbackTimeout), w.clock, d.log, d.metrics,
		d.cfg.CallbackRetryFor, d.cfg.CallbackTimeout)
	done := w.start(soft)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		<-done
	}()
}

// start takes back this node's own pending jobs, then runs the loops until soft is cancelled,
// then gives in-flight jobs stopGrace before cancelling them (left pending, for this node's next
// start or another node). The node's heartbeat goes on until its last job is over; then the node
// leaves, so that other nodes take what it left at once. The returned channel is closed once
// every loop and job has returned. Call it once.
func (w *workers) start(soft context.Context) <-chan struct{} {
	hard, hardCancel := context.WithCancel(context.WithoutCancel(soft))
	w.hard, w.soft = hard, soft
	w.runSlots, w.buildSlots = make(slots, w.set.runWorkers), make(slots, w.set.buildWorkers)
	beat, stopBeat := context.WithCancel(hard)
	var loops, inflight, beating sync.WaitGroup
	spawn := func(f func()) {
		loops.Add(1)
		go func() { defer loops.Done(); f() }()
	}
	// Alive before taking its own jobs back: another node must not see it dead and take them too.
	if err := w.queue.Heartbeat(soft, w.consumer, w.set.reclaimIdle); err != nil {
		w.log.Warn("heartbeat", "err", err)
	}
	beating.Add(1)
	go func() { defer beating.Done(); w.heartbeatLoop(beat) }()
	w.takeOwn(soft, &inflight)
	for range w.set.runWorkers {
		spawn(func() { w.loop(soft, store.Runs) })
	}
	for range w.set.buildWorkers {
		spawn(func() { w.loop(soft, store.Builds) })
	}
	spawn(func() { w.reclaimLoop(soft, &inflight) })
	spawn(func() { w.releaseLoop(soft) })
	if w.callbacks != nil {
		spawn(func() { w.callbacks.loop(soft, hard) })
	}
	if w.set.janitorInterval > 0 {
		spawn(func() { w.janitorLoop(soft) })
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-soft.Done()
		stop := w.clock.AfterFunc(w.set.stopGrace, hardCancel)
		loops.Wait()
		inflight.Wait() // once the loops returned, nothing adds to it
		stopBeat()
		beating.Wait()
		stop()
		hardCancel()
		ctx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
		defer cancel()
		if err := w.queue.Leave(ctx, w.consumer); err != nil {
			w.log.Warn("leave: other nodes take this node's pending jobs once its heartbeat expires", "err", err)
		}
	}()
	return done
}

// loop takes one job at a time from q until soft is cancelled.
func (w *workers) loop(soft context.Context, q store.Queue) {
	for soft.Err() == nil {
		job, err := w.queue.NextJob(soft, q, w.consumer, nextJobBlock)
		if err != nil {
			if soft.Err() == nil {
				w.log.Warn("read queue", "queue", q, "err", err)
				sleep(soft, w.clock, readRetry)
			}
			continue
		}
		if job != nil {
			w.handle(*job)
		}
	}
}

// handle runs one job in a slot of its queue, touching it from the start (while it waits for the
// slot too) so that no other worker reclaims it meanwhile. A job whose outcome could not be
// recorded stays pending, for this or another worker to retry.
func (w *workers) handle(job store.Job) {
	ctx, cancel := context.WithCancel(w.hard)
	defer cancel()
	go w.keepAlive(ctx, cancel, job)
	s := w.slotsOf(job.Queue)
	if !s.acquire(ctx, w.soft) {
		return // stopping: the job stays pending, for another node or this one's next start
	}
	defer s.release()
	if !job.Enqueued.IsZero() {
		w.metrics.QueueWait.WithLabelValues(job.Queue.String()).Observe(w.clock.Now().Sub(job.Enqueued).Seconds())
	}
	var err error
	if job.Queue == store.Builds {
		err = w.build(ctx, job)
	} else {
		err = w.run(ctx, job)
	}
	if err != nil && ctx.Err() == nil {
		w.log.Error("job failed; left pending for retry", "job", job.String(), "err", err)
	}
}

// keepAlive touches job every reclaimIdle/4 until ctx ends; when the queue says another worker
// took the job over, it cancels the job here rather than have it run twice.
func (w *workers) keepAlive(ctx context.Context, cancel context.CancelFunc, job store.Job) {
	ticks, stop := w.clock.NewTicker(w.set.reclaimIdle / 4)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			if err := w.queue.Touch(ctx, job, w.consumer); errors.Is(err, store.ErrLost) {
				w.log.Warn("job was reclaimed by another worker; abandoning it here", "job", job.String())
				cancel()
				return
			}
		}
	}
}

func ignoreNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/faaspot/faaspot/metrics"
	"github.com/faaspot/faaspot/store"
)

// Timings of the worker loops that are not the operator's settings.
const (
	// nextJobBlock is how long one read of a queue waits for a job.
	nextJobBlock = 5 * time.Second
	// readRetry is the pause after a failed read of a queue.
	readRetry = time.Second
	// shutdownGrace is how long in-flight jobs may go on after the workers are told to stop.
	shutdownGrace = 20 * time.Second
)

// workerSettings is the part of Config the workers read.
type workerSettings struct {
	runWorkers, buildWorkers int
	// reclaimIdle is how long a delivered job may go untouched before another worker takes it;
	// jobs are touched every reclaimIdle/4 and reclaimed every reclaimIdle/3.
	reclaimIdle time.Duration
	// janitorInterval (0: no janitor) and janitorGrace: see janitorLoop and sweepImages.
	janitorInterval, janitorGrace time.Duration
	limits                        limitSettings
	warm                          warmSettings
}

// settingsOf picks the workers' settings out of cfg.
func settingsOf(cfg Config) workerSettings {
	return workerSettings{
		runWorkers: cfg.Workers, buildWorkers: cfg.BuildWorkers,
		reclaimIdle:     cfg.ReclaimIdle,
		janitorInterval: cfg.JanitorInterval, janitorGrace: cfg.JanitorGrace,
		limits: limitsOf(cfg),
		warm: warmSettings{enabled: cfg.Warm, maxIdle: cfg.WarmMaxIdle, maxRuns: cfg.WarmMaxRuns,
			idleTTL: cfg.WarmIdleTTL, prewarm: cfg.WarmPrewarm},
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

	// consumer names this process in the queues' consumer groups.
	consumer string
	// hard is the context every job derives from; start sets it.
	hard     context.Context
	contexts contextCache
	// rebuilding serialises the rare rebuilds of images missing on this node (see localImage).
	rebuilding sync.Mutex
	// building is held shared by every image build and exclusively by the janitor's removal of
	// images built for other stores: a build may take its cached layers from such an image
	// (the engine's build cache), and must not see it removed halfway.
	building sync.RWMutex
}

// startWorkers starts the workers of d on its store, builder and sandbox; they stop when soft
// is cancelled, and d.wg counts them until their in-flight jobs are over.
func (d *Daemon) startWorkers(soft context.Context) {
	host, _ := os.Hostname()
	w := &workers{queue: d.store, builds: d.store, runs: d.store, lister: d.store,
		builder: d.builder, sandbox: d.sandbox, set: settingsOf(d.cfg), metrics: d.metrics,
		log: d.log, clock: systemClock{}, consumer: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), randomHex(4))}
	done := w.start(soft)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		<-done
	}()
}

// start runs the loops until soft is cancelled, then gives in-flight jobs shutdownGrace before
// cancelling them. The returned channel is closed once every loop has returned. Call it once.
func (w *workers) start(soft context.Context) <-chan struct{} {
	hard, hardCancel := context.WithCancel(context.WithoutCancel(soft))
	w.hard = hard
	var loops sync.WaitGroup
	spawn := func(f func()) {
		loops.Add(1)
		go func() { defer loops.Done(); f() }()
	}
	for range w.set.runWorkers {
		spawn(func() { w.loop(soft, store.Runs) })
	}
	for range w.set.buildWorkers {
		spawn(func() { w.loop(soft, store.Builds) })
	}
	spawn(func() { w.reclaimLoop(soft) })
	if w.set.janitorInterval > 0 {
		spawn(func() { w.janitorLoop(soft) })
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-soft.Done()
		stop := w.clock.AfterFunc(shutdownGrace, hardCancel)
		loops.Wait()
		stop()
		hardCancel()
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

// reclaimLoop takes over jobs whose worker died (delivered, never acknowledged, not touched).
func (w *workers) reclaimLoop(soft context.Context) {
	for sleep(soft, w.clock, w.set.reclaimIdle/3) {
		for _, q := range []store.Queue{store.Builds, store.Runs} {
			jobs, err := w.queue.Reclaim(soft, q, w.consumer, w.set.reclaimIdle, 1)
			if err != nil {
				w.log.Warn("reclaim", "queue", q, "err", err)
				continue
			}
			for _, j := range jobs { // one at a time: a job claimed here and left waiting would age again
				w.log.Info("reclaimed job of a dead worker", "job", j.String())
				w.handle(j)
			}
		}
	}
}

// handle runs one job, touching it periodically so that no other worker reclaims it meanwhile.
// A job whose outcome could not be recorded stays pending, for this or another worker to retry.
func (w *workers) handle(job store.Job) {
	ctx, cancel := context.WithCancel(w.hard)
	defer cancel()
	go w.keepAlive(ctx, cancel, job)
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

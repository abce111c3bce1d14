package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/callback"
	"github.com/faaspot/faaspot/metrics"
	"github.com/faaspot/faaspot/store"
)

// Callbacks. The terminal record of a run with a callback URL (the run's X-Faaspot-Callback-Url,
// else, for an async run, its deployment's callback_url) is scheduled for delivery when it is
// written (store: Callbacks). Every worker node delivers the due ones, callbackSlots at a time:
// at once when it wrote the record itself, else within callbackPoll. A delivery POSTs the
// record, signed with the tenant's secrets (store.SigningSecrets); a 2xx answer delivers it; a
// 5xx, 408, 429 or no answer is retried after callbackBackoff doubled per attempt (at most
// callbackBackoffMax) until retryFor has passed since the run ended; another answer, or an
// address the guard refuses, gives up at once.

const (
	callbackPoll       = time.Second
	callbackSlots      = 32
	callbackBackoff    = time.Second
	callbackBackoffMax = 5 * time.Minute
	// HeaderCallbackAttempt numbers the attempts of one callback, from 1.
	headerCallbackAttempt = "X-Faaspot-Callback-Attempt"
)

// callbackStore is what delivering callbacks reads and writes (*store.Store).
type callbackStore interface {
	TakeCallbacks(ctx context.Context, now time.Time, lease time.Duration, n int) ([]store.CallbackJob, error)
	SettleCallback(ctx context.Context, job store.CallbackJob, e faaspot.Execution, due time.Time) error
	DropCallback(ctx context.Context, job store.CallbackJob) error
	GetExecution(ctx context.Context, tid, id string) (faaspot.Execution, error)
	SigningSecrets(ctx context.Context, tid string) ([]string, error)
}

// callbackSender posts one signed callback (*callback.Sender).
type callbackSender interface {
	Send(ctx context.Context, rawURL string, secrets []string, body []byte, now time.Time, headers map[string]string) callback.Result
}

var (
	_ callbackStore  = (*store.Store)(nil)
	_ callbackSender = (*callback.Sender)(nil)
)

// deliverer delivers the callbacks of ended runs.
type deliverer struct {
	store   callbackStore
	send    callbackSender
	clock   clock
	log     *slog.Logger
	metrics *metrics.Metrics
	// retryFor bounds how long after a run's end its callback is retried; lease is how long a
	// taken callback is this node's (longer than one attempt).
	retryFor, lease time.Duration
	nudged          chan struct{}
	// slots holds a token per delivery in flight: a slow receiver holds one slot, not the rest.
	slots    chan struct{}
	inflight sync.WaitGroup
}

func newDeliverer(st callbackStore, send callbackSender, c clock, log *slog.Logger, m *metrics.Metrics, retryFor, timeout time.Duration) *deliverer {
	return &deliverer{store: st, send: send, clock: c, log: log.With("component", "callbacks"), metrics: m,
		retryFor: retryFor, lease: timeout + 10*time.Second, nudged: make(chan struct{}, 1),
		slots: make(chan struct{}, callbackSlots)}
}

// nudge makes the loop look for due callbacks now (this node just scheduled one).
func (d *deliverer) nudge() {
	select {
	case d.nudged <- struct{}{}:
	default:
	}
}

// loop takes the due callbacks every callbackPoll, and when nudged, until soft ends, as many as
// it has free slots; each is delivered in its own goroutine under hard (a stop lets the attempts
// in flight finish within the stop's grace), and loop returns once they are over.
func (d *deliverer) loop(soft, hard context.Context) {
	ticks, stop := d.clock.NewTicker(callbackPoll)
	defer stop()
	defer d.inflight.Wait()
	for {
		select {
		case <-soft.Done():
			return
		case <-ticks:
		case <-d.nudged:
		}
		for d.deliverDue(soft, hard) > 0 && soft.Err() == nil {
			// took some: more may be due
		}
	}
}

// deliverDue takes as many due callbacks as there are free slots and starts their deliveries;
// it returns how many it took.
func (d *deliverer) deliverDue(soft, hard context.Context) int {
	free := callbackSlots - len(d.slots)
	if free == 0 {
		return 0
	}
	jobs, err := d.store.TakeCallbacks(soft, d.clock.Now(), d.lease, free)
	if err != nil {
		if soft.Err() == nil {
			d.log.Warn("take callbacks", "err", err)
		}
		return 0
	}
	for _, j := range jobs {
		d.slots <- struct{}{}
		d.inflight.Add(1)
		go func() {
			defer func() { <-d.slots; d.inflight.Done() }()
			d.deliver(hard, j)
		}()
	}
	return len(jobs)
}

// deliver makes one attempt at job's callback and records how it went.
func (d *deliverer) deliver(ctx context.Context, job store.CallbackJob) {
	e, err := d.store.GetExecution(ctx, job.Tenant, job.ID)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && (e.Callback == nil || e.Callback.State != faaspot.CallbackPending)):
		d.drop(ctx, job, "")
		return
	case err != nil && !errors.Is(err, store.ErrUnavailable):
		d.drop(ctx, job, err.Error()) // a record that cannot be read: it never will be
		return
	case err != nil:
		d.log.Warn("load a callback's execution; retried after its lease", "execution", job.ID, "err", err)
		return
	}
	secrets, err := d.store.SigningSecrets(ctx, job.Tenant)
	if err != nil {
		// Nothing was sent: no attempt counted. Another node (or this one, once the store
		// answers) takes it again when its lease passes.
		d.log.Warn("the tenant's signing secret is unavailable; retried after its lease", "execution", job.ID, "err", err)
		return
	}
	cb := *e.Callback
	cb.Attempts++
	res := d.attempt(ctx, e, secrets, cb.Attempts)
	if ctx.Err() != nil {
		return // stopping: the attempt does not count, the callback is taken again
	}
	now := d.clock.Now()
	due, outcome := d.judge(&cb, res, e, now)
	e.Callback = &cb
	switch err := d.store.SettleCallback(ctx, job, e, due); {
	case errors.Is(err, store.ErrLost):
		d.log.Info("a callback was taken over by another node while this one delivered it", "execution", job.ID)
		return
	case err != nil && !errors.Is(err, store.ErrUnavailable):
		d.drop(ctx, job, err.Error())
		return
	case err != nil:
		d.log.Warn("record a callback's delivery; retried after its lease", "execution", job.ID, "err", err)
		return
	}
	d.metrics.Callbacks.WithLabelValues(outcome).Inc()
	log := d.log.With("tenant", job.Tenant, "execution", job.ID, "host", hostOf(cb.URL), "attempt", cb.Attempts,
		"status", res.Status)
	switch outcome {
	case "delivered":
		log.Debug("callback delivered")
	case "retried":
		log.Info("callback not delivered; retrying", "in", due.Sub(now).Round(time.Millisecond), "reason", cb.LastError)
	default:
		log.Warn("callback given up", "reason", cb.LastError)
	}
}

// drop gives up a callback that can never be delivered (why: logged; "" for one that needs no
// delivery any more: its record is gone or settled).
func (d *deliverer) drop(ctx context.Context, job store.CallbackJob, why string) {
	if why != "" {
		d.log.Error("callback dropped", "tenant", job.Tenant, "execution", job.ID, "reason", why)
	}
	if err := d.store.DropCallback(ctx, job); err != nil && !errors.Is(err, store.ErrLost) {
		d.log.Warn("drop callback", "execution", job.ID, "err", err)
	}
}

// attempt POSTs e (without its callback state: the body is the same at every attempt) to its
// callback URL, signed with secrets.
func (d *deliverer) attempt(ctx context.Context, e faaspot.Execution, secrets []string, n int) callback.Result {
	body := e
	body.Callback = nil
	b, err := json.Marshal(body)
	if err != nil {
		return callback.Result{Err: fmt.Errorf("%w: the record cannot be encoded", callback.ErrRefused)}
	}
	return d.send.Send(ctx, e.Callback.URL, secrets, b, d.clock.Now(), map[string]string{
		faaspot.HeaderExecutionID: e.ID, headerCallbackAttempt: strconv.Itoa(n)})
}

// judge updates cb with the attempt's result res and returns when to try again (while pending)
// and the outcome's metric label.
func (d *deliverer) judge(cb *faaspot.Callback, res callback.Result, e faaspot.Execution, now time.Time) (time.Time, string) {
	cb.LastStatus, cb.LastError = res.Status, errorText(res.Err)
	if res.Delivered() {
		t := now.UTC()
		cb.State, cb.DeliveredAt = faaspot.CallbackDelivered, &t
		return time.Time{}, "delivered"
	}
	ended := now
	if e.FinishedAt != nil {
		ended = *e.FinishedAt
	}
	due := now.Add(callbackDelay(cb.Attempts))
	switch {
	case errors.Is(res.Err, callback.ErrRefused):
		cb.State = faaspot.CallbackFailed
		return time.Time{}, "refused"
	case !res.Retry():
		cb.State = faaspot.CallbackFailed
		cb.LastError = fmt.Sprintf("the receiver answered %d: not retried", res.Status)
	case due.After(ended.Add(d.retryFor)):
		cb.State = faaspot.CallbackFailed
		cb.LastError = fmt.Sprintf("not delivered within %s of the run's end (%d attempts): %s",
			d.retryFor, cb.Attempts, reasonOf(res))
	default:
		cb.State = faaspot.CallbackPending
		return due, "retried"
	}
	return time.Time{}, "failed"
}

// callbackDelay is the wait after attempt n: callbackBackoff doubled per attempt, at most
// callbackBackoffMax.
func callbackDelay(n int) time.Duration {
	d := float64(callbackBackoff) * math.Pow(2, float64(n-1))
	return time.Duration(min(d, float64(callbackBackoffMax)))
}

// reasonOf says in a few words why an attempt did not deliver.
func reasonOf(res callback.Result) string {
	if res.Err != nil {
		return errorText(res.Err)
	}
	return "the receiver answered " + strconv.Itoa(res.Status)
}

// errorText is an attempt's error for the record: the network's reason without the URL that
// net/http repeats ("" for none).
func errorText(err error) string {
	if err == nil {
		return ""
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return "no answer in time"
		}
		err = ue.Err
	}
	return err.Error()
}

// hostOf is the host of a callback URL, for logs: the rest (path, query) may hold the
// receiver's own secrets.
func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return ""
}

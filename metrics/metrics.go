// Package metrics defines faaspot's Prometheus collectors. They are registered on an injected
// Registerer, never the global one, and carry no tenant- or user-supplied label values.
package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// latencyBuckets span 0.5 ms to about a minute.
var latencyBuckets = prometheus.ExponentialBuckets(0.0005, 2, 18)

// Metrics holds every collector the daemon observes through.
type Metrics struct {
	BuildDuration    *prometheus.HistogramVec // label result: ready|failed
	QueueWait        *prometheus.HistogramVec // label queue: builds|runs
	RunDuration      *prometheus.HistogramVec // label status
	SyncLatency      *prometheus.HistogramVec // label status
	ContainerAcquire *prometheus.HistogramVec // label mode: cold|warm
	// Executions counts executions that reached a terminal status, labelled status (and tenant
	// with Options.TenantLabel): count through CountExecution, which bounds the tenant values.
	Executions *prometheus.CounterVec
	ColdStarts prometheus.Counter
	// Callbacks counts callback delivery attempts by outcome: delivered, retried (a 5xx, 408, 429
	// or no answer, tried again later), failed (given up) or refused (an address the operator
	// does not allow).
	Callbacks *prometheus.CounterVec
	// SyncDispatch counts the synchronous runs offered to direct dispatch — on a node that runs
	// workers, unpinned, without an Idempotency-Key, of a deployment with a ready version — by
	// the path each took: direct (queued and claimed in one step by the node the request
	// arrived at, and run there) or queued (put in the tenant's run stream for any worker). A
	// run refused (a quota, the store away) is not counted; other sync runs are always queued
	// and not counted either. Both label values exist from the start, at 0.
	SyncDispatch *prometheus.CounterVec
	// The HTTP collectors are labelled route, method (and code): observe through ObserveHTTP,
	// which keeps every label value in a fixed set.
	HTTPRequests *prometheus.CounterVec
	HTTPDuration *prometheus.HistogramVec
	// RunsInFlight is the runs this node's workers are executing now (from taking a container to
	// the run's end).
	RunsInFlight prometheus.Gauge
	// QuotaRejections counts the requests refused by a tenant's quota (answered 429), by kind:
	// see the Quota* constants.
	QuotaRejections *prometheus.CounterVec
	// ImagePulls counts the pulls from the registry (FAASPOT_REGISTRY) of images missing on this
	// node's engine, by result: pulled, missing (the registry has no such image: it is built
	// here instead) or error (the pull failed otherwise: built here too). The three series exist
	// from the start, at 0.
	ImagePulls *prometheus.CounterVec

	tenants *tenantLabels // nil: no tenant label
}

// The values of SyncDispatch's label path.
const (
	DispatchDirect = "direct"
	DispatchQueued = "queued"
)

// The values of ImagePulls's label result.
const (
	PullPulled  = "pulled"
	PullMissing = "missing"
	PullError   = "error"
)

// New creates the collectors, without a tenant label, and registers them on reg.
func New(reg prometheus.Registerer) *Metrics { return NewWithOptions(reg, Options{}) }

// NewWithOptions creates the collectors as opts asks and registers them on reg.
func NewWithOptions(reg prometheus.Registerer, opts Options) *Metrics {
	execLabels := []string{"status"}
	if opts.TenantLabel {
		execLabels = append(execLabels, "tenant")
	}
	m := &Metrics{
		BuildDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "faaspot_build_duration_seconds", Help: "Time to build a deployment image.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)}, []string{"result"}),
		QueueWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "faaspot_queue_wait_seconds", Help: "Time a job waited in its queue before a worker took it.",
			Buckets: latencyBuckets}, []string{"queue"}),
		RunDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "faaspot_run_duration_seconds", Help: "Time from container start to the end of a run.",
			Buckets: latencyBuckets}, []string{"status"}),
		SyncLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "faaspot_sync_latency_seconds", Help: "End-to-end latency of synchronous runs, request to answer.",
			Buckets: latencyBuckets}, []string{"status"}),
		ContainerAcquire: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "faaspot_container_acquire_seconds", Help: "Time to get a container ready for a run.",
			Buckets: latencyBuckets}, []string{"mode"}),
		Executions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faaspot_executions_total", Help: "Executions that reached a terminal status."}, execLabels),
		ColdStarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "faaspot_cold_starts_total", Help: "Runs that started a fresh container."}),
		Callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faaspot_callbacks_total", Help: "Callback delivery attempts by outcome."}, []string{"outcome"}),
		SyncDispatch: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faaspot_sync_dispatch_total", Help: "Synchronous runs offered to direct dispatch, by the path taken: direct or queued."},
			[]string{"path"}),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faaspot_http_requests_total", Help: "HTTP requests by route template, method and status code."},
			[]string{"route", "method", "code"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "faaspot_http_request_duration_seconds", Help: "HTTP request latency by route template.",
			Buckets: latencyBuckets}, []string{"route", "method"}),
		RunsInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "faaspot_runs_in_flight", Help: "Runs this node's workers are executing now."}),
		QuotaRejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faaspot_quota_rejections_total", Help: "Requests refused by a tenant quota (429), by kind."},
			[]string{"kind"}),
		ImagePulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faaspot_image_pulls_total", Help: "Pulls from the registry of images missing on this node, by result: pulled, missing or error."},
			[]string{"result"}),
	}
	if opts.TenantLabel {
		m.tenants = &tenantLabels{limit: opts.tenantLimit(), seen: map[string]bool{}}
	}
	reg.MustRegister(m.BuildDuration, m.QueueWait, m.RunDuration, m.SyncLatency, m.ContainerAcquire,
		m.Executions, m.ColdStarts, m.Callbacks, m.SyncDispatch, m.HTTPRequests, m.HTTPDuration,
		m.RunsInFlight, m.QuotaRejections, m.ImagePulls)
	for _, kind := range quotaKinds {
		m.QuotaRejections.WithLabelValues(kind)
	}
	m.initSeries(opts.TenantLabel)
	for _, path := range []string{DispatchDirect, DispatchQueued} {
		m.SyncDispatch.WithLabelValues(path)
	}
	return m
}

// DepthFunc reports how many jobs wait in the named queue.
type DepthFunc func(ctx context.Context, queue string) (int64, error)

// queueDepth is a collector that asks the store at scrape time, so the gauge is never stale.
type queueDepth struct {
	desc   *prometheus.Desc
	queues []string
	depth  DepthFunc
}

// RegisterQueueDepth registers faaspot_queue_depth{queue}, read through depth at each scrape.
func RegisterQueueDepth(reg prometheus.Registerer, depth DepthFunc, queues ...string) {
	reg.MustRegister(&queueDepth{
		desc:   prometheus.NewDesc("faaspot_queue_depth", "Jobs waiting in a queue, not yet taken by a worker.", []string{"queue"}, nil),
		queues: queues, depth: depth,
	})
}

func (q *queueDepth) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

func (q *queueDepth) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, name := range q.queues {
		if n, err := q.depth(ctx, name); err == nil {
			ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(n), name)
		}
	}
}

// initSeries creates the series of every known label value at 0, so that a scrape shows them
// before their first event and rate() and increase() see that event (a series born at 1 shows
// no increase).
func (m *Metrics) initSeries(tenantLabel bool) {
	statuses := []string{"completed", "failed", "timeout"}
	for _, st := range statuses {
		m.RunDuration.WithLabelValues(st)
		m.SyncLatency.WithLabelValues(st)
		if !tenantLabel {
			m.Executions.WithLabelValues(st)
		}
	}
	for _, r := range []string{"ready", "failed"} {
		m.BuildDuration.WithLabelValues(r)
	}
	for _, q := range []string{"builds", "runs"} {
		m.QueueWait.WithLabelValues(q)
	}
	for _, mode := range []string{"cold", "warm"} {
		m.ContainerAcquire.WithLabelValues(mode)
	}
	for _, r := range []string{PullPulled, PullMissing, PullError} {
		m.ImagePulls.WithLabelValues(r)
	}
}

package metrics

import (
	"context"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// scrapeTimeout bounds what one scrape-time collector may wait for Redis or the engine: a scrape
// must answer even when they do not.
const scrapeTimeout = time.Second

// PoolCount is how many of a node's containers of one mode (process or fork) are idle in the warm
// pool and how many are busy with a run.
type PoolCount struct {
	Mode       string
	Idle, Busy int
}

// poolCollector reads the warm pool at scrape time.
type poolCollector struct {
	desc   *prometheus.Desc
	counts func() []PoolCount
}

// RegisterWarmPool registers faaspot_warm_containers{state="idle"|"busy",mode}, read through
// counts at each scrape. Cardinality: 2 states × the modes counts returns (process, fork).
func RegisterWarmPool(reg prometheus.Registerer, counts func() []PoolCount) {
	reg.MustRegister(&poolCollector{counts: counts, desc: prometheus.NewDesc("faaspot_warm_containers",
		"Containers of this node by state: idle in the warm pool or busy with a run; and by mode.",
		[]string{"state", "mode"}, nil)})
}

func (p *poolCollector) Describe(ch chan<- *prometheus.Desc) { ch <- p.desc }

func (p *poolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, c := range p.counts() {
		ch <- prometheus.MustNewConstMetric(p.desc, prometheus.GaugeValue, float64(c.Idle), "idle", c.Mode)
		ch <- prometheus.MustNewConstMetric(p.desc, prometheus.GaugeValue, float64(c.Busy), "busy", c.Mode)
	}
}

// OldestFunc returns when the oldest job still waiting in the named queue was queued, and false
// when none waits.
type OldestFunc func(ctx context.Context, queue string) (time.Time, bool, error)

// queueAge is a collector of the oldest waiting job's age per queue, asked at scrape time.
type queueAge struct {
	desc   *prometheus.Desc
	queues []string
	oldest OldestFunc
	now    func() time.Time
}

// RegisterQueueAge registers faaspot_queue_oldest_age_seconds{queue}: how long the oldest job
// not yet taken by a worker has waited, 0 when none waits. It asks oldest at each scrape (one
// Redis command per queue); a queue whose answer fails within a second is left out of that
// scrape. now is the clock (nil: time.Now).
func RegisterQueueAge(reg prometheus.Registerer, oldest OldestFunc, now func() time.Time, queues ...string) {
	if now == nil {
		now = time.Now
	}
	reg.MustRegister(&queueAge{queues: queues, oldest: oldest, now: now,
		desc: prometheus.NewDesc("faaspot_queue_oldest_age_seconds",
			"Age of the oldest job waiting in a queue, not yet taken by a worker; 0 when none waits.", []string{"queue"}, nil)})
}

func (q *queueAge) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

func (q *queueAge) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	for _, name := range q.queues {
		at, ok, err := q.oldest(ctx, name)
		if err != nil {
			continue
		}
		age := 0.0
		if ok {
			age = max(0, q.now().Sub(at).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, age, name)
	}
}

// upCollector reports whether a dependency answers, asked at scrape time.
type upCollector struct {
	desc *prometheus.Desc
	ping func(ctx context.Context) error
}

// RegisterUp registers the gauge name: 1 when ping answers within a second at scrape time, 0
// otherwise (e.g. faaspot_redis_up, faaspot_engine_up).
func RegisterUp(reg prometheus.Registerer, name, help string, ping func(ctx context.Context) error) {
	reg.MustRegister(&upCollector{ping: ping, desc: prometheus.NewDesc(name, help, nil, nil)})
}

func (u *upCollector) Describe(ch chan<- *prometheus.Desc) { ch <- u.desc }

func (u *upCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	up := 0.0
	if u.ping(ctx) == nil {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(u.desc, prometheus.GaugeValue, up)
}

// RegisterBuildInfo registers faaspot_build_info{version,goversion}, always 1: join on it to
// see which version each node runs.
func RegisterBuildInfo(reg prometheus.Registerer, version string) {
	if version == "" {
		version = "dev"
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "faaspot_build_info",
		Help:        "The running faaspotd's version and Go version; always 1.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()}})
	g.Set(1)
	reg.MustRegister(g)
}

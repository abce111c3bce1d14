package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faaspot/faaspot/imagebuilder"
	"github.com/faaspot/faaspot/metrics"
	"github.com/faaspot/faaspot/sandbox"
)

// Hand-written fakes of the store, the image builder and the sandbox. Every call is counted in
// one shared log (so that tests can assert the order of calls across fakes) behind a mutex, and
// every call taking a context returns its error once it has ended.

var (
	_ jobQueue         = (*fakeStore)(nil)
	_ buildRecords     = (*fakeStore)(nil)
	_ runRecords       = (*fakeStore)(nil)
	_ deploymentLister = (*fakeStore)(nil)
	_ imageBuilder     = (*fakeBuilder)(nil)
	_ runner           = (*fakeRunner)(nil)
	_ clock            = (*fakeClock)(nil)
)

// callLog records the calls made to the fakes, in order.
type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) add(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, name)
}

func (l *callLog) count(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.calls {
		if c == name {
			n++
		}
	}
	return n
}

// index is the position of the first call of name, -1 when there was none.
func (l *callLog) index(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Index(l.calls, name)
}

func (l *callLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.calls, ", ")
}

// fakeBuilder builds through its build function (by default: a tag made of the spec).
type fakeBuilder struct {
	log *callLog

	mu       sync.Mutex
	build    func(ctx context.Context, spec imagebuilder.Spec) (string, string, error)
	specs    []imagebuilder.Spec
	removed  []string // tags given to RemoveImage
	gone     []imagebuilder.Ref
	pruned   []pruneCall
	owned    []imagebuilder.Ref
	ownedErr error
	pruneN   int
	pruneErr error
	rmErr    error
	// rmImageErr is RemoveImage's (the tag is recorded all the same).
	rmImageErr error
	// sweeps, when set, receives at each call of Owned (the start of a janitor pass).
	sweeps chan struct{}
	// pull is Pull's answer (nil: pulled); pulls records the references pulled.
	pull  func(ctx context.Context, ref string) error
	pulls []string
}

func (b *fakeBuilder) Pull(ctx context.Context, ref string) error {
	b.log.add("builder.Pull")
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	b.pulls = append(b.pulls, ref)
	pull := b.pull
	b.mu.Unlock()
	if pull != nil {
		return pull(ctx, ref)
	}
	return nil
}

type pruneCall struct {
	ref    imagebuilder.Ref
	keep   string // the images kept, comma-separated
	minAge time.Duration
}

func (b *fakeBuilder) Build(ctx context.Context, spec imagebuilder.Spec) (string, string, error) {
	b.log.add("builder.Build")
	if err := ctx.Err(); err != nil {
		return "", "", err
	}
	b.mu.Lock()
	b.specs = append(b.specs, spec)
	build := b.build
	b.mu.Unlock()
	if build != nil {
		return build(ctx, spec)
	}
	return "img/" + spec.DeploymentID + ":" + spec.Code, "built\n", nil
}

func (b *fakeBuilder) RemoveImage(ctx context.Context, tag string) error {
	b.log.add("builder.RemoveImage")
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.removed = append(b.removed, tag)
	return b.rmImageErr
}

func (b *fakeBuilder) Remove(ctx context.Context, tenantID, deploymentID string) error {
	b.log.add("builder.Remove")
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gone = append(b.gone, imagebuilder.Ref{TenantID: tenantID, DeploymentID: deploymentID})
	return b.rmErr
}

func (b *fakeBuilder) Prune(ctx context.Context, r imagebuilder.Ref, keep []string, minAge time.Duration) (int, error) {
	b.log.add("builder.Prune")
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pruned = append(b.pruned, pruneCall{r, strings.Join(keep, ","), minAge})
	return b.pruneN, b.pruneErr
}

// PruneDeps removes nothing: the fake builds no dependencies images.
func (b *fakeBuilder) PruneDeps(ctx context.Context, before time.Time) (int, error) {
	return 0, ctx.Err()
}

func (b *fakeBuilder) Owned(ctx context.Context) ([]imagebuilder.Ref, error) {
	b.log.add("builder.Owned")
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if b.sweeps != nil {
		b.sweeps <- struct{}{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.owned), b.ownedErr
}

// fakeRunner answers each Run with the next of its results (the last one repeats).
type fakeRunner struct {
	log *callLog

	mu       sync.Mutex
	results  []func(ctx context.Context, req sandbox.Request) (sandbox.Result, error)
	runs     []sandbox.Request
	prewarms []prewarmCall
	retired  []string
	// prewarmErr is Prewarm's (the call is recorded all the same).
	prewarmErr error
}

type prewarmCall struct {
	req sandbox.Request
	n   int
}

func (r *fakeRunner) Run(ctx context.Context, req sandbox.Request) (sandbox.Result, error) {
	r.log.add("sandbox.Run")
	if err := ctx.Err(); err != nil {
		return sandbox.Result{}, err
	}
	r.mu.Lock()
	r.runs = append(r.runs, req)
	next := func(context.Context, sandbox.Request) (sandbox.Result, error) {
		return sandbox.Result{Outcome: sandbox.Completed, Value: json.RawMessage(`"ok"`)}, nil
	}
	if len(r.results) > 0 {
		next = r.results[0]
	}
	if len(r.results) > 1 {
		r.results = r.results[1:]
	}
	r.mu.Unlock()
	return next(ctx, req)
}

func (r *fakeRunner) Prewarm(ctx context.Context, req sandbox.Request, n int) error {
	r.log.add("sandbox.Prewarm")
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prewarms = append(r.prewarms, prewarmCall{req, n})
	return r.prewarmErr
}

func (r *fakeRunner) Retire(prefix string) int {
	r.log.add("sandbox.Retire")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retired = append(r.retired, prefix)
	return 1
}

func (r *fakeRunner) snapshot() (runs []sandbox.Request, prewarms []prewarmCall, retired []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.runs), slices.Clone(r.prewarms), slices.Clone(r.retired)
}

// testWorkers holds workers on fakes, with the fakes and the metrics registry at hand.
type testWorkers struct {
	*workers
	calls   *callLog
	store   *fakeStore
	builder *fakeBuilder
	runner  *fakeRunner
	clock   *fakeClock
	reg     *prometheus.Registry
	// logs holds what the workers logged, at every level, in the daemon's text format.
	logs *logBuffer
}

// testSettings are the default settings (warm containers on, one pre-warmed), with a reclaim
// idle time whose derived periods (touch 3 s, reclaim 4 s) differ from every other timer's, so
// that a test waiting for a timer of some duration finds the one it means.
func testSettings() workerSettings {
	s := settingsOf(DefaultConfig())
	s.reclaimIdle = 12 * time.Second
	return s
}

// newTestWorkers returns workers on fresh fakes whose hard context ends with the test.
func newTestWorkers(t *testing.T) *testWorkers {
	t.Helper()
	calls := &callLog{}
	reg := prometheus.NewRegistry()
	tw := &testWorkers{calls: calls, store: newFakeStore(calls), builder: &fakeBuilder{log: calls},
		runner: &fakeRunner{log: calls}, clock: newFakeClock(), reg: reg, logs: &logBuffer{}}
	tw.workers = &workers{queue: tw.store, builds: tw.store, runs: tw.store, lister: tw.store,
		builder: tw.builder, sandbox: tw.runner, set: testSettings(), metrics: metrics.New(reg),
		log:   slog.New(slog.NewTextHandler(tw.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		clock: tw.clock, consumer: "test", hard: t.Context(),
		runSlots: make(slots, 8), buildSlots: make(slots, 2)}
	return tw
}

// logBuffer is the workers' log output, written to from any goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines returns the log lines holding every one of fragments, which are written as the text
// handler writes them: `level=WARN`, `msg="image janitor: pass failed"`, `job="run t1/e1"`.
func (l *logBuffer) lines(fragments ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for line := range strings.Lines(l.buf.String()) {
		if !slices.ContainsFunc(fragments, func(f string) bool { return !strings.Contains(line, f) }) {
			out = append(out, strings.TrimSuffix(line, "\n"))
		}
	}
	return out
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// sample is what a metric series holds: a histogram's count and sum, or a counter's value.
type sample struct {
	count      uint64
	sum, value float64
}

// metric gathers the registry and returns the series of family name whose one label has the
// value label ("" for a series without labels); the zero sample when there is none.
func (tw *testWorkers) metric(t *testing.T, name, label string) sample {
	t.Helper()
	fams, err := tw.reg.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := m.GetLabel()
			if (label == "" && len(labels) == 0) || (len(labels) == 1 && labels[0].GetValue() == label) {
				h := m.GetHistogram()
				return sample{count: h.GetSampleCount(), sum: h.GetSampleSum(), value: m.GetCounter().GetValue()}
			}
		}
	}
	return sample{}
}

package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/callback"
	"github.com/faaspot/faaspot/metrics"
	"github.com/faaspot/faaspot/store"
)

// fakeCallbacks is a callbackStore over one map of records; settled records their due times.
type fakeCallbacks struct {
	mu        sync.Mutex
	records   map[string]faaspot.Execution
	due       map[string]time.Time // pending callbacks by execution id
	dropped   []string
	secretErr error
}

func (f *fakeCallbacks) TakeCallbacks(_ context.Context, now time.Time, lease time.Duration, n int) ([]store.CallbackJob, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var jobs []store.CallbackJob
	for id, at := range f.due {
		if !at.After(now) && len(jobs) < n {
			jobs = append(jobs, store.CallbackJob{Tenant: "t1", ID: id, Lease: now.Add(lease).UnixMilli()})
			f.due[id] = now.Add(lease)
		}
	}
	return jobs, nil
}

func (f *fakeCallbacks) SettleCallback(_ context.Context, job store.CallbackJob, e faaspot.Execution, due time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.records[job.ID] = e
	if e.Callback.State == faaspot.CallbackPending {
		f.due[job.ID] = due
	} else {
		delete(f.due, job.ID)
	}
	return nil
}

func (f *fakeCallbacks) DropCallback(_ context.Context, job store.CallbackJob) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.due, job.ID)
	f.dropped = append(f.dropped, job.ID)
	return nil
}

func (f *fakeCallbacks) GetExecution(_ context.Context, _, id string) (faaspot.Execution, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.records[id]
	if !ok {
		return e, store.ErrNotFound
	}
	return e, nil
}

func (f *fakeCallbacks) SigningSecrets(context.Context, string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.secretErr != nil {
		return nil, f.secretErr
	}
	return []string{"whsec_test", "whsec_old"}, nil
}

// scriptedSender answers the attempts in order from results, recording each request.
type scriptedSender struct {
	mu      sync.Mutex
	results []callback.Result
	sent    []sentCallback
}

type sentCallback struct {
	url     string
	secrets []string
	body    []byte
	headers map[string]string
}

func (s *scriptedSender) Send(_ context.Context, u string, secrets []string, body []byte, _ time.Time, h map[string]string) callback.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, sentCallback{url: u, secrets: secrets, body: body, headers: h})
	res := s.results[0]
	if len(s.results) > 1 {
		s.results = s.results[1:]
	}
	return res
}

// deliverNow takes the due callbacks and waits for their deliveries; it returns how many.
func deliverNow(d *deliverer) int {
	n := d.deliverDue(context.Background(), context.Background())
	d.inflight.Wait()
	return n
}

// newTestDeliverer returns a deliverer of one ended execution "e1" whose callback is due now.
func newTestDeliverer(t *testing.T, results ...callback.Result) (*deliverer, *fakeCallbacks, *scriptedSender, *fakeClock, *metrics.Metrics) {
	t.Helper()
	clk := newFakeClock()
	ended := clk.Now()
	st := &fakeCallbacks{records: map[string]faaspot.Execution{"e1": {ID: "e1", Deployment: "fn", Status: faaspot.ExecCompleted,
		Result: json.RawMessage(`42`), FinishedAt: &ended,
		Callback: &faaspot.Callback{URL: "https://hooks.test/x", State: faaspot.CallbackPending}}},
		due: map[string]time.Time{"e1": ended}}
	snd := &scriptedSender{results: results}
	m := metrics.New(prometheus.NewRegistry())
	d := newDeliverer(st, snd, clk, slog.New(slog.NewTextHandler(io.Discard, nil)), m, time.Minute, 10*time.Second)
	return d, st, snd, clk, m
}

// TestCallbackDelivered: one POST of the record without its callback state, with the execution
// id and the attempt number, signed with the tenant's secret; the record then says delivered.
func TestCallbackDelivered(t *testing.T) {
	d, st, snd, clk, m := newTestDeliverer(t, callback.Result{Status: 204})
	if n := deliverNow(d); n != 1 {
		t.Fatalf("deliverDue took %d", n)
	}
	sent := snd.sent[0]
	if sent.url != "https://hooks.test/x" || len(sent.secrets) != 2 || sent.secrets[0] != "whsec_test" || sent.headers[faaspot.HeaderExecutionID] != "e1" ||
		sent.headers[headerCallbackAttempt] != "1" || strings.Contains(string(sent.body), "callback") {
		t.Fatalf("sent %+v (%s)", sent, sent.body)
	}
	var body faaspot.Execution
	if err := json.Unmarshal(sent.body, &body); err != nil || body.ID != "e1" || string(body.Result) != "42" {
		t.Fatalf("body %s: %v", sent.body, err)
	}
	cb := st.records["e1"].Callback
	if cb.State != faaspot.CallbackDelivered || cb.Attempts != 1 || cb.LastStatus != 204 || cb.DeliveredAt == nil || !cb.DeliveredAt.Equal(clk.Now()) {
		t.Fatalf("callback = %+v", cb)
	}
	var metric dto.Metric
	if err := m.Callbacks.WithLabelValues("delivered").Write(&metric); err != nil || len(st.due) != 0 || metric.GetCounter().GetValue() != 1 {
		t.Fatalf("due %v, delivered metric %v (%v)", st.due, metric.GetCounter().GetValue(), err)
	}
}

// TestCallbackRetries: 5xx and no answer are retried after 1 s, 2 s, 4 s...; a final answer
// (4xx), a refused address or the end of the retry time gives up, saying why.
func TestCallbackRetries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		results  []callback.Result
		attempts int
		state    faaspot.CallbackState
		reason   string
	}{
		{"delivered on the third attempt", []callback.Result{{Status: 503}, {Err: errors.New("connection refused")}, {Status: 200}},
			3, faaspot.CallbackDelivered, ""},
		{"4xx is final", []callback.Result{{Status: 500}, {Status: 410}}, 2, faaspot.CallbackFailed, "answered 410: not retried"},
		{"refused address", []callback.Result{{Err: fmt.Errorf("%w: 10.0.0.1 is inside", callback.ErrRefused)}}, 1,
			faaspot.CallbackFailed, "10.0.0.1 is inside"},
		{"retry time over", []callback.Result{{Status: 502}}, 6, faaspot.CallbackFailed, "not delivered within 1m0s of the run's end (6 attempts)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, st, snd, clk, _ := newTestDeliverer(t, tc.results...)
			var waits []time.Duration
			for range 20 {
				if deliverNow(d) == 0 {
					due, pending := st.due["e1"]
					if !pending {
						break
					}
					waits = append(waits, due.Sub(clk.Now()))
					clk.Advance(due.Sub(clk.Now()))
				}
			}
			cb := st.records["e1"].Callback
			if len(snd.sent) != tc.attempts || cb.Attempts != tc.attempts || cb.State != tc.state || !strings.Contains(cb.LastError, tc.reason) {
				t.Fatalf("%d sent; callback %+v; want %d attempts, %s, %q", len(snd.sent), cb, tc.attempts, tc.state, tc.reason)
			}
			for i, w := range waits {
				if want := time.Second << i; w != want {
					t.Errorf("wait %d = %v, want %v", i, w, want)
				}
			}
		})
	}
}

// TestCallbackOfGoneOrSettledRecord: a callback whose record is gone, or no longer pending, is
// dropped without a request.
func TestCallbackOfGoneOrSettledRecord(t *testing.T) {
	d, st, snd, clk, _ := newTestDeliverer(t, callback.Result{Status: 200})
	st.due["gone"] = clk.Now()
	e := st.records["e1"]
	e.Callback = &faaspot.Callback{URL: e.Callback.URL, State: faaspot.CallbackDelivered}
	st.records["e1"] = e
	deliverNow(d)
	if len(snd.sent) != 0 || len(st.dropped) != 2 || len(st.due) != 0 {
		t.Fatalf("sent %d, dropped %v, due %v", len(snd.sent), st.dropped, st.due)
	}
}

// TestCallbackSecretUnavailable: with no secret to sign with, nothing is sent and no attempt is
// counted: the callback waits for its lease to pass.
func TestCallbackSecretUnavailable(t *testing.T) {
	d, st, snd, _, _ := newTestDeliverer(t, callback.Result{Status: 200})
	st.secretErr = store.ErrSecretKey
	deliverNow(d)
	if len(snd.sent) != 0 || st.records["e1"].Callback.Attempts != 0 || st.records["e1"].Callback.State != faaspot.CallbackPending {
		t.Fatalf("sent %d; callback %+v; want nothing sent, nothing counted", len(snd.sent), st.records["e1"].Callback)
	}
	if _, leased := st.due["e1"]; !leased {
		t.Fatal("the callback left the set")
	}
}

package sandbox

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when a test advances it; timers due by then fire in the
// advancing goroutine, in the order of their deadlines.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clock *fakeClock
	at    time.Time
	d     time.Duration
	f     func()
	done  bool // fired or stopped
}

var _ clock = (*fakeClock)(nil)

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, at: c.now.Add(d), d: d, f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	armed := !t.done
	t.done = true
	return armed
}

// Advance moves the clock by d and fires the timers due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	for _, t := range c.timers {
		if !t.done && !t.at.After(c.now) {
			t.done = true
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	slices.SortStableFunc(due, func(a, b *fakeTimer) int { return a.at.Compare(b.at) })
	for _, t := range due {
		t.f()
	}
}

// armed returns the delays of the timers neither fired nor stopped.
func (c *fakeClock) armed() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Duration
	for _, t := range c.timers {
		if !t.done {
			out = append(out, t.d)
		}
	}
	return out
}

func noExpire(t *testing.T) func(*box) {
	return func(b *box) { t.Errorf("box %s expired", b.id) }
}

func TestPoolTake(t *testing.T) {
	p := &pool{max: 10}
	pol := PoolPolicy{MaxIdle: 3}
	if b := p.take(keyA); b != nil {
		t.Fatalf("take from an empty pool = %v", b.id)
	}
	b1, b2, other := &box{id: "b1", key: keyA}, &box{id: "b2", key: keyA}, &box{id: "o", key: keyB}
	for _, b := range []*box{b1, b2, other} {
		if !p.put(b, pol, noExpire(t)) {
			t.Fatalf("put %s refused", b.id)
		}
	}
	if idle, all := p.size(keyA); idle != 2 || all != 3 {
		t.Errorf("size = %d, %d; want 2, 3", idle, all)
	}
	// The most recently used first: its caches are the warmest.
	var got []string
	for b := p.take(keyA); b != nil; b = p.take(keyA) {
		if b.key != keyA {
			t.Errorf("take(%s) handed out a box of %s", keyA, b.key)
		}
		got = append(got, b.id)
	}
	if want := []string{"b2", "b1"}; !slices.Equal(got, want) {
		t.Errorf("take order = %v, want %v", got, want)
	}
	if b := p.take("t1/d1/"); b != nil {
		t.Errorf("take of a prefix of the key = %s, want nil", b.id)
	}
	if b := p.take(keyB); b != other {
		t.Errorf("take(%s) = %v, want its own box", keyB, b)
	}
	if idle, all := p.size(keyA); idle != 0 || all != 0 {
		t.Errorf("size after taking all = %d, %d", idle, all)
	}
}

func TestPoolPutRefuses(t *testing.T) {
	tests := []struct {
		name   string
		max    int        // the pool's cap on all idle boxes
		before []*box     // already idle
		b      *box       // put under pol
		pol    PoolPolicy // the policy of the put
		closed bool       // the pool was drained for closing
		want   bool       // the box is kept
	}{
		{name: "kept", max: 4, b: &box{key: keyA, runs: 1}, pol: PoolPolicy{MaxIdle: 1}, want: true},
		{name: "no idle boxes wanted", max: 4, b: &box{key: keyA}, pol: PoolPolicy{MaxIdle: 0}},
		{name: "negative max idle", max: 4, b: &box{key: keyA}, pol: PoolPolicy{MaxIdle: -1}},
		{name: "key full", max: 4, before: []*box{{key: keyA}, {key: keyA}}, b: &box{key: keyA},
			pol: PoolPolicy{MaxIdle: 2}},
		{name: "another key full does not count", max: 4, before: []*box{{key: keyB}, {key: keyB}}, b: &box{key: keyA},
			pol: PoolPolicy{MaxIdle: 2}, want: true},
		{name: "pool full", max: 2, before: []*box{{key: keyB}, {key: "t2/d/1/"}}, b: &box{key: keyA},
			pol: PoolPolicy{MaxIdle: 2}},
		{name: "served its runs", max: 4, b: &box{key: keyA, runs: 3}, pol: PoolPolicy{MaxIdle: 1, MaxRuns: 3}},
		{name: "one run short of its runs", max: 4, b: &box{key: keyA, runs: 2}, pol: PoolPolicy{MaxIdle: 1, MaxRuns: 3}, want: true},
		{name: "one run per container", max: 4, b: &box{key: keyA, runs: 1}, pol: PoolPolicy{MaxIdle: 1, MaxRuns: 1}},
		{name: "pre-warmed under one run per container", max: 4, b: &box{key: keyA}, pol: PoolPolicy{MaxIdle: 1, MaxRuns: 1}, want: true},
		{name: "no cap on runs", max: 4, b: &box{key: keyA, runs: 1 << 20}, pol: PoolPolicy{MaxIdle: 1}, want: true},
		{name: "closed", max: 4, b: &box{key: keyA}, pol: PoolPolicy{MaxIdle: 1}, closed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &pool{max: tt.max}
			for _, b := range tt.before {
				if !p.put(b, PoolPolicy{MaxIdle: 10}, noExpire(t)) {
					t.Fatal("setup put refused")
				}
			}
			if tt.closed {
				p.drain("", true)
			}
			_, before := p.size(keyA)
			if got := p.put(tt.b, tt.pol, noExpire(t)); got != tt.want {
				t.Errorf("put = %v, want %v", got, tt.want)
			}
			idle, all := p.size(keyA)
			if wantAll := before + b2i(tt.want); all != wantAll || (tt.want && p.take(keyA) != tt.b) {
				t.Errorf("size after put = %d, %d; want the box idle: %v", idle, all, tt.want)
			}
		})
	}
}

func TestPoolIdleTTL(t *testing.T) {
	const ttl = 20 * time.Millisecond
	clk := newFakeClock()
	p := &pool{max: 4, clock: clk}
	var expired []*box
	b := &box{id: "b", key: keyA}
	if !p.put(b, PoolPolicy{MaxIdle: 1, IdleTTL: ttl}, func(b *box) { expired = append(expired, b) }) {
		t.Fatal("put refused")
	}
	if got := clk.armed(); !slices.Equal(got, []time.Duration{ttl}) {
		t.Fatalf("armed timers %v, want one of %v", got, ttl)
	}
	clk.Advance(ttl - time.Nanosecond)
	if len(expired) != 0 {
		t.Fatal("the idle box expired before its idle time")
	}
	clk.Advance(time.Nanosecond)
	if len(expired) != 1 || expired[0] != b {
		t.Fatalf("expired %v, want the idle box once", expired)
	}
	if idle, all := p.size(keyA); idle != 0 || all != 0 {
		t.Errorf("size after expiry = %d, %d; want 0, 0", idle, all)
	}
	if got := p.take(keyA); got != nil {
		t.Error("an expired box was handed out")
	}
	// Expiry makes room: the key takes a box again.
	if !p.put(&box{key: keyA}, PoolPolicy{MaxIdle: 1}, noExpire(t)) {
		t.Error("put after expiry refused")
	}
}

// A box taken or drained before its idle time is up does not expire.
func TestPoolIdleTTLStopped(t *testing.T) {
	const ttl = 20 * time.Millisecond
	clk := newFakeClock()
	p := &pool{max: 4, clock: clk}
	pol := PoolPolicy{MaxIdle: 2, IdleTTL: ttl}
	taken, drained := &box{id: "taken", key: keyA}, &box{id: "drained", key: keyB}
	p.put(taken, pol, noExpire(t))
	p.put(drained, pol, noExpire(t))
	if p.take(keyA) != taken {
		t.Fatal("take did not return the box")
	}
	if got := p.drain(keyB, false); len(got) != 1 || got[0] != drained {
		t.Fatalf("drain = %v", got)
	}
	// Put back without an idle time, the taken box is not expired by its old timer.
	if !p.put(taken, PoolPolicy{MaxIdle: 2}, noExpire(t)) {
		t.Fatal("put back refused")
	}
	if got := clk.armed(); len(got) != 0 {
		t.Errorf("timers still armed: %v; take and drain stop them", got)
	}
	clk.Advance(3 * ttl) // noExpire fails the test if a timer fires
	if idle, all := p.size(keyA); idle != 1 || all != 1 {
		t.Errorf("size = %d, %d; want the box put back idle alone", idle, all)
	}
}

// TestPoolForbid: a retirement refuses the boxes of its keys created before it (busy when it
// came), and only those: a box created after it is kept as any other.
func TestPoolForbid(t *testing.T) {
	tests := []struct {
		name   string
		retire []string // the prefixes retired, in order
		at     int      // the box is created after the first at retirements
		key    string   // the box's key
		want   bool     // the box is kept
	}{
		{name: "version, box created before", retire: []string{"t/d/1/"}, key: "t/d/1/"},
		{name: "version, box created after", retire: []string{"t/d/1/"}, at: 1, key: "t/d/1/", want: true},
		{name: "version, another version's box", retire: []string{"t/d/1/"}, key: "t/d/10/", want: true},
		{name: "deployment, version 1 created before", retire: []string{"t/d/"}, key: "t/d/1/"},
		{name: "deployment, version 2 created before", retire: []string{"t/d/"}, key: "t/d/2/"},
		{name: "deployment, version 10 created before", retire: []string{"t/d/"}, key: "t/d/10/"},
		{name: "deployment, box created after", retire: []string{"t/d/"}, at: 1, key: "t/d/2/", want: true},
		{name: "deployment, another deployment's box", retire: []string{"t/d/"}, key: "t/dd/1/", want: true},
		{name: "version retired again after the box", retire: []string{"t/d/1/", "t/d/1/"}, at: 1, key: "t/d/1/"},
		{name: "deployment retired after the box", retire: []string{"t/d/1/", "t/d/"}, at: 1, key: "t/d/1/"},
		{name: "version retired after the box", retire: []string{"t/d/", "t/d/1/"}, at: 1, key: "t/d/1/"},
		{name: "another retirement after the box", retire: []string{"t/d/1/", "t/e/"}, at: 1, key: "t/d/1/", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &pool{max: 4, clock: newFakeClock()}
			var b *box
			for i, prefix := range tt.retire {
				if i == tt.at {
					b = &box{key: tt.key, epoch: p.currentEpoch()}
				}
				p.forbid(prefix)
			}
			if b == nil {
				b = &box{key: tt.key, epoch: p.currentEpoch()}
			}
			if got := p.put(b, PoolPolicy{MaxIdle: 1}, noExpire(t)); got != tt.want {
				t.Errorf("put = %v, want %v", got, tt.want)
			}
			if idle, _ := p.size(tt.key); idle != b2i(tt.want) {
				t.Errorf("%d idle, want %d", idle, b2i(tt.want))
			}
		})
	}
}

// TestPoolForbidForgets: a retirement is remembered for retiredFor, then forgotten (at the next
// one) so that the list does not grow for ever.
func TestPoolForbidForgets(t *testing.T) {
	clk := newFakeClock()
	p := &pool{max: 4, clock: clk}
	old := &box{key: keyA, epoch: p.currentEpoch()} // busy for longer than any run lasts
	p.forbid("t1/d1/")
	clk.Advance(retiredFor)
	p.forbid("t9/")
	if p.put(old, PoolPolicy{MaxIdle: 1}, noExpire(t)) {
		t.Error("a retirement was forgotten before retiredFor was over")
	}
	clk.Advance(time.Nanosecond)
	p.forbid("t9/")
	if len(p.retired) != 1 {
		t.Errorf("%d retirements remembered, want the last one only", len(p.retired))
	}
	if !p.put(old, PoolPolicy{MaxIdle: 1}, noExpire(t)) {
		t.Error("a retirement is remembered past retiredFor")
	}
}

// TestPoolWants: a replacement is wanted when the pool would keep it; not to replace a box a
// retirement of its key found alive, though a box started now would be kept.
func TestPoolWants(t *testing.T) {
	tests := []struct {
		name    string
		max     int      // the pool's cap on all idle boxes
		before  []string // the keys of the boxes already idle
		pol     PoolPolicy
		retired string // a prefix retired first
		closed  bool
		want    bool
		spent   bool // the box replaced was alive at the retirement (else started after it)
	}{
		{name: "room", max: 4, pol: PoolPolicy{MaxIdle: 1}, want: true},
		{name: "no idle boxes wanted", max: 4, pol: PoolPolicy{MaxIdle: 0}},
		{name: "key full", max: 4, before: []string{keyA}, pol: PoolPolicy{MaxIdle: 1}},
		{name: "pool full", max: 1, before: []string{keyB}, pol: PoolPolicy{MaxIdle: 1}},
		{name: "closed", max: 4, pol: PoolPolicy{MaxIdle: 1}, closed: true},
		{name: "version retired", max: 4, pol: PoolPolicy{MaxIdle: 1}, retired: keyA, want: true},
		{name: "deployment retired", max: 4, pol: PoolPolicy{MaxIdle: 1}, retired: "t1/d1/", want: true},
		{name: "replacing a box of a retired version", max: 4, pol: PoolPolicy{MaxIdle: 1}, retired: keyA, spent: true},
		{name: "replacing a box of a retired deployment", max: 4, pol: PoolPolicy{MaxIdle: 1}, retired: "t1/d1/", spent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &pool{max: tt.max, clock: newFakeClock()}
			for _, k := range tt.before {
				if !p.put(&box{key: k}, PoolPolicy{MaxIdle: 10}, noExpire(t)) {
					t.Fatal("setup put refused")
				}
			}
			spent := p.currentEpoch()
			if tt.retired != "" {
				p.forbid(tt.retired)
			}
			if tt.closed {
				p.drain("", true)
			}
			if !tt.spent {
				spent = p.currentEpoch()
			}
			if got := p.wants(keyA, tt.pol, spent); got != tt.want {
				t.Errorf("wants = %v, want %v", got, tt.want)
			}
			if tt.spent {
				return
			}
			// wants and put agree on a box started now.
			b := &box{key: keyA, epoch: p.currentEpoch()}
			if got := p.put(b, tt.pol, noExpire(t)); got != tt.want {
				t.Errorf("put of a box started now = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPoolDrain(t *testing.T) {
	keys := []string{"t/d/1/", "t/d/1/", "t/d/10/", "t/d/2/", "t/dd/1/", "u/d/1/"}
	tests := []struct {
		prefix string
		want   []string // the keys of the drained boxes
	}{
		{prefix: "t/d/1/", want: []string{"t/d/1/", "t/d/1/"}}, // not t/d/10/
		{prefix: "t/d/10/", want: []string{"t/d/10/"}},
		{prefix: "t/d/", want: []string{"t/d/1/", "t/d/1/", "t/d/10/", "t/d/2/"}}, // not t/dd/
		{prefix: "t/", want: []string{"t/d/1/", "t/d/1/", "t/d/10/", "t/d/2/", "t/dd/1/"}},
		{prefix: "v/", want: nil},
		{prefix: "", want: keys},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			p := &pool{max: 10}
			for _, k := range keys {
				if !p.put(&box{key: k}, PoolPolicy{MaxIdle: 2}, noExpire(t)) {
					t.Fatalf("put %s refused", k)
				}
			}
			var got []string
			for _, b := range p.drain(tt.prefix, false) {
				got = append(got, b.key)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("drained %v, want %v", got, tt.want)
			}
			if _, all := p.size(""); all != len(keys)-len(tt.want) {
				t.Errorf("%d idle after drain, want %d", all, len(keys)-len(tt.want))
			}
			for _, k := range got {
				if b := p.take(k); b != nil {
					t.Errorf("a box of drained key %s is still handed out", k)
				}
			}
			// Draining without closing leaves the pool open.
			if !p.put(&box{key: "w/d/1/"}, PoolPolicy{MaxIdle: 1}, noExpire(t)) {
				t.Error("put after drain refused")
			}
		})
	}
}

func TestPoolClosed(t *testing.T) {
	p := &pool{max: 4}
	p.put(&box{key: keyA}, PoolPolicy{MaxIdle: 1}, noExpire(t))
	if got := p.drain("", true); len(got) != 1 {
		t.Errorf("closing drained %d boxes, want 1", len(got))
	}
	if p.put(&box{key: keyB}, PoolPolicy{MaxIdle: 1}, noExpire(t)) {
		t.Error("a closed pool accepted a box")
	}
	// A later drain, prefixed or not, does not reopen it.
	p.drain(keyA, false)
	if p.put(&box{key: keyB}, PoolPolicy{MaxIdle: 1}, noExpire(t)) {
		t.Error("a drain reopened the closed pool")
	}
}

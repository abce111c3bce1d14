package daemon

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when a test advances it. Functions of AfterFunc run in
// Advance, on the test's goroutine, so that what they do is done when Advance returns.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	// changed is closed, and replaced, whenever a timer is added.
	changed chan struct{}
}

type fakeTimer struct {
	at     time.Time
	d      time.Duration
	ticker bool
	ch     chan time.Time
	f      func()
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), changed: make(chan struct{})}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) add(t *fakeTimer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t.at = c.now.Add(t.d)
	c.timers = append(c.timers, t)
	close(c.changed)
	c.changed = make(chan struct{})
}

// remove reports whether t was pending.
func (c *fakeClock) remove(t *fakeTimer) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.timers, t)
	if i < 0 {
		return false
	}
	c.timers = slices.Delete(c.timers, i, i+1)
	return true
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	t := &fakeTimer{d: d, ch: make(chan time.Time, 1)}
	c.add(t)
	return t.ch
}

func (c *fakeClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	t := &fakeTimer{d: d, ticker: true, ch: make(chan time.Time, 1)}
	c.add(t)
	return t.ch, func() { c.remove(t) }
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	t := &fakeTimer{d: d, f: f}
	c.add(t)
	return func() bool { return c.remove(t) }
}

// Advance moves the clock by d and fires the timers that came due: channels receive (a ticker's
// tick is dropped when the last one was not taken) and functions run before Advance returns.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			kept = append(kept, t)
			continue
		}
		if t.f != nil {
			due = append(due, t.f)
		} else {
			select {
			case t.ch <- c.now:
			default:
			}
		}
		if t.ticker {
			for !t.at.After(c.now) {
				t.at = t.at.Add(t.d)
			}
			kept = append(kept, t)
		}
	}
	c.timers = kept
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

// pending reports whether a timer of duration d waits.
func (c *fakeClock) pending(d time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.ContainsFunc(c.timers, func(t *fakeTimer) bool { return t.d == d })
}

// waitFor blocks until a timer of duration d waits (a loop reached its wait), failing the test
// if none does within a generous deadline that only a broken worker reaches.
func (c *fakeClock) waitFor(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		found := slices.ContainsFunc(c.timers, func(t *fakeTimer) bool { return t.d == d })
		changed := c.changed
		c.mu.Unlock()
		if found {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("no timer of %v was set", d)
		}
	}
}

// await returns what ch delivers (the zero value when it is closed), failing the test if it does not within a generous
// deadline that only a broken worker reaches (a regression fails, rather than hangs, the test).
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	select {
	case v := <-ch:
		return v
	case <-deadline.C:
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

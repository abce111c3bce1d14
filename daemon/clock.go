package daemon

import (
	"context"
	"time"
)

// clock is the time the workers read and wait on: the system's in the daemon, a fake that the
// tests advance by hand.
type clock interface {
	Now() time.Time
	// After delivers once, d from now.
	After(d time.Duration) <-chan time.Time
	// NewTicker delivers every d (dropping ticks nobody takes) until stop is called.
	NewTicker(d time.Duration) (ticks <-chan time.Time, stop func())
	// AfterFunc calls f in its own goroutine d from now unless stop is called first; stop
	// reports whether it prevented the call.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// systemClock is the real time.
type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func (systemClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

func (systemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// sleep waits d on c or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, c clock, d time.Duration) bool {
	select {
	case <-c.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

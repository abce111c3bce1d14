package sandbox

import (
	"strings"
	"sync"
	"time"
)

// PoolPolicy is how warm containers of one deployment version are kept. The daemon computes it
// per run from the operator's settings and the deployment's own, capped by the operator's.
type PoolPolicy struct {
	// MaxIdle is how many idle containers of the version are kept; 0 keeps none (every run cold).
	MaxIdle int
	// MaxRuns is how many runs one container serves; 1 means a fresh container for every run.
	MaxRuns int
	// IdleTTL is how long an idle container is kept before it is removed (scale to zero).
	IdleTTL time.Duration
	// Mode is how a container of the version runs successive requests; "" is Config.Mode.
	Mode Mode
}

// clock is the pool's time: Now dates retirements, AfterFunc arms idle timers. A pool without
// one uses the real time; tests set a fake they advance themselves.
type clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) timer
}

// timer is a call armed by clock.AfterFunc; Stop reports whether it stopped the call in time.
type timer interface{ Stop() bool }

// realClock is the time of the machine.
type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) timer { return time.AfterFunc(d, f) }

// pool holds idle boxes by key (one deployment version); a box is never handed to another key.
// The zero pool is ready for use, with a max of 0 (it keeps nothing).
type pool struct {
	clock  clock // nil: realClock
	mu     sync.Mutex
	idle   map[string][]*box
	n      int // idle boxes in all
	max    int // the operator's cap on idle boxes in all
	closed bool
	// epoch counts the retirements: a box records it when its container is created, so that put
	// can tell the boxes a retirement of their key found alive from those started after it.
	epoch uint64
	// retired holds the retired key prefixes (a version or a deployment) by their last retirement.
	retired map[string]retirement
}

// retirement is when a key prefix was last retired: the pool's epoch it began, and the time (to
// forget it after retiredFor).
type retirement struct {
	epoch uint64
	at    time.Time
}

// clk returns the pool's clock.
func (p *pool) clk() clock {
	if p.clock == nil {
		return realClock{}
	}
	return p.clock
}

// retiredFor is how long a retirement is remembered: longer than any box it found alive (busy
// with a run, or being started) can take to come back to the pool.
const retiredFor = time.Hour

// forbid makes the pool refuse, from now on, the boxes of keys with the prefix that were created
// before: those a run or a start holds now. It advances the epoch, so that boxes created after
// are kept as any other (a retired version may become the current one again, or be run
// pinned). Retirements older than retiredFor are forgotten, so that the list stays short.
func (p *pool) forbid(prefix string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.retired == nil {
		p.retired = map[string]retirement{}
	}
	now := p.clk().Now()
	for k, r := range p.retired {
		if now.Sub(r.at) > retiredFor {
			delete(p.retired, k)
		}
	}
	p.epoch++
	p.retired[prefix] = retirement{epoch: p.epoch, at: now}
}

// currentEpoch returns the pool's epoch, for a box about to be created.
func (p *pool) currentEpoch() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.epoch
}

// outlived reports whether a prefix of key was retired after epoch (a box's creation). The
// caller holds p.mu.
func (p *pool) outlived(key string, epoch uint64) bool {
	for prefix, r := range p.retired {
		if r.epoch > epoch && strings.HasPrefix(key, prefix) {
			return true
		}
	}
	return false
}

// take returns an idle box of key, the most recently used (its caches are the warmest), or nil.
func (p *pool) take(key string) *box {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.idle[key]
	if len(list) == 0 {
		return nil
	}
	b := list[len(list)-1]
	p.idle[key] = list[:len(list)-1]
	p.n--
	if b.idle != nil {
		b.idle.Stop()
	}
	return b
}

// put keeps b idle under policy and arms its idle timer (expire is called if it fires first); it
// reports false when b must be retired instead: too many runs, the pool is full or closed, or a
// prefix of its key was retired after b was created (see forbid).
func (p *pool) put(b *box, pol PoolPolicy, expire func(*box)) bool {
	if pol.MaxIdle <= 0 || (pol.MaxRuns > 0 && b.runs >= pol.MaxRuns) {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.n >= p.max || len(p.idle[b.key]) >= pol.MaxIdle || p.outlived(b.key, b.epoch) {
		return false
	}
	if p.idle == nil {
		p.idle = map[string][]*box{}
	}
	p.idle[b.key] = append(p.idle[b.key], b)
	p.n++
	if pol.IdleTTL > 0 {
		b.idle = p.clk().AfterFunc(pol.IdleTTL, func() {
			if p.remove(b) {
				expire(b)
			}
		})
	}
	return true
}

// remove takes b out of the pool if it is still idle there.
func (p *pool) remove(b *box) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.idle[b.key]
	for i, x := range list {
		if x == b {
			p.idle[b.key] = append(list[:i], list[i+1:]...)
			p.n--
			return true
		}
	}
	return false
}

// drain takes out every idle box whose key has the prefix ("" for all); with closing, the pool
// accepts none afterwards.
func (p *pool) drain(prefix string, closing bool) []*box {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = p.closed || closing
	var out []*box
	for k, list := range p.idle {
		if strings.HasPrefix(k, prefix) {
			out = append(out, list...)
			p.n -= len(list)
			delete(p.idle, k)
		}
	}
	for _, b := range out {
		if b.idle != nil {
			b.idle.Stop()
		}
	}
	return out
}

// idleByMode returns the idle boxes of each mode.
func (p *pool) idleByMode() map[Mode]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[Mode]int{}
	for _, list := range p.idle {
		for _, b := range list {
			out[b.mode]++
		}
	}
	return out
}

// size returns the idle boxes of key and in all.
func (p *pool) size(key string) (int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle[key]), p.n
}

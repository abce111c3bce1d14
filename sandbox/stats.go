package sandbox

import "sync/atomic"

// ModeCount is how many containers of one mode are idle in the pool and how many are busy with
// a run. Containers being started for a prewarm or a refill are in neither.
type ModeCount struct {
	Mode       Mode
	Idle, Busy int
}

// Containers returns the containers of each mode, process then fork, both always present.
func (s *Sandbox) Containers() []ModeCount {
	idle := s.pool.idleByMode()
	return []ModeCount{
		{Mode: ModeProcess, Idle: idle[ModeProcess], Busy: int(s.busyProcess.Load())},
		{Mode: ModeFork, Idle: idle[ModeFork], Busy: int(s.busyFork.Load())},
	}
}

// busyOf returns the busy counter of mode's boxes.
func (s *Sandbox) busyOf(m Mode) *atomic.Int64 {
	if m == ModeFork {
		return &s.busyFork
	}
	return &s.busyProcess
}

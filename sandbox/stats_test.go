package sandbox

import (
	"context"
	"testing"
	"time"
)

// TestContainers: a container is busy while a run holds it and idle in the pool after, counted
// under its mode (the node's, or its version's when the policy names one).
func TestContainers(t *testing.T) {
	fd := newFake(t, process{replies: []reply{{hang: true}, {stdout: okLine}}})
	s := mustNew(t, fd)
	want := func(what string, process, fork ModeCount) {
		t.Helper()
		got := s.Containers()
		if len(got) != 2 || got[0] != process || got[1] != fork {
			t.Errorf("%s: containers = %+v, want [%+v %+v]", what, got, process, fork)
		}
	}
	want("at first", ModeCount{Mode: ModeProcess}, ModeCount{Mode: ModeFork})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = s.Run(ctx, testRequest(keyA)) // hangs until cancelled
	}()
	deadline := time.Now().Add(10 * time.Second)
	for s.Containers()[0].Busy != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	want("during a run", ModeCount{Mode: ModeProcess, Busy: 1}, ModeCount{Mode: ModeFork})
	cancel()
	<-done
	want("after a cancelled run (its container discarded)", ModeCount{Mode: ModeProcess}, ModeCount{Mode: ModeFork})

	fd.setProc(process{})
	req := testRequest(keyB)
	req.Policy.Mode = ModeFork
	if _, err := s.Run(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(context.Background(), testRequest(keyA)); err != nil {
		t.Fatal(err)
	}
	want("after two runs", ModeCount{Mode: ModeProcess, Idle: 1}, ModeCount{Mode: ModeFork, Idle: 1})
	s.Close()
	want("after Close", ModeCount{Mode: ModeProcess}, ModeCount{Mode: ModeFork})
}

package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// run runs req and fails the test unless it completed.
func run(t *testing.T, s *Sandbox, req Request) Result {
	t.Helper()
	res, err := s.Run(context.Background(), req)
	if err != nil || res.Outcome != Completed {
		t.Fatalf("Run(%s) = %+v, %v; want completed", req.Key, res, err)
	}
	return res
}

func TestWarmReuse(t *testing.T) {
	fd := newFake(t, process{})
	s := mustNew(t, fd)
	if res := run(t, s, testRequest(keyA)); !res.ColdStart {
		t.Error("the first run was warm")
	}
	if res := run(t, s, testRequest(keyA)); res.ColdStart || res.Acquire < 0 || res.Duration <= 0 {
		t.Errorf("second run: cold %v acquire %v duration %v; want warm and timed", res.ColdStart, res.Acquire, res.Duration)
	}
	if n := fd.count("create"); n != 1 {
		t.Errorf("%d containers created for two runs of one key, want 1", n)
	}
	if n := len(fd.requests("ctr1")); n != 2 {
		t.Errorf("the container served %d requests, want 2", n)
	}
	// Another key never gets it.
	if res := run(t, s, testRequest(keyB)); !res.ColdStart {
		t.Error("a run of another key was warm")
	}
	if n := len(fd.requests("ctr1")); n != 2 {
		t.Errorf("the container of %s served %d requests, want 2", keyA, n)
	}
	if a, all := s.Idle(keyA); a != 1 || all != 2 {
		t.Errorf("idle = %d of %s, %d in all; want 1, 2", a, keyA, all)
	}
	s.Close()
	if fd.count("remove ctr1") != 1 || fd.count("remove ctr2") != 1 {
		t.Errorf("calls = %q, want both containers removed once", fd.callList())
	}
	if _, all := s.Idle(keyA); all != 0 {
		t.Errorf("%d idle after Close", all)
	}
}

// TestWarmKeysNeverShared runs several keys at once: every container serves one key only.
func TestWarmKeysNeverShared(t *testing.T) {
	fd := newFake(t, process{replies: []reply{{delay: time.Millisecond, stdout: okLine}}})
	s := mustNew(t, fd)
	keys := []string{"t/d/1/", "t/d/10/", "t/d/2/"}
	var wg sync.WaitGroup
	for _, key := range keys {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 5 {
					req := testRequest(key)
					req.Args = json.RawMessage(fmt.Sprintf(`{"key": %q}`, key))
					if res, err := s.Run(context.Background(), req); err != nil || res.Outcome != Completed {
						t.Errorf("Run(%s) = %+v, %v", key, res, err)
					}
				}
			}()
		}
	}
	wg.Wait()
	s.Close()
	served := 0
	for i := 1; i <= fd.count("create"); i++ {
		id := fmt.Sprintf("ctr%d", i)
		var first string
		for _, line := range fd.requests(id) {
			var in struct {
				Args struct{ Key string } `json:"args"`
			}
			if err := json.Unmarshal(line, &in); err != nil {
				t.Fatal(err)
			}
			if first == "" {
				first = in.Args.Key
			}
			if in.Args.Key != first {
				t.Errorf("%s served %s after %s", id, in.Args.Key, first)
			}
			served++
		}
	}
	if served != 60 || fd.count("create") >= 60 {
		t.Errorf("%d requests served by %d containers; want 60, with reuse", served, fd.count("create"))
	}
}

func TestWarmPolicy(t *testing.T) {
	tests := []struct {
		name     string
		maxTotal int // Config.MaxIdle
		pol      PoolPolicy
		keys     []string // the runs, in order
		creates  int
		removed  int // containers removed before Close
		idle     int // idle in all afterwards
		warm     int // runs served by a container started before them
	}{
		{name: "reused", pol: PoolPolicy{MaxIdle: 1}, keys: []string{keyA, keyA, keyA}, creates: 1, idle: 1, warm: 2},
		{name: "no idle containers", pol: PoolPolicy{MaxIdle: 0}, keys: []string{keyA, keyA}, creates: 2, removed: 2},
		// A spent container is replaced at once: every run after the first finds a fresh one ready.
		{name: "a fresh container every run", pol: PoolPolicy{MaxIdle: 1, MaxRuns: 1}, keys: []string{keyA, keyA, keyA},
			creates: 4, removed: 3, idle: 1, warm: 2},
		{name: "two runs per container", pol: PoolPolicy{MaxIdle: 1, MaxRuns: 2}, keys: []string{keyA, keyA, keyA},
			creates: 2, removed: 1, idle: 1, warm: 2},
		{name: "pool full", maxTotal: 1, pol: PoolPolicy{MaxIdle: 1}, keys: []string{keyA, keyB, keyB},
			creates: 3, removed: 2, idle: 1, warm: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fd := newFake(t, process{})
			s := mustNewMaxTotal(t, fd, tt.maxTotal)
			warm := 0
			for _, key := range tt.keys {
				req := testRequest(key)
				req.Policy = tt.pol
				if !run(t, s, req).ColdStart {
					warm++
				}
				s.refills.Wait()
			}
			s.removals.Wait()
			if warm != tt.warm {
				t.Errorf("%d warm runs, want %d", warm, tt.warm)
			}
			removed := 0
			for _, c := range fd.callList() {
				if strings.HasPrefix(c, "remove ") {
					removed++
				}
			}
			if _, idle := s.Idle(keyA); fd.count("create") != tt.creates || removed != tt.removed || idle != tt.idle {
				t.Errorf("%d created, %d removed, %d idle; want %d, %d, %d (calls %q)",
					fd.count("create"), removed, idle, tt.creates, tt.removed, tt.idle, fd.callList())
			}
			if n := fd.count("kill ctr1"); n != 0 {
				t.Errorf("a container that served its runs was killed %d times; closing stdin suffices", n)
			}
		})
	}
}

func TestWarmIdleTTL(t *testing.T) {
	fd := newFake(t, process{})
	s := mustNew(t, fd)
	clk := newFakeClock()
	s.pool.clock = clk
	req := testRequest(keyA)
	req.Policy.IdleTTL = 20 * time.Millisecond
	run(t, s, req)
	clk.Advance(req.Policy.IdleTTL - time.Nanosecond)
	if idle, _ := s.Idle(keyA); idle != 1 {
		t.Fatalf("%d idle before the idle time is up, want 1", idle)
	}
	clk.Advance(time.Nanosecond) // the container expires: its removal starts
	s.removals.Wait()
	if fd.count("remove ctr1") != 1 {
		t.Fatalf("the idle container was not removed after its idle time (calls %q)", fd.callList())
	}
	if _, all := s.Idle(keyA); all != 0 {
		t.Errorf("%d idle after expiry", all)
	}
	if res := run(t, s, req); !res.ColdStart {
		t.Error("a run after expiry was warm")
	}
}

func TestRetire(t *testing.T) {
	fd := newFake(t, process{})
	s := mustNew(t, fd)
	for _, key := range []string{"t/d/1/", "t/d/10/", "t/e/1/"} { // ctr1, ctr2, ctr3
		run(t, s, testRequest(key))
	}
	if n := s.Retire("t/d/1/"); n != 1 {
		t.Errorf("Retire(t/d/1/) = %d, want 1 (t/d/10/ is another version)", n)
	}
	s.removals.Wait()
	if fd.count("remove ctr1") != 1 || fd.count("remove ctr2") != 0 || fd.count("remove ctr3") != 0 {
		t.Errorf("calls = %q, want ctr1 removed alone", fd.callList())
	}
	// A run of the retired version after its retirement (a rollback, a pinned run) is cold, and
	// its container is kept: the next one is warm.
	if res := run(t, s, testRequest("t/d/1/")); !res.ColdStart {
		t.Error("the first run of the retired version was warm")
	}
	if res := run(t, s, testRequest("t/d/1/")); res.ColdStart {
		t.Error("the container started after the retirement was not kept")
	}
	if n := s.Retire("t/d/"); n != 2 {
		t.Errorf("Retire(t/d/) = %d, want 2 (versions 1 and 10)", n)
	}
	s.removals.Wait()
	if fd.count("remove ctr2") != 1 || fd.count("remove ctr4") != 1 || fd.count("remove ctr3") != 0 {
		t.Errorf("calls = %q, want ctr2 and ctr4 removed, ctr3 kept", fd.callList())
	}
	if n := s.Retire("t/x/"); n != 0 {
		t.Errorf("Retire of an unknown deployment = %d", n)
	}
	// Retiring does not close the pool to other keys.
	run(t, s, testRequest("t/e/2/"))
	if idle, _ := s.Idle("t/e/2/"); idle != 1 {
		t.Errorf("idle = %d after a run of another deployment, want 1", idle)
	}
}

// TestRetireBusy: a container busy with a run when its key is retired is removed when the run
// ends, and a single-use one is not replaced; the containers started after the retirement are
// kept.
func TestRetireBusy(t *testing.T) {
	tests := []struct {
		name     string
		prefix   string // retired while a run of keyA goes on
		maxRuns  int    // the policy's MaxRuns
		kept     bool   // the busy container is idle after its run
		nextWarm bool   // the next run finds a container
	}{
		{name: "version", prefix: keyA},
		{name: "deployment", prefix: "t1/d1/"},
		{name: "another version", prefix: "t1/d1/10/", kept: true, nextWarm: true},
		{name: "another deployment", prefix: "t1/d2/", kept: true, nextWarm: true},
		// Spent, the busy container of a retired version is not replaced: the next run is cold.
		{name: "single-use container", prefix: keyA, maxRuns: 1},
		{name: "single-use container of another version", prefix: "t1/d1/10/", maxRuns: 1, nextWarm: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gate := make(chan struct{}) // the run's container imports until the gate opens
			fd := newFake(t, process{gate: gate})
			fd.started = make(chan string, 4)
			s := mustNew(t, fd)
			req := testRequest(keyA)
			req.Policy.MaxRuns = tt.maxRuns
			done := make(chan struct{})
			go func() {
				defer close(done)
				if res, err := s.Run(context.Background(), req); err != nil || res.Outcome != Completed {
					t.Errorf("Run = %+v, %v; want completed", res, err)
				}
			}()
			select {
			case <-fd.started: // ctr1 is busy with the run
			case <-time.After(10 * time.Second):
				t.Fatalf("the run started no container: %q", fd.callList())
			}
			if n := s.Retire(tt.prefix); n != 0 {
				t.Errorf("Retire = %d with no idle container, want 0", n)
			}
			close(gate)
			<-done
			s.refills.Wait()
			s.removals.Wait()
			if removed := fd.count("remove ctr1") == 1; removed == tt.kept {
				t.Errorf("busy container removed: %v, want %v (calls %q)", removed, !tt.kept, fd.callList())
			}
			if res := run(t, s, req); res.ColdStart == tt.nextWarm {
				t.Errorf("next run cold: %v, want %v", res.ColdStart, !tt.nextWarm)
			}
			s.refills.Wait()
			if idle, _ := s.Idle(keyA); idle != 1 {
				t.Errorf("%d idle after the next run, want its container (or its replacement) kept", idle)
			}
		})
	}
}

func TestClose(t *testing.T) {
	fd := newFake(t, process{})
	fd.removeDelay = 30 * time.Millisecond
	s := mustNew(t, fd)
	run(t, s, testRequest(keyA))
	run(t, s, testRequest(keyB))
	s.Close()
	// Close waited for the removals it started.
	if fd.count("remove ctr1") != 1 || fd.count("remove ctr2") != 1 {
		t.Errorf("calls after Close = %q, want both containers removed", fd.callList())
	}
	// A run after Close still runs, and its container is not kept.
	if res := run(t, s, testRequest(keyA)); !res.ColdStart {
		t.Error("a run after Close was warm")
	}
	s.removals.Wait()
	if _, all := s.Idle(keyA); all != 0 || fd.count("remove ctr3") != 1 {
		t.Errorf("%d idle, calls %q; want the container of a run after Close removed", all, fd.callList())
	}
}

func TestPrewarm(t *testing.T) {
	gate := make(chan struct{}) // the function's import lasts until the gate opens
	fd := newFake(t, process{gate: gate})
	s := mustNew(t, fd)
	req := testRequest(keyA)
	req.ExecutionID, req.Args, req.Context = "", nil, nil // as the daemon pre-warms: no run, no secrets
	time.AfterFunc(20*time.Millisecond, func() { close(gate) })
	if err := s.Prewarm(context.Background(), req, 2); err != nil {
		t.Fatalf("Prewarm: %v", err)
	}
	// Prewarm waits for the imports, so that the first run finds ready containers.
	select {
	case <-gate:
	default:
		t.Error("Prewarm returned before the imports could end")
	}
	for _, b := range idleBoxes(s, keyA) {
		if !b.ready || b.readyAt.IsZero() {
			t.Errorf("pre-warmed %s is idle without its ready line read", b.id)
		}
	}
	if idle, _ := s.Idle(keyA); idle != 2 || fd.count("create") != 2 {
		t.Fatalf("%d idle of %d created, want 2 of 2", idle, fd.count("create"))
	}
	if len(fd.requests("ctr1"))+len(fd.requests("ctr2")) != 0 {
		t.Error("a pre-warmed container was sent a request")
	}
	for i := range 2 {
		if res := run(t, s, testRequest(keyA)); res.ColdStart {
			t.Errorf("run %d was cold", i)
		}
	}
	if fd.count("create") != 2 {
		t.Errorf("%d containers created, want the 2 pre-warmed", fd.count("create"))
	}
	// LIFO: the last pre-warmed container served both runs, each with its own request.
	if a, b := len(fd.requests("ctr1")), len(fd.requests("ctr2")); a != 0 || b != 2 {
		t.Errorf("requests served: ctr1 %d, ctr2 %d; want 0, 2", a, b)
	}
	if reqs := fd.requests("ctr2"); len(reqs) > 0 {
		var in input
		if err := json.Unmarshal(reqs[0], &in); err != nil || string(in.Args) != `{"a":1}` {
			t.Errorf("the run's request = %+v, %v; want its own args", in, err)
		}
	}
	if c := fd.container("ctr1"); c.cfg.Labels[LabelExecution] != "" || c.cfg.Labels[LabelKey] != keyA {
		t.Errorf("pre-warmed container labels = %v", c.cfg.Labels)
	}
}

// idleBoxes returns the idle boxes of key, most recently used last.
func idleBoxes(s *Sandbox, key string) []*box {
	s.pool.mu.Lock()
	defer s.pool.mu.Unlock()
	return append([]*box(nil), s.pool.idle[key]...)
}

// TestPrewarmedImportCrashed: a pre-warmed container whose runner died importing the function
// fails the run that takes it with the runner's stderr, and is removed.
func TestPrewarmedImportCrashed(t *testing.T) {
	fd := newFake(t, process{early: &reply{stderr: "Fatal Python error: Segmentation fault\n", exits: true, code: 139}})
	s := mustNew(t, fd)
	if err := s.Prewarm(context.Background(), testRequest(keyA), 1); err == nil || !strings.Contains(err.Error(), "Segmentation fault") {
		t.Errorf("Prewarm of a runner that crashes at import = %v, want its error", err)
	}
	s.removals.Wait()
	if fd.count("remove ctr1") != 1 {
		t.Errorf("calls = %q, want the crashed container removed", fd.callList())
	}
	if _, all := s.Idle(keyA); all != 0 {
		t.Errorf("%d idle, want none", all)
	}
}

func TestPrewarmCapped(t *testing.T) {
	tests := []struct {
		name     string
		maxTotal int
		maxIdle  int
		n        int
		creates  int
		idle     int
	}{
		{name: "up to the key's max idle", maxIdle: 2, n: 5, creates: 2, idle: 2},
		{name: "no idle containers", maxIdle: 0, n: 3},
		{name: "pool full", maxTotal: 1, maxIdle: 2, n: 3, creates: 1, idle: 1},
		{name: "none asked", maxIdle: 2, n: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fd := newFake(t, process{})
			s := mustNewMaxTotal(t, fd, tt.maxTotal)
			req := testRequest(keyA)
			req.Policy.MaxIdle = tt.maxIdle
			if err := s.Prewarm(context.Background(), req, tt.n); err != nil {
				t.Fatalf("Prewarm: %v", err)
			}
			if idle, _ := s.Idle(keyA); idle != tt.idle || fd.count("create") != tt.creates {
				t.Errorf("%d idle of %d created, want %d of %d", idle, fd.count("create"), tt.idle, tt.creates)
			}
			// A second Prewarm starts none beyond the cap.
			if err := s.Prewarm(context.Background(), req, tt.n); err != nil || (tt.idle == tt.maxIdle && fd.count("create") != tt.creates) {
				t.Errorf("second Prewarm = %v, %d created; want none more", err, fd.count("create"))
			}
		})
	}
}

// TestRetiredBoxReaderEnds: the goroutine reading a container's stream ends with the box, also
// when lines it read were never taken (a pre-warmed container that chattered, retired unused):
// one waits in the frames buffer, the reader is blocked handing over the next.
func TestRetiredBoxReaderEnds(t *testing.T) {
	fd := newFake(t, process{unsolicited: strings.Repeat(readyLine, 3)})
	s := mustNew(t, fd)
	if err := s.Prewarm(context.Background(), testRequest(keyA), 1); err != nil {
		t.Fatal(err)
	}
	boxes := idleBoxes(s, keyA)
	if len(boxes) != 1 {
		t.Fatalf("%d idle boxes, want 1", len(boxes))
	}
	s.Retire(keyA)
	s.removals.Wait()
	select {
	case <-boxes[0].stopped:
	case <-time.After(5 * time.Second):
		t.Error("the box reader still runs after the container was removed")
	}
}

// mustNewMaxTotal is mustNew with the node's cap on idle containers set to maxTotal (0: default).
func mustNewMaxTotal(t *testing.T, fd *fakeDocker, maxTotal int) *Sandbox {
	t.Helper()
	cfg := DefaultConfig()
	if maxTotal > 0 {
		cfg.MaxIdle = maxTotal
	}
	return mustNewConfig(t, fd, cfg)
}

// TestUnconfinedRunnerSingleUse: a runner whose ready line says it cannot keep fork-mode runs
// apart gets one run per container, removed after it, and a replacement ready for the next; a
// run's forged ready line ("unconfined": false) changes nothing.
func TestUnconfinedRunnerSingleUse(t *testing.T) {
	forged := `{"ready": true, "pid": 7, "unconfined": false}` + "\n"
	fd := newFake(t, process{ready: `{"ready": true, "pid": 7, "unconfined": true}` + "\n",
		replies: []reply{{stdout: forged + okLine}}})
	s := mustNew(t, fd)
	for i := range 3 {
		res := run(t, s, testRequest(keyA))
		if res.ColdStart != (i == 0) {
			t.Errorf("run %d: cold %v; want only the first cold", i, res.ColdStart)
		}
		s.refills.Wait()
	}
	for _, id := range []string{"ctr1", "ctr2", "ctr3"} {
		if n := len(fd.requests(id)); n != 1 {
			t.Errorf("%s served %d runs, want 1", id, n)
		}
	}
	s.removals.Wait()
	for _, id := range []string{"ctr1", "ctr2", "ctr3"} {
		if fd.count("remove "+id) != 1 {
			t.Errorf("%s was not removed after its run: %q", id, fd.callList())
		}
	}
	if a, _ := s.Idle(keyA); a != 1 || fd.count("create") != 4 {
		t.Errorf("%d idle, %d created; want the fourth container ready", a, fd.count("create"))
	}
	s.Close()
	if fd.count("remove ctr4") != 1 {
		t.Errorf("the replacement was not removed at Close: %q", fd.callList())
	}
}

// TestRefillStopsAtClose: a replacement under way when Close begins is cancelled, and the
// container it created is removed: Close leaves nothing behind.
func TestRefillStopsAtClose(t *testing.T) {
	fd := newFake(t, process{gate: make(chan struct{})}) // the replacement never becomes ready
	fd.first, fd.started = []process{{}}, make(chan string, 2)
	s := mustNew(t, fd)
	req := testRequest(keyA)
	req.Policy.MaxRuns = 1
	run(t, s, req)
	for range 2 { // the run's container, then the replacement's: it now waits for its ready line
		select {
		case <-fd.started:
		case <-time.After(10 * time.Second):
			t.Fatalf("no replacement started: %q", fd.callList())
		}
	}
	s.Close()
	for _, id := range []string{"ctr1", "ctr2"} {
		if fd.count("remove "+id) != 1 {
			t.Errorf("%s not removed after Close: %q", id, fd.callList())
		}
	}
}

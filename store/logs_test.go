package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// emitted collects what FollowLog hands its emit, and signals each piece on got.
type emitted struct {
	mu     sync.Mutex
	pieces []string // "stream:data"
	got    chan string
}

func newEmitted() *emitted { return &emitted{got: make(chan string, 64)} }

func (e *emitted) emit(stream, data string) error {
	e.mu.Lock()
	e.pieces = append(e.pieces, stream+":"+data)
	e.mu.Unlock()
	e.got <- stream + ":" + data
	return nil
}

func (e *emitted) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.pieces...)
}

func logKey(s *testStore, tid, id string) string { return s.TenantKey(tid, "log:") + id }

// finished is e as a worker ends it.
func finished(e faaspot.Execution, stdout, stderr string) faaspot.Execution {
	at := e.CreatedAt.Add(2 * time.Second)
	e.Status, e.FinishedAt, e.Stdout, e.Stderr = faaspot.ExecCompleted, &at, stdout, stderr
	return e
}

// TestFollowLogTerminal: the output of a terminal execution comes from its record at once, and
// following it writes no key.
func TestFollowLogTerminal(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	e := mustEnqueue(t, s, tn.ID, queued("fn", t0))
	e = finished(e, "out é\n", "err\n")
	if err := s.FinishRun(ctx, mustNextJob(t, s, store.Runs, "w1"), e); err != nil {
		t.Fatal(err)
	}
	for _, follow := range []bool{false, true} {
		got := newEmitted()
		final, err := s.FollowLog(ctx, tn.ID, e, follow, got.emit)
		if err != nil || final.Status != faaspot.ExecCompleted {
			t.Fatalf("follow %v: FollowLog = %+v, %v", follow, final, err)
		}
		if g := strings.Join(got.list(), "|"); g != "stdout:out é\n|stderr:err\n" {
			t.Errorf("follow %v: emitted %q", follow, g)
		}
	}
	if s.mr.Exists(logKey(s, tn.ID, e.ID)) {
		t.Error("following a terminal execution wrote its log")
	}
}

// TestFollowLogLive runs in a synctest bubble: the follower is known to be blocked in Redis
// between pieces, and is woken by each append and by the end marker, never by a timer.
func TestFollowLogLive(t *testing.T) {
	skipOnCluster(t, bubbleReason)
	synctest.Test(t, testFollowLogLive)
}

func testFollowLogLive(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{ResultTTL: time.Hour})
	tn, _ := mustCreateTenant(t, s, "acme")
	e := mustEnqueue(t, s, tn.ID, queued("fn", t0))
	job := mustNextJob(t, s, store.Runs, "w1")

	got := newEmitted()
	type answer struct {
		e   faaspot.Execution
		err error
	}
	done := make(chan answer, 1)
	go func() {
		final, err := s.FollowLog(ctx, tn.ID, e, true, got.emit)
		done <- answer{final, err}
	}()
	synctest.Wait()
	key := logKey(s, tn.ID, e.ID)
	if !s.mr.Exists(key) || s.mr.TTL(key) != time.Hour {
		t.Fatalf("the follower's watch: log exists %v, TTL %v; want the result TTL", s.mr.Exists(key), s.mr.TTL(key))
	}
	start := time.Now()
	if err := s.AppendLog(ctx, tn.ID, e.ID, []store.LogPiece{{Stream: "stdout", Offset: 0, Data: "a\n"}}); err != nil {
		t.Fatal(err)
	}
	if p := <-got.got; p != "stdout:a\n" || time.Since(start) != 0 {
		t.Errorf("first piece %q after %v, want stdout:a at once", p, time.Since(start))
	}
	// A piece repeated in part (a run attempted again) adds only what is new.
	if err := s.AppendLog(ctx, tn.ID, e.ID, []store.LogPiece{{Stream: "stdout", Offset: 0, Data: "a\nb\n"},
		{Stream: "stderr", Offset: 0, Data: "w\n"}}); err != nil {
		t.Fatal(err)
	}
	if p, q := <-got.got, <-got.got; p != "stdout:b\n" || q != "stderr:w\n" {
		t.Errorf("next pieces %q, %q; want stdout:b, stderr:w", p, q)
	}
	synctest.Wait()
	select {
	case a := <-done:
		t.Fatalf("FollowLog returned before the run ended: %+v, %v", a.e, a.err)
	default:
	}
	// The run ends: its record holds more than was sent live; the end marker wakes the follower.
	end := finished(e, "a\nb\nc\n", "w\nx\n")
	if err := s.FinishRun(ctx, job, end); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := s.EndLog(ctx, tn.ID, e.ID); err != nil {
		t.Fatal(err)
	}
	a := <-done
	if a.err != nil || a.e.Status != faaspot.ExecCompleted || time.Since(start) != 0 {
		t.Fatalf("FollowLog = %+v, %v after %v; want the terminal record at once", a.e, a.err, time.Since(start))
	}
	want := "stdout:a\n|stdout:b\n|stderr:w\n|stdout:c\n|stderr:x\n"
	if g := strings.Join(got.list(), "|"); g != want {
		t.Errorf("emitted %q, want %q", g, want)
	}
	if ttl := s.mr.TTL(key); ttl != time.Minute {
		t.Errorf("ended log TTL = %v, want a minute", ttl)
	}
}

// TestFollowLogWithoutEndMarker: a run that ended without an end marker (a short one: the worker
// writes none) is found ended by the follower's next look at the record, one slice later.
func TestFollowLogWithoutEndMarker(t *testing.T) {
	skipOnCluster(t, bubbleReason)
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s := mustOpenStore(t, store.Options{})
		tn, _ := mustCreateTenant(t, s, "acme")
		e := mustEnqueue(t, s, tn.ID, queued("fn", t0))
		job := mustNextJob(t, s, store.Runs, "w1")
		got := newEmitted()
		done := make(chan error, 1)
		go func() {
			_, err := s.FollowLog(ctx, tn.ID, e, true, got.emit)
			done <- err
		}()
		synctest.Wait()
		if err := s.FinishRun(ctx, job, finished(e, "quick\n", "")); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("the follower found the end after %v, want within a second", d)
		}
		if g := strings.Join(got.list(), "|"); g != "stdout:quick\n" {
			t.Errorf("emitted %q", g)
		}
	})
}

// TestFollowLogSoFar: without follow, a running execution's pieces so far come at once, with its
// record as it is; a follow whose ctx ends returns the same with ctx's error.
func TestFollowLogSoFar(t *testing.T) {
	skipOnCluster(t, bubbleReason)
	synctest.Test(t, func(t *testing.T) {
		s := mustOpenStore(t, store.Options{})
		tn, _ := mustCreateTenant(t, s, "acme")
		e := mustEnqueue(t, s, tn.ID, queued("fn", t0))
		pieces := []store.LogPiece{{Stream: "stdout", Offset: 0, Data: "one\n"}, {Stream: "stdout", Offset: 4, Data: "two\n"}}
		if err := s.AppendLog(context.Background(), tn.ID, e.ID, pieces); err != nil {
			t.Fatal(err)
		}
		got := newEmitted()
		final, err := s.FollowLog(context.Background(), tn.ID, e, false, got.emit)
		if err != nil || final.Status != faaspot.ExecQueued || strings.Join(got.list(), "|") != "stdout:one\n|stdout:two\n" {
			t.Errorf("FollowLog = %s, %v; emitted %q", final.Status, err, got.list())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		got = newEmitted()
		final, err = s.FollowLog(ctx, tn.ID, e, true, got.emit)
		if !errors.Is(err, context.DeadlineExceeded) || final.Status != faaspot.ExecQueued || len(got.list()) != 2 {
			t.Errorf("bounded follow = %s, %v; emitted %q", final.Status, err, got.list())
		}
		// Another tenant's follow of the same id reads its own (absent) log.
		other, _ := mustCreateTenant(t, s, "other")
		got = newEmitted()
		if _, err := s.FollowLog(context.Background(), other.ID, e, false, got.emit); err != nil || len(got.list()) != 0 {
			t.Errorf("another tenant's follow: %v, emitted %q", err, got.list())
		}
	})
}

// TestEndLogWithoutLog: ending the log of a run that sent nothing and that nobody follows writes
// no key; appending renews the log's TTL.
func TestEndLogWithoutLog(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{ResultTTL: time.Hour})
	if err := s.EndLog(ctx, "t1", "e1"); err != nil {
		t.Fatal(err)
	}
	if keys := s.mr.Keys(); strings.Contains(strings.Join(keys, " "), ":log:") {
		t.Errorf("EndLog wrote %q", keys)
	}
	if err := s.AppendLog(ctx, "t1", "e1", []store.LogPiece{{Stream: "stderr", Data: "x"}}); err != nil {
		t.Fatal(err)
	}
	if ttl := s.mr.TTL(logKey(s, "t1", "e1")); ttl != time.Hour {
		t.Errorf("log TTL = %v, want the result TTL", ttl)
	}
}

// TestFollowLogEmitError: an error of emit ends the follow and is returned.
func TestFollowLogEmitError(t *testing.T) {
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	e := mustEnqueue(t, s, tn.ID, queued("fn", t0))
	if err := s.AppendLog(context.Background(), tn.ID, e.ID, []store.LogPiece{{Stream: "stdout", Data: "x"}}); err != nil {
		t.Fatal(err)
	}
	gone := errors.New("client gone")
	_, err := s.FollowLog(context.Background(), tn.ID, e, true, func(string, string) error { return gone })
	if !errors.Is(err, gone) {
		t.Errorf("FollowLog = %v, want emit's error", err)
	}
}

// TestLogWriter: pieces written while an append is on its way go together in the next, each
// stream's offsets count its bytes, Close waits for the last append and returns the first error,
// and a writer never written to starts nothing.
func TestLogWriter(t *testing.T) {
	var mu sync.Mutex
	var batches [][]store.LogPiece
	entered, release := make(chan struct{}), make(chan struct{})
	failed := errors.New("redis down")
	w := store.NewLogWriter(context.Background(), func(ctx context.Context, p []store.LogPiece) error {
		mu.Lock()
		batches = append(batches, p)
		first := len(batches) == 1
		mu.Unlock()
		if first {
			entered <- struct{}{}
			<-release
			return failed
		}
		return nil
	})
	w.Write("stdout", "a")
	<-entered // the first append is on its way: the next pieces wait and merge
	w.Write("stdout", "bc")
	w.Write("stdout", "d")
	w.Write("stderr", "e")
	w.Write("stdin", "dropped")
	close(release)
	if err := w.Close(); !errors.Is(err, failed) {
		t.Errorf("Close = %v, want the failed append's error", err)
	}
	w.Write("stdout", "after close")
	mu.Lock()
	defer mu.Unlock()
	want := [][]store.LogPiece{{{Stream: "stdout", Offset: 0, Data: "a"}},
		{{Stream: "stdout", Offset: 1, Data: "bcd"}, {Stream: "stderr", Offset: 0, Data: "e"}}}
	if len(batches) != len(want) {
		t.Fatalf("batches = %+v, want %+v", batches, want)
	}
	for i := range want {
		if strings.TrimSpace(pieceList(batches[i])) != strings.TrimSpace(pieceList(want[i])) {
			t.Errorf("batch %d = %+v, want %+v", i, batches[i], want[i])
		}
	}
	idle := store.NewLogWriter(context.Background(), func(context.Context, []store.LogPiece) error {
		t.Error("an idle writer appended")
		return nil
	})
	if err := idle.Close(); err != nil {
		t.Errorf("idle Close = %v", err)
	}
}

func pieceList(ps []store.LogPiece) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.Stream + "@" + strings.Repeat("+", p.Offset) + p.Data + " ")
	}
	return b.String()
}

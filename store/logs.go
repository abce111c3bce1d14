package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
)

// The live log of an execution is a Redis stream, {p}t:{tid}:log:{id}, holding what its run
// printed while it went on, for those who follow it (GET /v1/executions/{id}/logs?follow=true).
// Its entries:
//
//	s=<stdout|stderr> o=<offset> d=<text>   a piece of output; o counts the bytes of its stream before it
//	watch=1                                 someone follows (WatchLog writes it when the log is absent)
//	end=1                                   the record is terminal (EndLog writes it when the log exists)
//
// A run that sends no piece, and that nobody follows, writes no key: the log costs nothing on the
// hot path. The log lives as long as a record (Options.ResultTTL) and logEndTTL once ended: the
// terminal record holds the whole output, and followers who come later read that.

// log is the key of an execution's live log.
func (k keys) log(tid, id string) string { return k.t(tid) + "log:" + id }

// Bounds of a live log.
const (
	// logMaxEntries caps a log's entries (approximately): the bytes are capped by the run's
	// output limit already; this bounds a trickle of tiny pieces. A follower that comes after the
	// log was trimmed misses its oldest pieces.
	logMaxEntries = 10000
	// logEndTTL is how long a log is kept once its run ended, for the followers reading it.
	logEndTTL = time.Minute
	// logPieceBytes is the most a LogWriter puts in one entry when it merges pieces.
	logPieceBytes = 64 << 10
)

// Reading a log: each read returns at most followCount entries and blocks at most followSlice.
// go-redis cannot interrupt a blocked read when ctx is cancelled, so a long follow is made of
// slices with a look at ctx, and at the record, between them (see follower.follow).
const (
	followCount = 256
	followSlice = time.Second
)

// LogPiece is a piece of a run's output in its live log.
type LogPiece struct {
	Stream string // "stdout" or "stderr"
	Offset int    // bytes of the stream before this piece
	Data   string
}

// streamIndex numbers the streams of a log: 0 stdout, 1 stderr, -1 for anything else.
func streamIndex(stream string) int {
	switch stream {
	case "stdout":
		return 0
	case "stderr":
		return 1
	}
	return -1
}

// AppendLog appends pieces to the live log of the tenant's execution id, in one round trip, and
// renews the log's TTL. It does not cap their bytes: the sandbox gives at most the run's output
// limit of each stream.
func (s *Store) AppendLog(ctx context.Context, tid, id string, pieces []LogPiece) error {
	key := s.k.log(tid, id)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, pc := range pieces {
			p.XAdd(ctx, &redis.XAddArgs{Stream: key, MaxLen: logMaxEntries, Approx: true,
				Values: []any{"s", pc.Stream, "o", pc.Offset, "d", pc.Data}})
		}
		p.PExpire(ctx, key, s.opts.ResultTTL)
		return nil
	})
	if err != nil {
		return unavailable("append log", err)
	}
	return nil
}

// endLogScript marks a log ended, if it exists (pieces were sent or someone follows), and keeps
// it logEndTTL more.
var endLogScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('XADD', KEYS[1], '*', 'end', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`)

// EndLog tells the followers of the tenant's execution id that its record is terminal: the
// caller writes the terminal record first. It writes nothing when the execution has no log
// (nothing was sent, nobody follows); followers of such a run find its end within followSlice.
func (s *Store) EndLog(ctx context.Context, tid, id string) error {
	if err := endLogScript.Run(ctx, s.rdb, []string{s.k.log(tid, id)}, logEndTTL.Milliseconds()).Err(); err != nil {
		return unavailable("end log", err)
	}
	return nil
}

// watchLogScript makes a log exist, with a watch entry, unless it does.
var watchLogScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('XADD', KEYS[1], '*', 'watch', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`)

// watchLog makes the log of the tenant's execution id exist, so that EndLog marks its end.
func (s *Store) watchLog(ctx context.Context, tid, id string) error {
	if err := watchLogScript.Run(ctx, s.rdb, []string{s.k.log(tid, id)}, s.opts.ResultTTL.Milliseconds()).Err(); err != nil {
		return unavailable("watch log", err)
	}
	return nil
}

// FollowLog hands emit the output of the tenant's execution e (its record as the caller read
// it): each stream's text once, in order within the stream, first the pieces its run sent while
// it went on, then the rest from the terminal record (a log trimmed of its oldest entries leaves
// a gap). Without follow it does not wait: it returns e, or the terminal record once it read
// everything. With follow it waits, blocked in Redis, until the record is terminal, and returns
// it: woken by the end marker, or within followSlice of the end of a run that wrote none. It
// returns the record as last read with ctx's error when ctx ends first, and emit's error.
func (s *Store) FollowLog(ctx context.Context, tid string, e faaspot.Execution, follow bool, emit func(stream, data string) error) (faaspot.Execution, error) {
	f := &follower{s: s, tid: tid, key: s.k.log(tid, e.ID), emit: emit}
	if follow && !e.Terminal() {
		if err := s.watchLog(ctx, tid, e.ID); err != nil {
			return e, err
		}
		// Again: a run that ended before the log existed wrote no end marker.
		got, err := s.GetExecution(ctx, tid, e.ID)
		if err != nil {
			return e, err
		}
		e = got
	}
	if e.Terminal() {
		return e, f.rest(e)
	}
	return f.follow(ctx, e, follow)
}

// follower reads one execution's log for FollowLog.
type follower struct {
	s    *Store
	tid  string
	key  string
	emit func(stream, data string) error
	sent [2]int // bytes of stdout and stderr handed to emit
}

// follow reads the log from its start, until its end marker, or, without follow, until it has
// read every entry; with follow, a slice that brings nothing has the record read again.
func (f *follower) follow(ctx context.Context, e faaspot.Execution, follow bool) (faaspot.Execution, error) {
	block := time.Duration(-1) // no BLOCK
	if follow {
		block = followSlice
	}
	for last := "0"; ; {
		if err := ctx.Err(); err != nil {
			return e, err
		}
		msgs, err := f.read(ctx, last, block)
		if err != nil {
			return e, err
		}
		for _, m := range msgs {
			last = m.ID
			if _, end := m.Values["end"]; end {
				return f.ended(ctx, e)
			}
			if err := f.piece(m.Values); err != nil {
				return e, err
			}
		}
		switch {
		case len(msgs) == followCount:
			continue // more may wait
		case !follow:
			return e, nil
		case len(msgs) > 0:
			continue
		}
		got, err := f.s.GetExecution(ctx, f.tid, e.ID)
		if err != nil {
			return e, err
		}
		if e = got; e.Terminal() {
			return e, f.rest(e)
		}
	}
}

// read returns the entries of the log after last: at most followCount, waiting up to block for
// one when there is none (a negative block: not at all).
func (f *follower) read(ctx context.Context, last string, block time.Duration) ([]redis.XMessage, error) {
	res, err := f.s.waits.XRead(ctx, &redis.XReadArgs{Streams: []string{f.key, last}, Count: followCount, Block: block}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, nil
	case err != nil && ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		return nil, unavailable("read log", err)
	case len(res) == 0:
		return nil, nil
	}
	return res[0].Messages, nil
}

// ended reads the terminal record after the log's end marker and hands emit the rest of it.
func (f *follower) ended(ctx context.Context, e faaspot.Execution) (faaspot.Execution, error) {
	got, err := f.s.GetExecution(ctx, f.tid, e.ID)
	if err != nil {
		return e, err
	}
	return got, f.rest(got)
}

// piece hands emit what an entry adds to its stream: its text past what was handed already.
// Entries that are no piece (watch) are skipped.
func (f *follower) piece(v map[string]any) error {
	stream, _ := v["s"].(string)
	data, _ := v["d"].(string)
	o, _ := v["o"].(string)
	off, err := strconv.Atoi(o)
	i := streamIndex(stream)
	if i < 0 || err != nil || off < 0 {
		return nil
	}
	end := off + len(data)
	if end <= f.sent[i] {
		return nil
	}
	if skip := f.sent[i] - off; skip > 0 {
		data = data[runeStartFrom(data, skip):]
	}
	f.sent[i] = end
	return f.emit(stream, data)
}

// rest hands emit what the terminal record e holds past what was handed already, stdout first.
func (f *follower) rest(e faaspot.Execution) error {
	for i, text := range []string{e.Stdout, e.Stderr} {
		if f.sent[i] >= len(text) {
			continue
		}
		from := runeStartFrom(text, f.sent[i])
		f.sent[i] = len(text)
		if from < len(text) {
			if err := f.emit([]string{"stdout", "stderr"}[i], text[from:]); err != nil {
				return err
			}
		}
	}
	return nil
}

// runeStartFrom is the first character boundary of s at or after i.
func runeStartFrom(s string, i int) int {
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return i
}

// LogWriter appends a run's live output to its log in the background: Write never waits on
// Redis, pieces written while an append is on its way go together in the next, and a writer that
// is never written to costs no goroutine and no round trip. It is safe for concurrent use.
type LogWriter struct {
	ctx      context.Context
	appendFn func(ctx context.Context, pieces []LogPiece) error

	mu      sync.Mutex
	pending []LogPiece
	offsets [2]int
	started bool
	closed  bool
	err     error
	wake    chan struct{}
	done    chan struct{}
}

// NewLogWriter returns a LogWriter that appends with appendFn under ctx.
func NewLogWriter(ctx context.Context, appendFn func(ctx context.Context, pieces []LogPiece) error) *LogWriter {
	return &LogWriter{ctx: ctx, appendFn: appendFn}
}

// LogWriter returns a LogWriter to the live log of the tenant's execution id (see AppendLog).
func (s *Store) LogWriter(ctx context.Context, tid, id string) *LogWriter {
	return NewLogWriter(ctx, func(ctx context.Context, pieces []LogPiece) error {
		return s.AppendLog(ctx, tid, id, pieces)
	})
}

// Write queues data, the next piece of stream ("stdout" or "stderr"; others are dropped), for
// the log. After Close it drops it.
func (w *LogWriter) Write(stream, data string) {
	i := streamIndex(stream)
	if i < 0 || data == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	off := w.offsets[i]
	w.offsets[i] += len(data)
	if n := len(w.pending); n > 0 && w.pending[n-1].Stream == stream && len(w.pending[n-1].Data)+len(data) <= logPieceBytes {
		w.pending[n-1].Data += data
	} else {
		w.pending = append(w.pending, LogPiece{Stream: stream, Offset: off, Data: data})
	}
	if !w.started {
		w.started, w.wake, w.done = true, make(chan struct{}, 1), make(chan struct{})
		go w.loop()
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// loop appends what is pending until the writer is closed and nothing is.
func (w *LogWriter) loop() {
	defer close(w.done)
	for {
		w.mu.Lock()
		batch, closed := w.pending, w.closed
		w.pending = nil
		w.mu.Unlock()
		if len(batch) > 0 {
			if err := w.appendFn(w.ctx, batch); err != nil {
				w.fail(err)
			}
			continue
		}
		if closed {
			return
		}
		<-w.wake
	}
}

func (w *LogWriter) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = fmt.Errorf("live log: %w", err)
	}
}

// Close stops taking pieces and returns once every piece written is appended (or failed to be),
// with the first append's error: the caller writes the terminal record after it, so that the log
// never has a piece after the record's end.
func (w *LogWriter) Close() error {
	w.mu.Lock()
	w.closed = true
	started := w.started
	w.mu.Unlock()
	if started {
		select {
		case w.wake <- struct{}{}:
		default:
		}
		<-w.done
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

package store

import (
	"strings"
	"testing"
	"time"
)

// TestNew: New refuses options that cannot work, naming each problem, and fills the defaults.
func TestNew(t *testing.T) {
	_, rdb := newTestClient(t)
	valid := func() Options {
		return Options{Prefix: "fs:", ResultTTL: time.Hour, ExecutionsKept: 50, RunCap: 4, SecretKey: make([]byte, KeySize)}
	}
	tests := []struct {
		name     string
		change   func(*Options)
		wantErr  []string // each named in the error; none: New succeeds
		wantKept int64
	}{
		{name: "valid", wantKept: 50},
		{name: "executions kept 0: the default", change: func(o *Options) { o.ExecutionsKept = 0 }, wantKept: 1000},
		{name: "empty prefix", change: func(o *Options) { o.Prefix = "" }, wantErr: []string{"prefix"}},
		{name: "zero result TTL", change: func(o *Options) { o.ResultTTL = 0 }, wantErr: []string{"result TTL"}},
		{name: "negative result TTL", change: func(o *Options) { o.ResultTTL = -time.Second }, wantErr: []string{"result TTL"}},
		{name: "zero run cap", change: func(o *Options) { o.RunCap = 0 }, wantErr: []string{"run cap"}},
		{name: "negative run cap", change: func(o *Options) { o.RunCap = -1 }, wantErr: []string{"run cap"}},
		{name: "every problem at once", change: func(o *Options) { *o = Options{SecretKey: o.SecretKey} },
			wantErr: []string{"prefix", "result TTL", "run cap"}},
		{name: "no secret key", change: func(o *Options) { o.SecretKey = nil }, wantErr: []string{"secret key", "32 bytes"}},
		{name: "short secret key", change: func(o *Options) { o.SecretKey = make([]byte, 16) }, wantErr: []string{"secret key", "32 bytes"}},
		{name: "long secret key", change: func(o *Options) { o.SecretKey = make([]byte, 33) }, wantErr: []string{"secret key", "32 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := valid()
			if tt.change != nil {
				tt.change(&opts)
			}
			s, err := New(rdb, opts)
			if len(tt.wantErr) > 0 {
				if err == nil || s != nil {
					t.Fatalf("New = %v, %v; want an error naming %q", s, err, tt.wantErr)
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("New error %q does not name %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if s.opts.ExecutionsKept != tt.wantKept {
				t.Errorf("executions kept = %d, want %d", s.opts.ExecutionsKept, tt.wantKept)
			}
			if s.k.p != opts.Prefix || s.opts.ResultTTL != opts.ResultTTL || s.opts.RunCap != opts.RunCap {
				t.Errorf("options = %+v, want those given (%+v)", s.opts, opts)
			}
			if s.waits != rdb || s.opts.Now == nil {
				t.Errorf("waits client %p, clock set %v; want the store's client and time.Now", s.waits, s.opts.Now != nil)
			}
		})
	}
}

// TestNewKeepsClockAndWaits: a clock and a client for waits that are given are used.
func TestNewKeepsClockAndWaits(t *testing.T) {
	_, rdb := newTestClient(t)
	_, waits := newTestClient(t)
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s, err := New(rdb, Options{Prefix: "fs:", ResultTTL: time.Hour, RunCap: 4, SecretKey: make([]byte, KeySize),
		Waits: waits, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	if s.waits != waits || s.rdb != rdb || !s.now().Equal(at) {
		t.Errorf("waits %p (want %p), clock %v (want %v)", s.waits, waits, s.now(), at)
	}
}

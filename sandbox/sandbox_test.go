package sandbox

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/faaspot/faaspot/hardening"
)

func TestNew(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name    string
		cfg     Config
		errText string
		check   func(t *testing.T, s *Sandbox)
	}{
		{name: "zero config takes the defaults", cfg: Config{},
			check: func(t *testing.T, s *Sandbox) {
				if s.cfg.Mode != ModeProcess || s.pool.max != DefaultConfig().MaxIdle || s.pool.max <= 0 {
					t.Errorf("mode %q, pool max %d; want process and %d", s.cfg.Mode, s.pool.max, DefaultConfig().MaxIdle)
				}
			}},
		{name: "fork mode", cfg: Config{Mode: ModeFork, MaxIdle: 3},
			check: func(t *testing.T, s *Sandbox) {
				if s.cfg.Mode != ModeFork || s.pool.max != 3 {
					t.Errorf("mode %q, pool max %d; want fork and 3", s.cfg.Mode, s.pool.max)
				}
			}},
		{name: "unknown mode", cfg: Config{Mode: "thread"}, errText: "mode"},
		{name: "root user", cfg: Config{Config: hardening.Config{User: "0:0"}}, errText: "root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(nil, tt.cfg, log)
			if tt.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("New = %v, want an error about %s", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

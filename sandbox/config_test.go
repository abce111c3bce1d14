package sandbox

import (
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/faaspot/faaspot/hardening"
)

// TestZeroConfig documents what a Config not built from DefaultConfig gives: the defaults, and
// never a root user.
func TestZeroConfig(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(nil, Config{}, log)
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg != DefaultConfig() {
		t.Errorf("a zero Config gives %+v, want the defaults %+v", s.cfg, DefaultConfig())
	}
	for _, user := range []string{"0", "0:0", "root", "root:root"} {
		_, err := New(nil, Config{Config: hardening.Config{User: user}}, log)
		if !errors.Is(err, hardening.ErrRootUser) {
			t.Errorf("New with the root user %q = %v, want hardening.ErrRootUser", user, err)
		}
	}
}

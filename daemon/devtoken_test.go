package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

var _ devTenantStore = (*fakeTenants)(nil)

// fakeTenants holds tenants by name and their tokens; it counts the creates.
type fakeTenants struct {
	mu      sync.Mutex
	tokens  map[string]string // token -> tenant name
	names   map[string]bool
	creates int
	err     error // of every call, when set
}

func newFakeTenants() *fakeTenants {
	return &fakeTenants{tokens: map[string]string{}, names: map[string]bool{}}
}

func (f *fakeTenants) add(name, token string) {
	f.names[name] = true
	if token != "" {
		f.tokens[token] = name
	}
}

func (f *fakeTenants) CreateTenant(ctx context.Context, name string) (faaspot.Tenant, string, error) {
	f.mu.Lock()
	token := fmt.Sprintf("fs_new_%032d", len(f.tokens))
	f.mu.Unlock()
	_, err := f.CreateTenantWithToken(ctx, name, token)
	return faaspot.Tenant{Name: name}, token, err
}

func (f *fakeTenants) CreateTenantWithToken(ctx context.Context, name, token string) (faaspot.Tenant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := errors.Join(ctx.Err(), f.err); err != nil {
		return faaspot.Tenant{}, err
	}
	f.creates++
	if f.names[name] || f.tokens[token] != "" {
		return faaspot.Tenant{}, store.ErrExists
	}
	f.add(name, token)
	return faaspot.Tenant{Name: name}, nil
}

func (f *fakeTenants) Authenticate(ctx context.Context, token string, _ float64) (faaspot.Tenant, time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := errors.Join(ctx.Err(), f.err); err != nil {
		return faaspot.Tenant{}, 0, err
	}
	if name, ok := f.tokens[token]; ok {
		return faaspot.Tenant{Name: name}, 0, nil
	}
	return faaspot.Tenant{}, 0, store.ErrNotFound
}

const keptToken = "fs_kept_0123456789abcdef0123456789abcdef"

func TestDevTenant(t *testing.T) {
	tests := []struct {
		name      string
		kept      string // the file's content; "" for no file
		setup     func(f *fakeTenants)
		want      string // the token returned
		wantErr   bool
		keptAfter string // the dev tenant's token in the file afterwards
		creates   int
	}{
		{name: "fresh store, nothing kept: a new token, kept", setup: func(*fakeTenants) {},
			want: "fs_new_00000000000000000000000000000000", keptAfter: "fs_new_00000000000000000000000000000000", creates: 1},
		{name: "fresh store: created again with the kept token", kept: `{"dev": "` + keptToken + `"}`,
			setup: func(*fakeTenants) {}, want: keptToken, keptAfter: keptToken, creates: 1},
		{name: "store kept the tenant and its token: reused, nothing created", kept: `{"dev": "` + keptToken + `"}`,
			setup: func(f *fakeTenants) { f.add("dev", keptToken) }, want: keptToken, keptAfter: keptToken},
		{name: "tenant exists, its kept token revoked: none printed, tokens unchanged", kept: `{"dev": "` + keptToken + `"}`,
			setup: func(f *fakeTenants) { f.add("dev", "fs_other") }, keptAfter: keptToken, creates: 1},
		{name: "tenant exists, nothing kept: none printed", setup: func(f *fakeTenants) { f.add("dev", "fs_other") }, creates: 1},
		{name: "kept token is another tenant's: never used", kept: `{"dev": "` + keptToken + `"}`,
			setup: func(f *fakeTenants) { f.add("acme", keptToken) },
			want:  "fs_new_00000000000000000000000000000001", keptAfter: "fs_new_00000000000000000000000000000001", creates: 1},
		{name: "unreadable kept file: a new token replaces it", kept: `{not json`, setup: func(*fakeTenants) {},
			want: "fs_new_00000000000000000000000000000000", keptAfter: "fs_new_00000000000000000000000000000000", creates: 1},
		{name: "store down", kept: `{"dev": "` + keptToken + `"}`, wantErr: true, keptAfter: keptToken,
			setup: func(f *fakeTenants) { f.err = fmt.Errorf("%w: timeout", faaspot.ErrUnavailable) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "data", devTokensFile)
			if tt.kept != "" {
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(tt.kept), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			f := newFakeTenants()
			tt.setup(f)
			got, err := devTenant(t.Context(), f, path, "dev", discardLog())
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Fatalf("devTenant = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
			if f.creates != tt.creates {
				t.Errorf("%d creates, want %d", f.creates, tt.creates)
			}
			kept, _ := readDevTokens(path, discardLog())
			if kept["dev"] != tt.keptAfter {
				t.Errorf("kept token %q, want %q", kept["dev"], tt.keptAfter)
			}
		})
	}
}

// TestDevTokenFile: the kept tokens are in a file of mode 0600 in a directory of mode 0700; the
// tokens of other dev tenants kept there stay; a file readable by others is warned about.
func TestDevTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", devTokensFile)
	if err := writeDevTokens(path, map[string]string{"other": keptToken}); err != nil {
		t.Fatal(err)
	}
	token, err := devTenant(t.Context(), newFakeTenants(), path, "dev", discardLog())
	if err != nil || token == "" {
		t.Fatalf("devTenant = %q, %v", token, err)
	}
	file, err := os.Stat(path)
	if err != nil || file.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, %v; want mode 0600", file, err)
	}
	if dir, err := os.Stat(filepath.Dir(path)); err != nil || dir.Mode().Perm() != 0o700 {
		t.Errorf("data dir: %v, %v; want mode 0700", dir, err)
	}
	kept, err := readDevTokens(path, discardLog())
	if err != nil || kept["dev"] != token || kept["other"] != keptToken {
		t.Errorf("kept %v, %v; want both tenants' tokens", kept, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	if _, err := readDevTokens(path, slog.New(slog.NewTextHandler(logs, nil))); err != nil {
		t.Fatal(err)
	}
	if len(logs.lines("level=WARN", "readable by others")) != 1 {
		t.Errorf("no warning about a file readable by others:\n%s", logs)
	}
}

// TestDevTokenAcrossRestarts: two starts of the embedded store with one data dir give the dev
// tenant the same token, and it authenticates on the second (fresh) store.
func TestDevTokenAcrossRestarts(t *testing.T) {
	dataDir := t.TempDir()
	start := func() *Daemon {
		cfg := DefaultConfig()
		cfg.DataDir, cfg.DevTenant, cfg.AdminToken = dataDir, "dev", "admin-token-0123456789abcdef0123456789"
		d := New(cfg, discardLog())
		t.Cleanup(func() { _ = d.Close() })
		if err := d.openStore(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := d.bootstrapTenant(t.Context()); err != nil {
			t.Fatal(err)
		}
		return d
	}
	first := start()
	_ = first.Close()
	second := start()
	if first.DevToken == "" || second.DevToken != first.DevToken {
		t.Fatalf("dev tokens %q then %q; want one token", first.DevToken, second.DevToken)
	}
	if tenant, _, err := second.store.Authenticate(t.Context(), second.DevToken, 0); err != nil || tenant.Name != "dev" {
		t.Errorf("the kept token on the fresh store: %+v, %v", tenant, err)
	}
}

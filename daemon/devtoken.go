package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// devTokensFile, in the data dir, keeps the token of each dev tenant by tenant name (JSON, mode
// 0600), so that a restart serves, and prints, the token a user exported.
const devTokensFile = "dev-tokens.json"

// devTenantStore is what setting up the dev tenant needs of the store. Authenticate returns
// store.ErrNotFound for an unknown token; the creates return store.ErrExists for a taken name.
type devTenantStore interface {
	CreateTenant(ctx context.Context, name string) (faaspot.Tenant, string, error)
	CreateTenantWithToken(ctx context.Context, name, token string) (faaspot.Tenant, error)
	Authenticate(ctx context.Context, token string, defaultRate float64) (faaspot.Tenant, time.Duration, error)
}

var _ devTenantStore = (*store.Store)(nil)

// devTenant makes sure the tenant named tenant exists and returns a token of it, the same one
// across restarts, kept in the file path:
//
//   - the kept token still resolves to the tenant (a Redis that kept both): that token;
//   - the tenant does not exist (a fresh embedded store): it is created with the kept token, or
//     with a new one, which is then kept (a token that cannot be kept is returned all the same,
//     with a warning);
//   - the tenant exists and the kept token is not one of its own (none kept, revoked, kept by
//     another data dir): "", and the tenant's tokens are left as they are.
//
// A kept token that resolves to another tenant is never used. The store's failures come back.
func devTenant(ctx context.Context, st devTenantStore, path, tenant string, log *slog.Logger) (string, error) {
	kept, err := readDevTokens(path, log)
	if err != nil {
		log.Warn("the kept dev tokens cannot be read; a new token is made", "path", path, "err", err)
	}
	saved := kept[tenant]
	if saved != "" {
		t, _, err := st.Authenticate(ctx, saved, 0)
		switch {
		case err == nil && t.Name == tenant:
			return saved, nil
		case err == nil:
			saved = "" // another tenant's token: never this one's
		case !errors.Is(err, store.ErrNotFound):
			return "", fmt.Errorf("dev tenant %q: %w", tenant, err)
		}
	}
	token := saved
	if saved != "" {
		_, err = st.CreateTenantWithToken(ctx, tenant, saved)
	} else {
		_, token, err = st.CreateTenant(ctx, tenant)
	}
	if errors.Is(err, store.ErrExists) {
		log.Info("dev tenant exists already and no token of it is kept in the data dir; its tokens are unchanged",
			"tenant", tenant, "path", path)
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("create dev tenant %q: %w", tenant, err)
	}
	if token != saved {
		if kept == nil {
			kept = map[string]string{}
		}
		kept[tenant] = token
		if err := writeDevTokens(path, kept); err != nil {
			log.Warn("the dev token cannot be kept: the next start prints another", "path", path, "err", err)
		}
	}
	return token, nil
}

// readDevTokens returns the tokens kept in path by tenant name; none (and no error) when there
// is no such file. It warns when the file is readable by others.
func readDevTokens(path string, log *slog.Logger) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read dev tokens: %w", err)
	}
	if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 {
		log.Warn("the dev token file is readable by others; chmod 600 it", "path", path)
	}
	kept := map[string]string{}
	if err := json.Unmarshal(b, &kept); err != nil {
		return nil, fmt.Errorf("read dev tokens %s: %w", path, err)
	}
	return kept, nil
}

// writeDevTokens replaces path with kept, mode 0600, creating its directory (0700) if need be.
// The file is written beside and renamed over path: a crash leaves the old file or the new one.
func writeDevTokens(path string, kept map[string]string) error {
	b, err := json.MarshalIndent(kept, "", "  ")
	if err != nil {
		return fmt.Errorf("encode dev tokens: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write dev tokens: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".dev-tokens-*")
	if err != nil {
		return fmt.Errorf("write dev tokens: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	err = errors.Join(err, f.Chmod(0o600), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("write dev tokens %s: %w", path, err)
	}
	return nil
}

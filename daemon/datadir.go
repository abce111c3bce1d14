package daemon

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/faaspot/faaspot/store"
)

// secretKey returns the key that encrypts contexts at rest.
//
//   - FAASPOT_SECRET_KEY_FILE set: the file holds 32 bytes, raw, hex or base64 (a trailing newline
//     is fine); a missing or malformed file is an error, never silently replaced.
//   - not set, embedded store: a random key in memory (the store does not outlive the process).
//   - not set, Redis: <data dir>/secret.key, generated on first start and reused. Every node
//     sharing the Redis needs the same key: production should set FAASPOT_SECRET_KEY_FILE.
func (d *Daemon) secretKey() ([]byte, error) {
	path := d.cfg.SecretKeyFile
	if path == "" && d.cfg.RedisURL == "" {
		key := make([]byte, store.KeySize)
		_, _ = rand.Read(key)
		return key, nil
	}
	if path == "" {
		path = filepath.Join(d.cfg.DataDir, "secret.key")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if err := writeNewKey(path); err != nil {
				return nil, err
			}
			d.log.Warn("generated a secret key for contexts; every node sharing this Redis needs it: set FAASPOT_SECRET_KEY_FILE", "path", path)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 {
		d.log.Warn("the secret key file is readable by others; chmod 600 it", "path", path)
	}
	key, err := parseKey(b)
	if err != nil {
		return nil, fmt.Errorf("secret key %s: %w", path, err)
	}
	return key, nil
}

// parseKey accepts 32 bytes as hex, standard base64, or raw binary (head -c 32 /dev/urandom).
// A 32-character text is refused rather than guessed at: it is not 256 bits of randomness.
func parseKey(raw []byte) ([]byte, error) {
	if len(raw) == store.KeySize && !isText(raw) {
		return raw, nil
	}
	s := strings.TrimSpace(string(raw))
	if b, err := hex.DecodeString(s); err == nil && len(b) == store.KeySize {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == store.KeySize {
		return b, nil
	}
	return nil, fmt.Errorf("want %d bytes as hex, base64 or raw binary (e.g. openssl rand -hex 32)", store.KeySize)
}

func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

func writeNewKey(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("secret key: %w", err)
	}
	key := make([]byte, store.KeySize)
	_, _ = rand.Read(key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("secret key: %w", err)
	}
	_, err = f.WriteString(hex.EncodeToString(key) + "\n")
	return errors.Join(err, f.Close())
}

// nodeID returns cfg.NodeID, else the id kept in <data dir>/node-id, created on first start.
func (d *Daemon) nodeID() (string, error) {
	if d.cfg.NodeID != "" {
		return d.cfg.NodeID, nil
	}
	path := filepath.Join(d.cfg.DataDir, "node-id")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err := os.MkdirAll(d.cfg.DataDir, 0o700); err != nil {
		return "", fmt.Errorf("node id: %w", err)
	}
	id := randomHex(8)
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("node id: %w", err)
	}
	return id, nil
}

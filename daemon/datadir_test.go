package daemon

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func TestParseKey(t *testing.T) {
	key := []byte("\x00\x01\x02\x03456789abcdef0123456789abcdef")
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"raw binary", string(key), true},
		{"hex with newline", hex.EncodeToString(key) + "\n", true},
		{"32 characters of text", "0123456789abcdef0123456789abcdef", false},
		{"hex", hex.EncodeToString(key), true},
		{"base64", base64.StdEncoding.EncodeToString(key), true},
		{"short", "abc", false},
		{"hex of 16 bytes", hex.EncodeToString(key[:16]), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseKey([]byte(tc.in))
			if (err == nil) != tc.ok || (tc.ok && !bytes.Equal(got, key)) {
				t.Errorf("parseKey(%q) = %x, %v", tc.in, got, err)
			}
		})
	}
}

// TestSecretKeyGeneratedOnce: with Redis and no key file, a key is generated in the data
// directory (0600) and the same key is used on the next start.
func TestSecretKeyGeneratedOnce(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RedisURL, cfg.DataDir = "redis://127.0.0.1:1", t.TempDir()
	d := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	k1, err := d.secretKey()
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(cfg.DataDir, "secret.key"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", info, err)
	}
	k2, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil))).secretKey()
	if err != nil || !bytes.Equal(k1, k2) {
		t.Errorf("second start got another key: %v", err)
	}
	cfg.SecretKeyFile = filepath.Join(t.TempDir(), "missing")
	if _, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil))).secretKey(); err == nil {
		t.Error("a configured but missing key file must be an error, not replaced")
	}
}

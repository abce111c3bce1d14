package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// sealVersion is the first byte of every sealed value, so the format can change later.
const sealVersion = 1

// KeySize is the size of the secret key: AES-256.
const KeySize = 32

// ErrSecretKey means a sealed value cannot be opened: wrong key, or data moved between records.
var ErrSecretKey = errors.New("secret cannot be decrypted with this key")

// sealer encrypts contexts at rest with AES-256-GCM. Every value gets a fresh random nonce and is
// bound to its record (tenant, deployment, version) as associated data, so a sealed context copied
// to another record does not open.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (sealer, error) {
	if len(key) != KeySize {
		return sealer{}, fmt.Errorf("secret key must be %d bytes, not %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return sealer{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return sealer{}, err
	}
	return sealer{aead: aead}, nil
}

func (s sealer) seal(plain, ad []byte) []byte {
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	out[0] = sealVersion
	_, _ = rand.Read(out[1:])
	return s.aead.Seal(out, out[1:], plain, ad)
}

func (s sealer) open(sealed, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != sealVersion {
		return nil, ErrSecretKey
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], ad)
	if err != nil {
		return nil, ErrSecretKey
	}
	return plain, nil
}

// contextAD binds a sealed context to its record.
func contextAD(tid, name string, version int) []byte {
	return []byte("faaspot-context\x00" + tid + "\x00" + name + "\x00" + itoa(version))
}

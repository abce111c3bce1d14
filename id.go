package faaspot

import (
	"crypto/rand"
	"encoding/hex"
)

// NewID returns a fresh random identifier: 128 bits from crypto/rand, as 32 hex digits. The api
// gives one to every execution it queues; ids are unguessable, so knowing one grants nothing
// without the owning tenant's token.
func NewID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error (it panics instead)
	return hex.EncodeToString(b)
}

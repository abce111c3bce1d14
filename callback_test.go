package faaspot

import (
	"errors"
	"testing"
	"time"
)

func TestVerifyCallback(t *testing.T) {
	signed := time.Unix(1700000000, 0)
	body := []byte(`{"id":"x"}`)
	sig := SignCallback("s3cret", signed, body)
	rotating := SignCallback("new", signed, body, "s3cret")
	for _, tc := range []struct {
		name, secret, header string
		body                 []byte
		now                  time.Time
		ok                   bool
	}{
		{"valid", "s3cret", sig, body, signed.Add(time.Minute), true},
		{"valid among several", "s3cret", "t=1700000000,v1=00ff," + sig[len("t=1700000000,"):], body, signed, true},
		{"the old secret while rotating", "s3cret", rotating, body, signed, true},
		{"the new secret while rotating", "new", rotating, body, signed, true},
		{"other secret", "other", sig, body, signed, false},
		{"other body", "s3cret", sig, []byte(`{"id":"y"}`), signed, false},
		{"too old", "s3cret", sig, body, signed.Add(6 * time.Minute), false},
		{"from the future", "s3cret", sig, body, signed.Add(-6 * time.Minute), false},
		{"no time", "s3cret", "v1=abc", body, signed, false},
		{"no signature", "s3cret", "t=1700000000", body, signed, false},
		{"garbage", "s3cret", "garbage", body, signed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyCallback(tc.secret, tc.header, tc.body, tc.now, 5*time.Minute)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrBadSignature)) {
				t.Fatalf("VerifyCallback = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

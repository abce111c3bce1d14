package faaspot

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// HeaderCallbackURL on a run request names the URL the run's terminal record is posted to.
const HeaderCallbackURL = "X-Faaspot-Callback-Url"

// HeaderSignature signs a callback: "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>".
const HeaderSignature = "X-Faaspot-Signature"

// CallbackState is where the delivery of a callback stands.
type CallbackState string

// Callback states: pending (not delivered yet; retried) → delivered | failed (given up).
const (
	CallbackPending   CallbackState = "pending"
	CallbackDelivered CallbackState = "delivered"
	CallbackFailed    CallbackState = "failed"
)

// Callback is the delivery of an execution's terminal record to its callback URL, as the
// execution's record shows it.
type Callback struct {
	URL   string        `json:"url"`
	State CallbackState `json:"state"`
	// Attempts counts the POSTs made so far.
	Attempts int `json:"attempts"`
	// LastStatus is the HTTP status of the last answer (0: none came, see LastError).
	LastStatus int `json:"last_status,omitempty"`
	// LastError says why the last attempt got no answer, or why delivery was given up.
	LastError   string     `json:"last_error,omitempty"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
}

// WebhookSecret is the body of GET and POST /v1/webhook-secret: the tenant's callback signing key.
type WebhookSecret struct {
	Secret string `json:"secret"`
}

// SignCallback returns the HeaderSignature value of body sent at t, signed with secret (its
// UTF-8 bytes are the HMAC key), and with each of more: one v1 per secret, the way a rotated-out
// secret keeps signing for a while beside the new one.
func SignCallback(secret string, t time.Time, body []byte, more ...string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	sig := "t=" + ts
	for _, s := range append([]string{secret}, more...) {
		sig += ",v1=" + callbackMAC(s, ts, body)
	}
	return sig
}

func callbackMAC(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature means a callback's signature does not match its body, or is too old.
var ErrBadSignature = errors.New("callback signature does not verify")

// VerifyCallback checks a HeaderSignature value against body and secret, and that its time is
// within tolerance of now (replays of old deliveries fail). It returns ErrBadSignature, wrapped
// with the reason, when it does not verify.
func VerifyCallback(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: malformed header", ErrBadSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed %s away from now", ErrBadSignature, d.Round(time.Second))
	}
	want := callbackMAC(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("%w: no matching v1 signature", ErrBadSignature)
}

package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/faaspot/faaspot"
)

// maxRetryBackoff is the longest first wait of a retry policy the API accepts (its backoff_s,
// 3600). The operator's cap on attempts is left to the server, which names it when refusing.
const maxRetryBackoff = time.Hour

// retryFlags are the retry-policy flags of `fas deployments create`. Without --max-attempts the
// version has no retry policy: its failed runs are not run again.
type retryFlags struct {
	maxAttempts attempts
	backoff     backoff
}

func (r *retryFlags) register(fs *pflag.FlagSet) {
	fs.Var(&r.maxAttempts, "max-attempts", "runs in all of a failing async run, the first included: 1 is no retry; "+
		"at most the server's cap, 10 by default (default: no retry policy)")
	fs.Var(&r.backoff, "retry-backoff", `wait before the first retry, doubled before each next one: seconds ("30", "0.5") `+
		`or a duration ("30s", "2m"), at most 1h; needs --max-attempts (default: retry at once)`)
}

// policy returns the request's retry policy: nil when --max-attempts was not given.
func (r *retryFlags) policy(fs *pflag.FlagSet) (*faaspot.RetryPolicy, error) {
	if !fs.Changed("max-attempts") {
		if fs.Changed("retry-backoff") {
			return nil, usagef("--retry-backoff needs --max-attempts N: how many times a run may run in all")
		}
		return nil, nil
	}
	return &faaspot.RetryPolicy{MaxAttempts: int(r.maxAttempts), BackoffS: float64(r.backoff)}, nil
}

// attempts is a pflag.Value of a retry policy's max attempts: a whole number, 1 or more.
type attempts int

func (n *attempts) String() string { return strconv.Itoa(int(*n)) }
func (n *attempts) Type() string   { return "N" }

func (n *attempts) Set(s string) error {
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || v < 1 {
		return errors.New("want how many runs in all, 1 (no retry) or more")
	}
	*n = attempts(v)
	return nil
}

// backoff is a pflag.Value of a retry policy's first wait, in seconds (see parseBackoff).
type backoff float64

func (b *backoff) String() string { return strconv.FormatFloat(float64(*b), 'g', -1, 64) }
func (b *backoff) Type() string   { return "duration" }

func (b *backoff) Set(s string) error {
	v, err := parseBackoff(s)
	if err != nil {
		return err
	}
	*b = backoff(v)
	return nil
}

// parseBackoff parses a wait from 0 to maxRetryBackoff into seconds: a number of seconds, which
// may have a fraction ("30", "0.5"), or a Go duration ("30s", "1m30s", "500ms").
func parseBackoff(text string) (float64, error) {
	text = strings.TrimSpace(text)
	limit := maxRetryBackoff.Seconds()
	bad := fmt.Errorf(`want seconds from 0 to %g ("30", "0.5") or a duration up to %s ("30s", "2m")`, limit, shortDuration(maxRetryBackoff))
	if s, err := strconv.ParseFloat(text, 64); err == nil {
		if !(s >= 0 && s <= limit) { // NaN fails both
			return 0, bad
		}
		return s + 0, nil // -0 becomes 0
	}
	d, err := time.ParseDuration(text)
	if err != nil || d < 0 || d > maxRetryBackoff {
		return 0, bad
	}
	return d.Seconds(), nil
}

// retryText describes a retry policy for a table: "" for none.
func retryText(p *faaspot.RetryPolicy) string {
	switch {
	case p == nil:
		return ""
	case p.MaxAttempts <= 1:
		return "none (1 attempt)"
	case p.BackoffS == 0:
		return fmt.Sprintf("up to %d attempts, at once", p.MaxAttempts)
	}
	first := time.Duration(p.BackoffS * float64(time.Second))
	return fmt.Sprintf("up to %d attempts, the first retry after %s, doubling", p.MaxAttempts, shortDuration(first))
}

// shortDuration is d as time.Duration prints it, without zero trailing units ("1h", "2m", "1m30s").
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

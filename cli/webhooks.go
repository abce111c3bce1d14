package cli

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/faaspot/faaspot"
)

// Callbacks: --callback-url on `fas deployments create` and `fas deployments run`, the delivery
// in `fas executions get`, and `fas webhook-secret`, the key that signs them.

// callbackURL is the value of the --callback-url flag of fs: "" when not given. A value that is
// not an absolute http or https URL with a host is a usage error; the server checks the rest
// (its length, and that it does not reach the server's own network).
func callbackURL(fs *pflag.FlagSet) (string, error) {
	if !fs.Changed("callback-url") {
		return "", nil
	}
	raw, err := fs.GetString("callback-url")
	if err != nil {
		return "", err
	}
	if raw == "" {
		return "", usagef("--callback-url must not be empty")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return "", usagef("--callback-url must be an http:// or https:// URL with a host, not %q", raw)
	}
	return raw, nil
}

// callbackRows are the rows of an execution's callback delivery in `fas executions get`: none
// when the run has no callback.
func callbackRows(cb *faaspot.Callback) [][]string {
	if cb == nil {
		return nil
	}
	return [][]string{{"callback", cb.URL}, {"callback delivery", callbackText(cb)}}
}

// callbackText describes a callback's delivery: its state, the attempts made, the last answer's
// status, when it was delivered and the last error, e.g. "failed (5 attempts, last HTTP 503):
// gave up".
func callbackText(cb *faaspot.Callback) string {
	var b strings.Builder
	b.WriteString(string(cb.State))
	switch cb.Attempts {
	case 0:
		b.WriteString(" (no attempt yet")
	case 1:
		b.WriteString(" (1 attempt")
	default:
		fmt.Fprintf(&b, " (%d attempts", cb.Attempts)
	}
	if cb.LastStatus != 0 {
		fmt.Fprintf(&b, ", last HTTP %d", cb.LastStatus)
	}
	b.WriteString(")")
	if cb.DeliveredAt != nil {
		b.WriteString(" at " + cb.DeliveredAt.Format(timeLayout))
	}
	if cb.LastError != "" {
		b.WriteString(": " + firstLine(cb.LastError))
	}
	return b.String()
}

func (a *app) webhookSecretCommand() *cobra.Command {
	var rotate bool
	cmd := &cobra.Command{
		Use:   "webhook-secret [--rotate]",
		Short: "Print the webhook secret that signs the callbacks of your runs; --rotate replaces it",
		Long: "Print the tenant's webhook secret, created on first use. Each callback (fas deployments\n" +
			"create or run --callback-url URL) is posted with the header\n" +
			"  " + faaspot.HeaderSignature + ": t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<body>\")>\n" +
			"A receiver recomputes v1 over the raw body and refuses a t too far from its own clock.\n\n" +
			"With --rotate, replace the secret with a new one and print it: callbacks are signed with\n" +
			"the new one from then on.",
		Example: "  fas webhook-secret\n" +
			"  fas webhook-secret --rotate\n" +
			"  WEBHOOK_SECRET=$(fas webhook-secret) ./receiver",
		Args:              noArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			get := c.WebhookSecret
			if rotate {
				get = c.RotateWebhookSecret
			}
			secret, err := get(cmd.Context())
			if err != nil {
				return err
			}
			if a.output == "json" {
				err = a.printJSON(faaspot.WebhookSecret{Secret: secret})
			} else {
				_, err = fmt.Fprintln(a.env.Stdout, secret)
			}
			if err == nil && rotate {
				fmt.Fprintln(a.env.Stderr, "fas: webhook secret rotated: callbacks are signed with the new one from now on; give it to your receivers")
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&rotate, "rotate", false, "replace the secret with a new one and print it")
	return cmd
}

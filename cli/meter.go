package cli

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/client"
)

func (a *app) usageCommand() *cobra.Command {
	var from, to, tenant string
	cmd := &cobra.Command{
		Use:   "usage [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--tenant NAME]",
		Short: "Show the usage per UTC day: runs, seconds, GB-seconds, CPU seconds, builds, bytes stored",
		Long: "Show the usage of each UTC day from --from to --to (default: the 30 days to today, at most 366):\n" +
			"runs by status, the functions' own time (wall seconds), memory limit × time (GB-seconds),\n" +
			"their containers' CPU time, builds and their time, then the total and the bytes stored now.\n" +
			"The table lists the days with use; -o json gives every day. With --tenant, the operator's\n" +
			"view of that tenant (admin token).",
		Example: "  fas usage\n" +
			"  fas usage --from 2025-03-01 --to 2025-03-31 -o json\n" +
			"  fas usage --tenant acme --from 2025-03-01",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := parseDay("--from", from)
			if err != nil {
				return err
			}
			t, err := parseDay("--to", to)
			if err != nil {
				return err
			}
			var c *client.Client
			if tenant != "" {
				c, err = a.adminClient()
			} else {
				c, err = a.client()
			}
			if err != nil {
				return err
			}
			var u faaspot.Usage
			if tenant != "" {
				u, err = c.TenantUsage(cmd.Context(), tenant, f, t)
			} else {
				u, err = c.Usage(cmd.Context(), f, t)
			}
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(u)
			}
			if err := a.printTable(usageRows(u)); err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.env.Stdout, "\ntenant %s, %s to %s; bytes stored now: %d\n", u.Tenant, u.From, u.To, u.BytesStored)
			return err
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "first UTC day, YYYY-MM-DD (default: 29 days before --to)")
	cmd.Flags().StringVar(&to, "to", "", "last UTC day, YYYY-MM-DD (default: today)")
	cmd.Flags().StringVar(&tenant, "tenant", "", "the tenant to show (the operator's view: needs the admin token)")
	_ = cmd.RegisterFlagCompletionFunc("tenant", a.completeTenants)
	return cmd
}

// parseDay reads a YYYY-MM-DD flag value; "" is the zero time (the server's default).
func parseDay(flag, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return t, usagef("%s must be a date, YYYY-MM-DD, not %q", flag, v)
	}
	return t, nil
}

// usageRows is the table of the days with use, then the total.
func usageRows(u faaspot.Usage) [][]string {
	rows := [][]string{{"DATE", "COMPLETED", "FAILED", "TIMEOUT", "WALL S", "GB-S", "CPU S", "BUILDS", "BUILD S"}}
	row := func(label string, d faaspot.UsageDay) []string {
		n := func(v int64) string { return strconv.FormatInt(v, 10) }
		s := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
		return []string{label, n(d.Runs.Completed), n(d.Runs.Failed), n(d.Runs.Timeout), s(d.WallSeconds),
			s(d.GBSeconds), s(d.CPUSeconds), n(d.Builds), s(d.BuildSeconds)}
	}
	for _, d := range u.Days {
		if d.Date != "" && (d != faaspot.UsageDay{Date: d.Date}) {
			rows = append(rows, row(d.Date, d))
		}
	}
	return append(rows, row("TOTAL", u.Total))
}

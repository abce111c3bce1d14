package cli

import (
	"context"
	"math"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/client"
)

// quotaFlags are the flags of `fas tenants quotas`: each names one field of faaspot.Quotas.
type quotaFlags struct{ q faaspot.Quotas }

func (f *quotaFlags) register(fs *pflag.FlagSet) {
	fs.IntVar(&f.q.MaxConcurrentRuns, "max-concurrent-runs", 0, "runs of the tenant at once (0: the server's default)")
	fs.IntVar(&f.q.MaxQueuedRuns, "max-queued-runs", 0, "runs of the tenant waiting in the queue (0: the default)")
	fs.IntVar(&f.q.MaxDeployments, "max-deployments", 0, "deployments of the tenant (0: the default)")
	fs.Float64Var(&f.q.RequestsPerSecond, "requests-per-second", 0, "API requests per second (0: the default)")
}

// merge returns cur with the fields whose flags were given replaced, and whether any was.
func (f *quotaFlags) merge(fs *pflag.FlagSet, cur faaspot.Quotas) (faaspot.Quotas, bool, error) {
	q := f.q
	if q.MaxConcurrentRuns < 0 || q.MaxQueuedRuns < 0 || q.MaxDeployments < 0 || !(q.RequestsPerSecond >= 0) || math.IsInf(q.RequestsPerSecond, 0) {
		return cur, false, usagef("quotas must be 0 (the server's default) or positive")
	}
	changed := false
	set := func(name string, dst *int, v int) {
		if fs.Changed(name) {
			*dst, changed = v, true
		}
	}
	set("max-concurrent-runs", &cur.MaxConcurrentRuns, q.MaxConcurrentRuns)
	set("max-queued-runs", &cur.MaxQueuedRuns, q.MaxQueuedRuns)
	set("max-deployments", &cur.MaxDeployments, q.MaxDeployments)
	if fs.Changed("requests-per-second") {
		cur.RequestsPerSecond, changed = q.RequestsPerSecond, true
	}
	return cur, changed, nil
}

func (a *app) quotasCommand() *cobra.Command {
	var f quotaFlags
	cmd := &cobra.Command{
		Use:   "quotas TENANT [--max-concurrent-runs N] [--max-queued-runs N] [--max-deployments N] [--requests-per-second R]",
		Short: "Show a tenant's quotas, or change those named by flags (0: the server's default)",
		Long: "Without flags, show the tenant's own quotas (\"default\": the server's). With flags, change\n" +
			"those quotas only, keep the others, and show the tenant's quotas and those in effect.",
		Example: "  fas tenants quotas acme\n" +
			"  fas tenants quotas acme --max-deployments 20 --requests-per-second 50\n" +
			"  fas tenants quotas acme --max-concurrent-runs 0    # back to the server's default",
		Args:              exactArgs(1, "TENANT"),
		ValidArgsFunction: a.completeTenants,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, _, err := f.merge(cmd.Flags(), faaspot.Quotas{}); err != nil {
				return err
			}
			c, err := a.adminClient()
			if err != nil {
				return err
			}
			return a.quotas(cmd.Context(), c, args[0], &f, cmd.Flags())
		},
	}
	f.register(cmd.Flags())
	return cmd
}

// quotas shows the tenant's quotas, after changing those named by flags.
func (a *app) quotas(ctx context.Context, c *client.Client, name string, f *quotaFlags, fs *pflag.FlagSet) error {
	ts, err := c.ListTenants(ctx)
	if err != nil {
		return err
	}
	t, err := findTenant(ts, name)
	if err != nil {
		return err
	}
	q, changed, err := f.merge(fs, t.Quotas)
	if err != nil {
		return err
	}
	if !changed {
		if a.output == "json" {
			return a.printJSON(map[string]any{"name": t.Name, "quotas": t.Quotas})
		}
		return a.printTable(quotaRows(t.Quotas, nil))
	}
	set, err := c.SetQuotas(ctx, name, q)
	if err != nil {
		return err
	}
	if a.output == "json" {
		return a.printJSON(set)
	}
	return a.printTable(quotaRows(set.Quotas, &set.Effective))
}

// quotaRows is the table of a tenant's own quotas and, when known, those in effect.
func quotaRows(own faaspot.Quotas, effective *faaspot.Quotas) [][]string {
	rows := [][]string{{"QUOTA", "SET"}}
	if effective != nil {
		rows[0] = append(rows[0], "IN EFFECT")
	}
	add := func(name string, v, e float64) {
		row := []string{name, quota(v)}
		if effective != nil {
			row = append(row, quota(e))
		}
		rows = append(rows, row)
	}
	var eff faaspot.Quotas
	if effective != nil {
		eff = *effective
	}
	add("max-concurrent-runs", float64(own.MaxConcurrentRuns), float64(eff.MaxConcurrentRuns))
	add("max-queued-runs", float64(own.MaxQueuedRuns), float64(eff.MaxQueuedRuns))
	add("max-deployments", float64(own.MaxDeployments), float64(eff.MaxDeployments))
	add("requests-per-second", own.RequestsPerSecond, eff.RequestsPerSecond)
	return rows
}

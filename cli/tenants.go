package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/faaspot/faaspot"
)

// The operator's commands. They use the admin token (FAASPOT_ADMIN_TOKEN, else admin_token in
// ~/.faaspot/config.json), never the tenant's: see app.adminClient.

func (a *app) tenantsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "tenants",
		Aliases: []string{"tenant"},
		Short:   "Create, list and delete tenants, their tokens and quotas (operator, admin token)",
		Long: "Manage the server's tenants: the operator's commands. They use the admin token from\n" +
			"FAASPOT_ADMIN_TOKEN, else admin_token in ~/.faaspot/config.json (fas login --admin-token).",
		Example: "  export FAASPOT_ADMIN_TOKEN=...\n" +
			"  fas tenants create acme\n" +
			"  fas tenants tokens issue acme\n" +
			"  fas tenants quotas acme --max-deployments 20",
	}
	cmd.AddCommand(a.createTenantCommand(), a.listTenantsCommand(), a.deleteTenantCommand(),
		a.tokensCommand(), a.quotasCommand())
	return cmd
}

func (a *app) createTenantCommand() *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "create NAME [--quiet]",
		Short: "Create a tenant and print its first token (shown only this once)",
		Example: "  fas tenants create acme\n" +
			"  TOKEN=$(fas tenants create acme --quiet)",
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.adminClient()
			if err != nil {
				return err
			}
			t, err := c.CreateTenantRecord(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.printSecret(quiet, t, t.Token, [][]string{{"name", t.Name}, {"id", t.ID}, {"token", t.Token}})
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the token")
	return cmd
}

// printSecret shows an answer holding a token that the server shows only once: v as JSON, only
// the token with quiet, else rows and a reminder on stderr.
func (a *app) printSecret(quiet bool, v any, token string, rows [][]string) error {
	switch {
	case quiet:
		_, err := fmt.Fprintln(a.env.Stdout, token)
		return err
	case a.output == "json":
		return a.printJSON(v)
	}
	if err := a.printTable(rows); err != nil {
		return err
	}
	fmt.Fprintln(a.env.Stderr, "fas: the token is shown only now: give it to the tenant (fas login --token, or FAASPOT_TOKEN)")
	return nil
}

func (a *app) listTenantsCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List tenants with their quotas (\"default\": the server's)",
		Example: "  fas tenants list\n  fas tenants list -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.adminClient()
			if err != nil {
				return err
			}
			ts, err := c.ListTenants(cmd.Context())
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(ts)
			}
			rows := [][]string{{"NAME", "ID", "CREATED", "CONCURRENT RUNS", "QUEUED RUNS", "DEPLOYMENTS", "REQUESTS/S"}}
			for _, t := range ts {
				q := t.Quotas
				rows = append(rows, []string{t.Name, t.ID, t.CreatedAt.Format(time.DateTime), quota(float64(q.MaxConcurrentRuns)),
					quota(float64(q.MaxQueuedRuns)), quota(float64(q.MaxDeployments)), quota(q.RequestsPerSecond)})
			}
			return a.printTable(rows)
		},
	}
}

// quota shows a tenant's own quota; zero means the server's default.
func quota(v float64) string {
	if v <= 0 {
		return "default"
	}
	return fmt.Sprint(v)
}

func (a *app) deleteTenantCommand() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete NAME --yes",
		Short: "Delete a tenant: its tokens, deployments, executions and images",
		Long: "Delete a tenant. Its tokens stop working at once; its deployments, executions and images\n" +
			"are removed. There is no undo, so the command wants --yes.",
		Example:           "  fas tenants delete acme --yes",
		Args:              exactArgs(1, "NAME --yes"),
		ValidArgsFunction: a.completeTenants,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return usagef("deleting tenant %s removes its tokens, deployments, executions and images: add --yes", args[0])
			}
			c, err := a.adminClient()
			if err != nil {
				return err
			}
			if err := c.DeleteTenant(cmd.Context(), args[0]); err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(map[string]string{"deleted": args[0]})
			}
			_, err = fmt.Fprintf(a.env.Stdout, "tenant %s deleted\n", args[0])
			return err
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm: the tenant's data is removed for good")
	return cmd
}

// findTenant returns the tenant named name among ts.
func findTenant(ts []faaspot.Tenant, name string) (faaspot.Tenant, error) {
	for _, t := range ts {
		if t.Name == name {
			return t, nil
		}
	}
	return faaspot.Tenant{}, fmt.Errorf("tenant %q not found", name)
}

package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func (a *app) tokensCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "tokens",
		Aliases: []string{"token"},
		Short:   "Issue, list and revoke a tenant's API tokens",
		Example: "  fas tenants tokens issue acme\n  fas tenants tokens list acme\n  fas tenants tokens revoke acme TOKEN_ID",
	}
	cmd.AddCommand(a.issueTokenCommand(), a.listTokensCommand(), a.revokeTokenCommand())
	return cmd
}

func (a *app) issueTokenCommand() *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "issue TENANT [--quiet]",
		Short: "Issue a new token for a tenant and print it (shown only this once)",
		Example: "  fas tenants tokens issue acme\n" +
			"  FAASPOT_TOKEN=$(fas tenants tokens issue acme --quiet) fas deployments list",
		Args:              exactArgs(1, "TENANT"),
		ValidArgsFunction: a.completeTenants,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.adminClient()
			if err != nil {
				return err
			}
			t, err := c.IssueToken(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.printSecret(quiet, t, t.Token, [][]string{{"tenant", args[0]}, {"id", t.ID}, {"token", t.Token}})
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the token")
	return cmd
}

func (a *app) listTokensCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "list TENANT",
		Short:             "List a tenant's tokens: ids and creation times, never the tokens",
		Example:           "  fas tenants tokens list acme",
		Args:              exactArgs(1, "TENANT"),
		ValidArgsFunction: a.completeTenants,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.adminClient()
			if err != nil {
				return err
			}
			toks, err := c.ListTokens(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(toks)
			}
			rows := [][]string{{"ID", "CREATED"}}
			for _, t := range toks {
				rows = append(rows, []string{t.ID, t.CreatedAt.Format(time.DateTime)})
			}
			return a.printTable(rows)
		},
	}
}

func (a *app) revokeTokenCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "revoke TENANT TOKEN_ID",
		Short:             "Revoke one of a tenant's tokens: requests bearing it fail from now on",
		Example:           "  fas tenants tokens revoke acme 5d1e...",
		Args:              exactArgs(2, "TENANT TOKEN_ID"),
		ValidArgsFunction: a.completeTenantToken,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.adminClient()
			if err != nil {
				return err
			}
			if err := c.RevokeToken(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(map[string]string{"tenant": args[0], "revoked": args[1]})
			}
			_, err = fmt.Fprintf(a.env.Stdout, "token %s of tenant %s revoked\n", args[1], args[0])
			return err
		},
	}
}

package cli

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/client"
)

// Shell completion of the names that live on the server (deployments, executions, tenants,
// tokens). Each asks the API with the configured URL and token (--url, --token, the environment,
// the config file: as the command itself would), within completionTimeout; a failing call
// completes nothing (set BASH_COMP_DEBUG_FILE to see why). Files are never offered in their place.

// completionTimeout bounds the API call behind one press of TAB.
const completionTimeout = 3 * time.Second

const noFiles = cobra.ShellCompDirectiveNoFileComp

// executionsToComplete selects the executions whose ids are offered: the tenant's newest.
var executionsToComplete = faaspot.ExecutionQuery{Limit: 100}

// completionContext is the command's context bounded by completionTimeout.
func completionContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, completionTimeout)
}

// candidate is one value a completer offers, with its description ("" for none).
type candidate struct{ value, desc string }

// complete offers the candidates list returns that start with toComplete. list gets a context
// bounded by completionTimeout and a client (the admin one with admin); any failure offers
// nothing.
func (a *app) complete(cmd *cobra.Command, toComplete string, admin bool, list func(context.Context, *client.Client) ([]candidate, error)) ([]cobra.Completion, cobra.ShellCompDirective) {
	ctx, cancel := completionContext(cmd)
	defer cancel()
	get := a.client
	if admin {
		get = a.adminClient
	}
	c, err := get()
	if err != nil {
		return compFailed(err)
	}
	cands, err := list(ctx, c)
	if err != nil {
		return compFailed(err)
	}
	var out []cobra.Completion
	for _, cand := range cands {
		if !strings.HasPrefix(cand.value, toComplete) {
			continue
		}
		if cand.desc == "" {
			out = append(out, cand.value)
		} else {
			out = append(out, cobra.CompletionWithDesc(cand.value, cand.desc))
		}
	}
	return out, noFiles
}

// completeDeployments completes a deployment name (the first argument, or a flag's value), with
// its status as the description.
func (a *app) completeDeployments(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, noFiles
	}
	return a.complete(cmd, toComplete, false, func(ctx context.Context, c *client.Client) ([]candidate, error) {
		ds, err := c.ListDeployments(ctx)
		out := make([]candidate, 0, len(ds))
		for _, d := range ds {
			out = append(out, candidate{d.Name, string(d.Status)})
		}
		return out, err
	})
}

// completeExecutions completes the id of one of the tenant's recent executions (the first
// argument), described by deployment, status and start.
func (a *app) completeExecutions(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, noFiles
	}
	return a.complete(cmd, toComplete, false, func(ctx context.Context, c *client.Client) ([]candidate, error) {
		es, _, err := c.ListExecutions(ctx, executionsToComplete)
		out := make([]candidate, 0, len(es))
		for _, e := range es {
			out = append(out, candidate{e.ID, e.Deployment + " " + string(e.Status) + " " + e.CreatedAt.Format(timeLayout)})
		}
		return out, err
	})
}

// completeTenants completes a tenant name (the first argument) with the admin token; without
// one configured it completes nothing and sends nothing.
func (a *app) completeTenants(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, noFiles
	}
	return a.complete(cmd, toComplete, true, func(ctx context.Context, c *client.Client) ([]candidate, error) {
		ts, err := c.ListTenants(ctx)
		out := make([]candidate, 0, len(ts))
		for _, t := range ts {
			out = append(out, candidate{value: t.Name})
		}
		return out, err
	})
}

// completeTenantToken completes TENANT then TOKEN_ID (the id of one of that tenant's tokens).
func (a *app) completeTenantToken(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) != 1 {
		return a.completeTenants(cmd, args, toComplete)
	}
	return a.complete(cmd, toComplete, true, func(ctx context.Context, c *client.Client) ([]candidate, error) {
		toks, err := c.ListTokens(ctx, args[0])
		out := make([]candidate, 0, len(toks))
		for _, t := range toks {
			out = append(out, candidate{t.ID, "created " + t.CreatedAt.Format(timeLayout)})
		}
		return out, err
	})
}

// compFailed completes nothing, leaving the reason in cobra's debug log.
func compFailed(err error) ([]cobra.Completion, cobra.ShellCompDirective) {
	cobra.CompDebugln("fas: completion: "+err.Error(), true)
	return nil, noFiles
}

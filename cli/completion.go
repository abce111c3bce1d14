package cli

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faaspot/faaspot"
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

// completeDeployments completes a deployment name (the first argument, or a flag's value), with
// its status as the description.
func (a *app) completeDeployments(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, noFiles
	}
	ctx, cancel := completionContext(cmd)
	defer cancel()
	c, err := a.client()
	if err != nil {
		return compFailed(err)
	}
	ds, err := c.ListDeployments(ctx)
	if err != nil {
		return compFailed(err)
	}
	var out []cobra.Completion
	for _, d := range ds {
		if strings.HasPrefix(d.Name, toComplete) {
			out = append(out, cobra.CompletionWithDesc(d.Name, string(d.Status)))
		}
	}
	return out, noFiles
}

// completeExecutions completes the id of one of the tenant's recent executions (the first
// argument), described by deployment, status and start.
func (a *app) completeExecutions(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, noFiles
	}
	ctx, cancel := completionContext(cmd)
	defer cancel()
	c, err := a.client()
	if err != nil {
		return compFailed(err)
	}
	es, _, err := c.ListExecutions(ctx, executionsToComplete)
	if err != nil {
		return compFailed(err)
	}
	var out []cobra.Completion
	for _, e := range es {
		if strings.HasPrefix(e.ID, toComplete) {
			out = append(out, cobra.CompletionWithDesc(e.ID, e.Deployment+" "+string(e.Status)+" "+e.CreatedAt.Format("2006-01-02 15:04:05")))
		}
	}
	return out, noFiles
}

// completeTenants completes a tenant name (the first argument) with the admin token; without
// one configured it completes nothing and sends nothing.
func (a *app) completeTenants(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, noFiles
	}
	ctx, cancel := completionContext(cmd)
	defer cancel()
	c, err := a.adminClient()
	if err != nil {
		return compFailed(err)
	}
	ts, err := c.ListTenants(ctx)
	if err != nil {
		return compFailed(err)
	}
	var out []cobra.Completion
	for _, t := range ts {
		if strings.HasPrefix(t.Name, toComplete) {
			out = append(out, t.Name)
		}
	}
	return out, noFiles
}

// completeTenantToken completes TENANT then TOKEN_ID (the id of one of that tenant's tokens).
func (a *app) completeTenantToken(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) != 1 {
		return a.completeTenants(cmd, args, toComplete)
	}
	ctx, cancel := completionContext(cmd)
	defer cancel()
	c, err := a.adminClient()
	if err != nil {
		return compFailed(err)
	}
	toks, err := c.ListTokens(ctx, args[0])
	if err != nil {
		return compFailed(err)
	}
	var out []cobra.Completion
	for _, t := range toks {
		if strings.HasPrefix(t.ID, toComplete) {
			out = append(out, cobra.CompletionWithDesc(t.ID, "created "+t.CreatedAt.Format("2006-01-02 15:04:05")))
		}
	}
	return out, noFiles
}

// compFailed completes nothing, leaving the reason in cobra's debug log.
func compFailed(err error) ([]cobra.Completion, cobra.ShellCompDirective) {
	cobra.CompDebugln("fas: completion: "+err.Error(), true)
	return nil, noFiles
}

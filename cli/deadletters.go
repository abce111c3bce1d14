package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/client"
)

// maxDeadLetters is the largest page of dead letters the API serves (its ?limit bound).
const maxDeadLetters = 1000

func (a *app) deadLettersCommand() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "dead-letters [--limit N]",
		Short: "List the dead letters: queued runs that failed their last attempt, newest first",
		Long: "List the dead letters, newest first: the queued runs of deployments that retry failed runs\n" +
			"(fas deployments create --max-attempts N, N of 2 or more) that failed or timed out on their\n" +
			"last attempt. `fas executions retry ID` runs one again and takes it off the list.",
		Example: "  fas executions dead-letters\n" +
			"  fas executions dead-letters --limit 10 -o json\n" +
			"  fas executions dead-letters -o json | jq -r '.[].id' | xargs -r -n1 fas executions retry",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("limit") && (limit < 1 || limit > maxDeadLetters) {
				return usagef("--limit must be from 1 to %d, not %d", maxDeadLetters, limit)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			es, err := c.ListDeadLetters(cmd.Context(), limit)
			if err != nil {
				return err
			}
			if a.output == "json" {
				if es == nil {
					es = []faaspot.ExecutionSummary{}
				}
				return a.printJSON(es)
			}
			return a.printTable(deadLetterRows(es))
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 0, fmt.Sprintf("how many at most, 1 to %d (default: the server's, 100)", maxDeadLetters))
	return cmd
}

// deadLetterRows is the table of dead letters.
func deadLetterRows(es []faaspot.ExecutionSummary) [][]string {
	rows := [][]string{{"ID", "DEPLOYMENT", "STATUS", "ERROR TYPE", "FINISHED"}}
	for _, e := range es {
		finished := "-"
		if e.FinishedAt != nil {
			finished = e.FinishedAt.Format(timeLayout)
		}
		rows = append(rows, []string{e.ID, e.Deployment, string(e.Status), orDash(e.ErrorType), finished})
	}
	return rows
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (a *app) retryExecutionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "retry ID",
		Short: "Run a failed or timed-out execution again; print the new execution's id",
		Long: "Run the failed or timed-out execution ID again: a new execution, queued, of its\n" +
			"deployment's current version with the same arguments (the deployment's retry policy\n" +
			"applies to it). ID is kept as it is and taken off the dead letters.",
		Example: "  fas executions retry 3f6c0a...\n" +
			"  NEW=$(fas executions retry 3f6c0a...) && fas executions logs -f \"$NEW\"",
		Args:              exactArgs(1, "ID"),
		ValidArgsFunction: a.completeFailedExecutions,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			id, err := c.RetryExecution(cmd.Context(), args[0])
			if err != nil {
				return retryError(args[0], err)
			}
			if a.output == "json" {
				return a.printJSON(map[string]string{"execution_id": id, "retry_of": args[0]})
			}
			fmt.Fprintln(a.env.Stdout, id)
			return nil
		},
	}
}

// retryError names the execution in a refusal of its retry (404, 409), the server's reason
// following; other errors are returned as they are.
func retryError(id string, err error) error {
	var ae *client.APIError
	if errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Status == http.StatusConflict) {
		return fmt.Errorf("cannot retry execution %s: %w", id, err)
	}
	return err
}

// completeFailedExecutions completes the id of one of the tenant's recent executions that failed
// or timed out (the first argument): those a retry accepts.
func (a *app) completeFailedExecutions(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, noFiles
	}
	return a.complete(cmd, toComplete, false, func(ctx context.Context, c *client.Client) ([]candidate, error) {
		es, _, err := c.ListExecutions(ctx, executionsToComplete)
		var out []candidate
		for _, e := range es {
			if e.Status == faaspot.ExecFailed || e.Status == faaspot.ExecTimeout {
				out = append(out, candidate{e.ID, e.Deployment + " " + string(e.Status) + " " + e.CreatedAt.Format(timeLayout)})
			}
		}
		return out, err
	})
}

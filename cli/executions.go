package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faaspot/faaspot"
)

func (a *app) executionsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "executions",
		Aliases: []string{"execution", "exec"},
		Short:   "Show executions and their output, list the dead letters, retry failed runs",
		Example: "  fas executions list --deployment hello\n  fas executions logs ID\n  fas executions dead-letters\n  fas executions retry ID",
	}
	cmd.AddCommand(a.getExecutionCommand(), a.listExecutionsCommand(), a.logsCommand(), a.deadLettersCommand(), a.retryExecutionCommand())
	return cmd
}

// execution fetches one execution record.
func (a *app) execution(ctx context.Context, id string) (faaspot.Execution, error) {
	c, err := a.client()
	if err != nil {
		return faaspot.Execution{}, err
	}
	return c.GetExecution(ctx, id)
}

func (a *app) getExecutionCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "get ID",
		Short:             "Show an execution record",
		Example:           "  fas executions get 3f6c0a...\n  fas executions get 3f6c0a... -o json",
		Args:              exactArgs(1, "ID"),
		ValidArgsFunction: a.completeExecutions,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.execution(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(e)
			}
			rows := [][]string{
				{"id", e.ID}, {"deployment", e.Deployment}, {"version", fmt.Sprint(e.Version)},
				{"status", strings.ToUpper(string(e.Status))},
			}
			if e.Attempts > 1 {
				rows = append(rows, []string{"attempts", fmt.Sprint(e.Attempts)})
			}
			rows = append(rows, []string{"args", compact(e.Args)}, []string{"result", compact(e.Result)})
			if e.Error != nil {
				rows = append(rows, []string{"error", e.Error.Type + ": " + e.Error.Message})
			}
			rows = append(rows,
				[]string{"created", e.CreatedAt.Format("2006-01-02 15:04:05.000")},
				[]string{"queue", fmt.Sprintf("%.1f ms", e.QueueMS)},
				[]string{"duration", fmt.Sprintf("%.1f ms", e.DurationMS)},
				[]string{"cold start", fmt.Sprint(e.ColdStart)},
				[]string{"output", fmt.Sprintf("%d bytes stdout, %d bytes stderr (fas executions logs %s)", len(e.Stdout), len(e.Stderr), e.ID)})
			return a.printTable(append(rows, callbackRows(e.Callback)...))
		},
	}
}

func (a *app) listExecutionsCommand() *cobra.Command {
	var q faaspot.ExecutionQuery
	cmd := &cobra.Command{
		Use:   "list [--deployment NAME] [--limit N] [--cursor C]",
		Short: "List recent executions, newest first, one page at a time",
		Long: "List recent executions, newest first. When more follow, the command ends with a line on\n" +
			"stderr giving the --cursor of the next page.",
		Example: "  fas executions list\n  fas executions list --deployment hello --limit 10 -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			es, next, err := c.ListExecutions(cmd.Context(), q)
			if err != nil {
				return err
			}
			if a.output == "json" {
				err = a.printJSON(es)
			} else {
				err = a.printTable(executionRows(es))
			}
			if err == nil && next != "" {
				fmt.Fprintf(a.env.Stderr, "fas: more executions: fas executions list --cursor %s%s\n", next, pageFlags(q))
			}
			return err
		},
	}
	cmd.Flags().StringVar(&q.Deployment, "deployment", "", "only executions of this deployment")
	cmd.Flags().IntVar(&q.Limit, "limit", 50, "how many at most (up to 1000)")
	cmd.Flags().StringVar(&q.Cursor, "cursor", "", "the page after the one that printed this cursor")
	_ = cmd.RegisterFlagCompletionFunc("deployment", a.completeDeployments)
	return cmd
}

// executionRows is the table of a page of executions.
func executionRows(es []faaspot.ExecutionSummary) [][]string {
	rows := [][]string{{"ID", "DEPLOYMENT", "STATUS", "CREATED", "DURATION", "ERROR"}}
	for _, e := range es {
		rows = append(rows, []string{e.ID, e.Deployment, string(e.Status), e.CreatedAt.Format(timeLayout),
			fmt.Sprintf("%.1f ms", e.DurationMS), e.ErrorType})
	}
	return rows
}

// pageFlags repeats the flags of q, but the cursor, for the next page's command line.
func pageFlags(q faaspot.ExecutionQuery) string {
	var b strings.Builder
	if q.Deployment != "" {
		fmt.Fprintf(&b, " --deployment %s", q.Deployment)
	}
	if q.Limit != 50 {
		fmt.Fprintf(&b, " --limit %d", q.Limit)
	}
	return b.String()
}

func (a *app) logsCommand() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:               "logs [-f] ID",
		Short:             "Print what a run printed: its stdout to stdout, its stderr to stderr",
		Example:           "  fas executions logs 3f6c0a...\n  fas executions logs -f 3f6c0a...",
		Args:              exactArgs(1, "ID"),
		ValidArgsFunction: a.completeExecutions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if follow {
				return a.followLogs(cmd.Context(), args[0])
			}
			e, err := a.execution(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(map[string]any{"stdout": e.Stdout, "stderr": e.Stderr,
					"stdout_truncated": e.StdoutTruncated, "stderr_truncated": e.StderrTruncated})
			}
			fmt.Fprint(a.env.Stdout, e.Stdout)
			fmt.Fprint(a.env.Stderr, e.Stderr)
			if e.StdoutTruncated || e.StderrTruncated {
				fmt.Fprintln(a.env.Stderr, "fas: the run's output was longer than the limit and was truncated")
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "print the output as the run prints it, until the run ends")
	return cmd
}

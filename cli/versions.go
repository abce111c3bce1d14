package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/client"
)

func (a *app) versionsCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "versions NAME",
		Short:             "List a deployment's versions, newest first; * marks the ready one",
		Example:           "  fas deployments versions hello\n  fas deployments versions hello -o json",
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: a.completeDeployments,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			vs, err := c.ListVersions(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(vs)
			}
			return a.printTable(versionRows(vs))
		},
	}
}

func (a *app) rollbackCommand() *cobra.Command {
	var to versionNumber
	cmd := &cobra.Command{
		Use:   "rollback NAME --to N",
		Short: "Make a kept version of a deployment the one that runs",
		Long: "Make version N of the deployment NAME the one that runs (its ready version). N must be a\n" +
			"version that `fas deployments versions NAME` lists as ready. A version created later runs\n" +
			"once it is built, as usual.",
		Example: "  fas deployments rollback hello --to 2\n" +
			"  fas deployments rollback hello --to 2 -o json",
		Args:              exactArgs(1, "NAME --to N"),
		ValidArgsFunction: a.completeDeployments,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, n := args[0], int(to)
			if n == 0 {
				return usagef("--to N is required: the number of the version to run")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			d, err := c.Rollback(cmd.Context(), name, n)
			if err != nil {
				return versionError(fmt.Sprintf("cannot roll back %s to version %d", name, n), name, err)
			}
			return a.printDeployment(d, fmt.Sprintf("deployment %s now runs version %d", d.Name, d.ReadyVersion))
		},
	}
	cmd.Flags().Var(&to, "to", "the version to run, 1 or more (required)")
	_ = cmd.RegisterFlagCompletionFunc("to", a.completeVersions)
	return cmd
}

// versionNumber is a pflag.Value of a version number: a whole number, 1 or more. Its zero value
// means the flag was not given.
type versionNumber int

func (v *versionNumber) String() string { return strconv.Itoa(int(*v)) }
func (v *versionNumber) Type() string   { return "N" }

func (v *versionNumber) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 {
		return errors.New("want a version number, 1 or more")
	}
	*v = versionNumber(n)
	return nil
}

// versionError prefixes what to a refusal of a request about one version of the deployment name
// (404, 409) and, when the version is at fault (not kept, building or failed), points at the
// versions list. Other errors are returned as they are.
func versionError(what, name string, err error) error {
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound && ae.Status != http.StatusConflict {
		return err
	}
	if ae.Status == http.StatusConflict || ae.Err.Field == "version" {
		return fmt.Errorf("%s: %w; see `fas deployments versions %s`", what, err, name)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// completeVersions completes a version number of the deployment named by the first argument,
// described by its status.
func (a *app) completeVersions(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) != 1 {
		return nil, noFiles
	}
	return a.complete(cmd, toComplete, false, func(ctx context.Context, c *client.Client) ([]candidate, error) {
		vs, err := c.ListVersions(ctx, args[0])
		out := make([]candidate, 0, len(vs))
		for _, v := range vs {
			desc := string(v.Status)
			if v.Ready {
				desc += ", running"
			}
			out = append(out, candidate{strconv.Itoa(v.Version), desc})
		}
		return out, err
	})
}

// versionRows is the table of versions: the ready one's number marked with a *, errors on their
// first line ("-" for none).
func versionRows(vs []faaspot.VersionInfo) [][]string {
	rows := [][]string{{"VERSION", "STATUS", "CREATED", "ERROR"}}
	for _, v := range vs {
		num := fmt.Sprint(v.Version)
		if v.Ready {
			num += "*"
		}
		rows = append(rows, []string{num, string(v.Status), v.CreatedAt.Format(timeLayout), firstLine(v.Error)})
	}
	return rows
}

func firstLine(s string) string {
	if s == "" {
		return "-"
	}
	for i, r := range s {
		if r == '\n' {
			return s[:i] + " …"
		}
	}
	return s
}

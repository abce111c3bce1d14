package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/faaspot/faaspot"
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

// versionRows is the table of versions: the ready one's number marked with a *, errors on their
// first line ("-" for none).
func versionRows(vs []faaspot.VersionInfo) [][]string {
	rows := [][]string{{"VERSION", "STATUS", "CREATED", "ERROR"}}
	for _, v := range vs {
		num := fmt.Sprint(v.Version)
		if v.Ready {
			num += "*"
		}
		rows = append(rows, []string{num, string(v.Status), v.CreatedAt.Format("2006-01-02 15:04:05"), firstLine(v.Error)})
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

package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/client"
)

func (a *app) deploymentsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "deployments", Aliases: []string{"deployment", "dep"}, Short: "Create, run, list, show and delete deployments"}
	cmd.AddCommand(a.createCommand(), a.runCommand(), a.listDeploymentsCommand(), a.getDeploymentCommand(), a.deleteDeploymentCommand())
	return cmd
}

func (a *app) createCommand() *cobra.Command {
	var file, reqFile, ctxFile string
	var wait bool
	cmd := &cobra.Command{
		Use:   "create NAME --file FILE [--requirements-file FILE] [--context-file FILE] [--wait]",
		Short: "Create or update a deployment from a Python file defining main(args, context)",
		Args:  exactArgs(1, "NAME --file FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usageError{errors.New("--file is required: the Python file that defines main(args, context)")}
			}
			req := faaspot.DeploymentRequest{Name: args[0]}
			var err error
			if req.Code, err = readFile(file, "--file"); err != nil {
				return err
			}
			if reqFile != "" {
				if req.Requirements, err = readFile(reqFile, "--requirements-file"); err != nil {
					return err
				}
			}
			if ctxFile != "" {
				text, err := readFile(ctxFile, "--context-file")
				if err != nil {
					return err
				}
				if req.Context, err = faaspot.ContextJSON(text); err != nil {
					return err
				}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if !wait {
				d, err := c.CreateDeployment(cmd.Context(), req, false)
				if err != nil {
					return err
				}
				return a.printDeployment(d, fmt.Sprintf("deployment %s version %d queued for build", d.Name, d.Version))
			}
			stop := a.progress(fmt.Sprintf("building %s", req.Name))
			d, err := c.CreateDeployment(cmd.Context(), req, true)
			stop(err == nil && d.Status == faaspot.StatusReady)
			if err != nil {
				return err
			}
			if d.Status != faaspot.StatusReady {
				return fmt.Errorf("deployment %s version %d is still %s; see `fas deployments get %s`", d.Name, d.Version, d.Status, d.Name)
			}
			return a.printDeployment(d, fmt.Sprintf("deployment %s version %d is ready", d.Name, d.Version))
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "path to the function's Python file")
	cmd.Flags().StringVar(&reqFile, "requirements-file", "", "path to a pip requirements file")
	cmd.Flags().StringVar(&ctxFile, "context-file", "", `path to a context file (key = "value" lines)`)
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the deployment is built")
	return cmd
}

func readFile(path, flag string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: cannot read %s: %v", flag, path, errors.Unwrap(err))
	}
	return string(b), nil
}

func (a *app) runCommand() *cobra.Command {
	var params, jsonArgs string
	var wait bool
	cmd := &cobra.Command{
		Use:   `run NAME [--parameters "k=v,k2=v2"] [--wait]`,
		Short: "Run a deployment; without --wait print only the execution id",
		Args:  exactArgs(1, `NAME [--parameters "k=v,k2=v2"] [--wait]`),
		RunE: func(cmd *cobra.Command, args []string) error {
			runArgs, err := parseParameters(params)
			if err != nil {
				return usageError{err}
			}
			if jsonArgs != "" {
				var typed map[string]any
				if err := json.Unmarshal([]byte(jsonArgs), &typed); err != nil || typed == nil {
					return usageError{errors.New("--json must be a JSON object")}
				}
				for k, v := range typed {
					runArgs[k] = v
				}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if !wait {
				id, err := c.Run(cmd.Context(), args[0], runArgs)
				if err != nil {
					return err
				}
				fmt.Fprintln(a.env.Stdout, id)
				return nil
			}
			value, _, err := c.RunSync(cmd.Context(), args[0], runArgs)
			var re *client.RunError
			if errors.As(err, &re) && re.Traceback != "" {
				fmt.Fprint(a.env.Stderr, strings.TrimRight(re.Traceback, "\n")+"\n")
			}
			if err != nil {
				return err
			}
			return a.printJSON(value)
		},
	}
	cmd.Flags().StringVar(&params, "parameters", "", `arguments as "k=v,k2=v2" (string values; "\," escapes a comma)`)
	cmd.Flags().StringVar(&jsonArgs, "json", "", `typed arguments as a JSON object, merged over --parameters`)
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the result and print it")
	return cmd
}

// parseParameters parses "k=v,k2=v2" into string arguments; "\," is a literal comma.
func parseParameters(s string) (map[string]any, error) {
	out := map[string]any{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == ',':
			cur.WriteByte(',')
			i++
		case s[i] == ',':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	parts = append(parts, cur.String())
	for _, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf(`--parameters: %q is not key=value (use "k=v,k2=v2")`, p)
		}
		out[k] = v
	}
	return out, nil
}

func (a *app) listDeploymentsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List deployments",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ds, err := c.ListDeployments(cmd.Context())
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(ds)
			}
			rows := [][]string{{"NAME", "STATUS", "VERSION", "READY VERSION", "UPDATED"}}
			for _, d := range ds {
				rows = append(rows, []string{d.Name, string(d.Status), fmt.Sprint(d.Version), fmt.Sprint(d.ReadyVersion), d.UpdatedAt.Format("2006-01-02 15:04:05")})
			}
			return a.printTable(rows)
		},
	}
}

func (a *app) getDeploymentCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show a deployment with its build log",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			d, err := c.GetDeployment(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.printDeployment(d, "")
		},
	}
}

func (a *app) deleteDeploymentCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a deployment and its images",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.DeleteDeployment(cmd.Context(), args[0]); err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(map[string]string{"deleted": args[0]})
			}
			fmt.Fprintf(a.env.Stdout, "deployment %s deleted\n", args[0])
			return nil
		},
	}
}

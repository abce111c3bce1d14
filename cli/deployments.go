package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/client"
)

func (a *app) deploymentsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "deployments",
		Aliases: []string{"deployment", "dep"},
		Short:   "Create, run, list, show, roll back and delete deployments",
		Example: "  fas deployments create hello --file hello.py --wait\n  fas deployments list",
	}
	cmd.AddCommand(a.createCommand(), a.runCommand(), a.listDeploymentsCommand(), a.getDeploymentCommand(), a.deleteDeploymentCommand(),
		a.versionsCommand(), a.rollbackCommand())
	return cmd
}

// createFlags are the flags of `fas deployments create`.
type createFlags struct {
	file, reqFile, ctxFile string
	wait                   bool
	limits                 limitFlags
	retry                  retryFlags
}

func (a *app) createCommand() *cobra.Command {
	var f createFlags
	cmd := &cobra.Command{
		Use: "create NAME --file FILE [--requirements-file FILE] [--context-file FILE] [--memory MiB] [--timeout SECONDS] [--cpus N] " +
			"[--max-attempts N [--retry-backoff DURATION]] [--callback-url URL] [--wait]",
		Short: "Create or update a deployment from a Python file defining main(args, context)",
		Long: "Create the deployment NAME, or update it to a new version, from a Python file defining\n" +
			"main(args, context). Limits not given take the server's defaults, on an update too: each\n" +
			"version carries the limits given when it was created.\n\n" +
			"With --max-attempts N, a queued run (not one with --wait) that fails or times out is run\n" +
			"again, up to N runs in all, waiting --retry-backoff before the first retry and twice as long\n" +
			"before each next one. One that fails its last attempt is listed by `fas executions\n" +
			"dead-letters`. Each version carries its own policy: an update without --max-attempts has none.\n\n" +
			"With --callback-url URL, the record of each queued run (not one with --wait) is posted to\n" +
			"URL once the run has ended, signed with the tenant's webhook secret (see `fas\n" +
			"webhook-secret`), unless the run names its own. Like the retry policy, each version carries\n" +
			"its own: an update without --callback-url has none.",
		Example: "  fas deployments create hello --file hello.py --wait\n" +
			"  fas deployments create hello --file hello.py --requirements-file requirements.txt --context-file context.txt\n" +
			"  fas deployments create resize --file resize.py --memory 512M --timeout 2m --cpus 1.5\n" +
			"  fas deployments create charge --file charge.py --max-attempts 5 --retry-backoff 30s\n" +
			"  fas deployments create report --file report.py --callback-url https://hooks.example.com/faaspot",
		Args:              exactArgs(1, "NAME --file FILE"),
		ValidArgsFunction: a.completeDeployments,
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := f.request(cmd, args[0])
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			return a.create(cmd.Context(), c, req, f.wait)
		},
	}
	cmd.Flags().StringVar(&f.file, "file", "", "path to the function's Python file")
	cmd.Flags().StringVar(&f.reqFile, "requirements-file", "", "path to a pip requirements file")
	cmd.Flags().StringVar(&f.ctxFile, "context-file", "", `path to a context file (key = "value" lines)`)
	cmd.Flags().String("callback-url", "", "post the record of each queued run, once ended, to this http(s) URL")
	cmd.Flags().BoolVar(&f.wait, "wait", false, "wait until the deployment is built")
	f.limits.register(cmd.Flags())
	f.retry.register(cmd.Flags())
	_ = cmd.MarkFlagFilename("file", "py")
	_ = cmd.MarkFlagFilename("requirements-file")
	_ = cmd.MarkFlagFilename("context-file")
	return cmd
}

// request builds the create request from the command line; flag mistakes are usage errors.
func (f *createFlags) request(cmd *cobra.Command, name string) (faaspot.DeploymentRequest, error) {
	req := faaspot.DeploymentRequest{Name: name}
	if f.file == "" {
		return req, usagef("--file is required: the Python file that defines main(args, context)")
	}
	var err error
	if req.Limits, err = f.limits.limits(cmd.Flags()); err != nil {
		return req, err
	}
	if req.Retry, err = f.retry.policy(cmd.Flags()); err != nil {
		return req, err
	}
	if req.CallbackURL, err = callbackURL(cmd.Flags()); err != nil {
		return req, err
	}
	if req.Code, err = readFile(f.file, "--file"); err != nil {
		return req, err
	}
	if f.reqFile != "" {
		if req.Requirements, err = readFile(f.reqFile, "--requirements-file"); err != nil {
			return req, err
		}
	}
	if f.ctxFile != "" {
		text, err := readFile(f.ctxFile, "--context-file")
		if err != nil {
			return req, err
		}
		if req.Context, err = faaspot.ContextJSON(text); err != nil {
			return req, fmt.Errorf("--context-file: %w", err)
		}
	}
	return req, nil
}

// create sends the request; with wait it shows progress until the build ended.
func (a *app) create(ctx context.Context, c *client.Client, req faaspot.DeploymentRequest, wait bool) error {
	if !wait {
		d, err := c.CreateDeployment(ctx, req, false)
		if err != nil {
			return err
		}
		msg := fmt.Sprintf("deployment %s version %d queued for build", d.Name, d.Version)
		if d.Status == faaspot.StatusReady && d.ReadyVersion == d.Version {
			msg = fmt.Sprintf("deployment %s unchanged: version %d is ready", d.Name, d.Version) // an identical redeploy
		}
		return a.printDeployment(d, msg)
	}
	stop := a.progress(fmt.Sprintf("building %s", req.Name))
	d, err := c.CreateDeployment(ctx, req, true)
	stop(err == nil && d.Status == faaspot.StatusReady)
	if err != nil {
		return err
	}
	if d.Status != faaspot.StatusReady {
		return fmt.Errorf("deployment %s version %d is still %s; see `fas deployments get %s`", d.Name, d.Version, d.Status, d.Name)
	}
	return a.printDeployment(d, fmt.Sprintf("deployment %s version %d is ready", d.Name, d.Version))
}

func readFile(path, flag string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("%s: cannot read %s: %w", flag, path, err)
	}
	return string(b), nil
}

func (a *app) runCommand() *cobra.Command {
	var params, jsonArgs, key string
	var wait bool
	var version versionNumber
	const usage = `NAME [--parameters "k=v,k2=v2"] [--json JSON] [--version N] [--idempotency-key K] [--callback-url URL] [--wait]`
	cmd := &cobra.Command{
		Use:   "run " + usage,
		Short: "Run a deployment; without --wait print only the execution id",
		Long: "Run the deployment NAME: its current version (the ready one), or with --version N that\n" +
			"version, which must be one that `fas deployments versions NAME` lists as ready.\n" +
			"With --idempotency-key K, a run with the same K within 24 hours (the server's default)\n" +
			"gives the same execution, its id or with --wait its result, and the function runs once:\n" +
			"a retry that cannot run it twice.\n" +
			"With --callback-url URL, the run's record is posted to URL once the run has ended, signed\n" +
			"with the tenant's webhook secret (see `fas webhook-secret`), instead of to the deployment's\n" +
			"callback URL.",
		Example: `  fas deployments run hello --parameters "name=user1" --wait
  fas deployments run hello --json '{"n": 3, "tags": ["a", "b"]}' --wait
  fas deployments run hello --version 2 --parameters "name=user1" --wait
  fas deployments run charge --json '{"order": 42}' --idempotency-key order-42 --wait
  fas deployments run report --json '{"month": "2025-03"}' --callback-url https://hooks.example.com/faaspot
  ID=$(fas deployments run hello --parameters "name=user2") && fas executions get "$ID"`,
		Args:              exactArgs(1, usage),
		ValidArgsFunction: a.completeDeployments,
		RunE: func(cmd *cobra.Command, args []string) error {
			runArgs, err := runArguments(params, jsonArgs)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("idempotency-key") && key == "" {
				return usagef("--idempotency-key must not be empty")
			}
			hook, err := callbackURL(cmd.Flags())
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			opts := client.RunOptions{Version: int(version), IdempotencyKey: key, CallbackURL: hook}
			err = a.run(cmd.Context(), c, args[0], runArgs, opts, wait)
			if version != 0 {
				err = versionError(fmt.Sprintf("cannot run %s version %d", args[0], version), args[0], err)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&params, "parameters", "", `arguments as "k=v,k2=v2" (string values; "\," escapes a comma)`)
	cmd.Flags().StringVar(&jsonArgs, "json", "", `typed arguments as a JSON object, merged over --parameters`)
	cmd.Flags().Var(&version, "version", "run this version, 1 or more (default: the current version)")
	cmd.Flags().StringVar(&key, "idempotency-key", "", "the same key gives the same execution for 24 hours; the function runs once")
	cmd.Flags().String("callback-url", "", "post the run's record, once it has ended, to this http(s) URL")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the result and print it")
	_ = cmd.RegisterFlagCompletionFunc("version", a.completeVersions)
	return cmd
}

// runArguments are the run's arguments from --parameters and --json; mistakes are usage errors.
func runArguments(params, jsonArgs string) (map[string]any, error) {
	runArgs, err := parseParameters(params)
	if err != nil {
		return nil, usageError{err}
	}
	if jsonArgs != "" {
		var typed map[string]any
		if err := json.Unmarshal([]byte(jsonArgs), &typed); err != nil || typed == nil {
			return nil, usageError{errors.New("--json must be a JSON object")}
		}
		for k, v := range typed {
			runArgs[k] = v
		}
	}
	return runArgs, nil
}

// run runs the deployment name as opts says. With wait it prints the function's value (a failed
// run's traceback goes to stderr), without it the execution id.
func (a *app) run(ctx context.Context, c *client.Client, name string, args map[string]any, opts client.RunOptions, wait bool) error {
	if !wait {
		id, err := c.RunWith(ctx, name, args, opts)
		if err != nil {
			return err
		}
		fmt.Fprintln(a.env.Stdout, id)
		return nil
	}
	value, _, err := c.RunSyncWith(ctx, name, args, opts)
	var re *client.RunError
	if errors.As(err, &re) && re.Traceback != "" {
		fmt.Fprint(a.env.Stderr, strings.TrimRight(re.Traceback, "\n")+"\n")
	}
	if err != nil {
		return err
	}
	return a.printJSON(value)
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
		Use:     "list",
		Short:   "List deployments",
		Example: "  fas deployments list\n  fas deployments list -o json",
		Args:    noArgs,
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
				rows = append(rows, []string{d.Name, string(d.Status), fmt.Sprint(d.Version), fmt.Sprint(d.ReadyVersion), d.UpdatedAt.Format(timeLayout)})
			}
			return a.printTable(rows)
		},
	}
}

func (a *app) getDeploymentCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "get NAME",
		Short:             "Show a deployment with its build log",
		Example:           "  fas deployments get hello\n  fas deployments get hello -o json",
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: a.completeDeployments,
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
		Use:               "delete NAME",
		Short:             "Delete a deployment and its images",
		Example:           "  fas deployments delete hello",
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: a.completeDeployments,
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

// Package cli is the fas command line: deployments, runs and executions through the faaspot API,
// with the commands and flags of the FaaSpot docs. Errors are one line on stderr and a non-zero
// exit status, never a stack trace.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faaspot/faaspot/client"
)

// Env is what the CLI takes from its surroundings; tests pass their own.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Home is the user's home directory (for ~/.faaspot/config.json).
	Home string
	// IsTerminal reports whether stderr is a terminal (progress is animated only there).
	IsTerminal bool
	Version    string
}

// app holds the state of one invocation.
type app struct {
	env    Env
	output string // table or json
	url    string
	token  string
	// admin is set once the command uses the admin token, so that a 401 names that token.
	admin bool
}

// Main runs fas with args (without the program name) and returns the exit status: 0 on success,
// 1 when the command ran and failed, 2 for a mistake in the command line (see usageError), which
// is found before any network use. Errors are one line on stderr, "fas: ..."; help (-h, --help,
// fas help CMD) goes to stdout and exits 0.
func Main(ctx context.Context, env Env, args []string) int {
	a := &app{env: env}
	root := a.rootCommand()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	if cmd == nil {
		cmd = root
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(env.Stderr, "fas: %s (see '%s --help')\n", oneLine(err.Error()), cmd.CommandPath())
		return exitUsage
	}
	fmt.Fprintln(env.Stderr, "fas: "+oneLine(a.explain(err)))
	return exitFail
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "fas",
		Short: "fas is the command line of faaspot, functions as a service",
		Long: "fas is the command line of faaspot, functions as a service.\n\n" +
			"It finds the server and token in --url/--token, else FAASPOT_URL/FAASPOT_TOKEN, else\n" +
			"~/.faaspot/config.json (written by fas login). Exit status: 0 success, 1 failure,\n" +
			"2 a mistake in the command line.",
		Example: "  fas login --url http://127.0.0.1:8080 --token fs_...\n" +
			"  fas deployments create hello --file hello.py --wait\n" +
			"  fas deployments run hello --parameters \"name=user1\" --wait\n" +
			"  source <(fas completion bash)",
		Version:       a.version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if a.output != "table" && a.output != "json" {
				return usagef("--output must be table or json, not %q", a.output)
			}
			return nil
		},
	}
	root.SetVersionTemplate("fas {{.Version}}\n")
	root.SetOut(a.env.Stdout) // before the completion command is added: it keeps the writer
	root.SetErr(a.env.Stderr)
	root.PersistentFlags().StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	root.PersistentFlags().StringVar(&a.url, "url", "", "server URL (default $FAASPOT_URL or ~/.faaspot/config.json)")
	root.PersistentFlags().StringVar(&a.token, "token", "", "API token (default $FAASPOT_TOKEN or ~/.faaspot/config.json)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]cobra.Completion{"table", "json"}, cobra.ShellCompDirectiveNoFileComp))
	root.SetUsageTemplate(usageTemplate(root))
	root.SetHelpCommand(helpCommand())
	root.AddCommand(a.deploymentsCommand(), a.executionsCommand(), a.tenantsCommand(), a.loginCommand(), a.versionCommand(),
		a.webhookSecretCommand(), a.usageCommand())
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	strict(root)
	return root
}

// client returns an API client for the configured server.
func (a *app) client() (*client.Client, error) {
	cfg, err := loadConfig(a.env, a.url, a.token)
	if err != nil {
		return nil, err
	}
	return client.New(cfg.URL, cfg.Token), nil
}

// adminClient returns an API client for the configured server with the operator's admin token
// (FAASPOT_ADMIN_TOKEN, else admin_token in ~/.faaspot/config.json).
func (a *app) adminClient() (*client.Client, error) {
	cfg, err := loadConfig(a.env, a.url, "")
	if err != nil {
		return nil, err
	}
	if cfg.AdminToken == "" {
		return nil, errors.New("no admin token: set FAASPOT_ADMIN_TOKEN, or run `fas login --url URL --admin-token TOKEN`")
	}
	a.admin = true
	return client.New(cfg.URL, cfg.AdminToken), nil
}

// explain turns an error into the line the user reads.
func (a *app) explain(err error) string {
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Status == 401 && a.admin {
		return "unauthorized: the admin token is wrong; set FAASPOT_ADMIN_TOKEN or admin_token in " + configPath(a.env)
	}
	if errors.As(err, &ae) && ae.Status == 401 {
		return "unauthorized: the token is missing or unknown; set FAASPOT_TOKEN or run `fas login`"
	}
	return err.Error()
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// DefaultEnv is the process's environment.
func DefaultEnv(version string, isTerminal bool) Env {
	home, _ := os.UserHomeDir()
	return Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Home: home, IsTerminal: isTerminal, Version: version}
}

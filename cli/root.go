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
}

// Main runs fas with args (without the program name) and returns the exit status.
func Main(ctx context.Context, env Env, args []string) int {
	a := &app{env: env}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(env.Stderr, "fas: "+oneLine(a.explain(err)))
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "fas",
		Short:         "fas is the command line of faaspot, functions as a service",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	root.PersistentFlags().StringVar(&a.url, "url", "", "server URL (default $FAASPOT_URL or ~/.faaspot/config.json)")
	root.PersistentFlags().StringVar(&a.token, "token", "", "API token (default $FAASPOT_TOKEN or ~/.faaspot/config.json)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(a.deploymentsCommand(), a.executionsCommand(), a.loginCommand(), a.versionCommand())
	return root
}

// client returns an API client for the configured server.
func (a *app) client() (*client.Client, error) {
	if a.output != "table" && a.output != "json" {
		return nil, usageError{fmt.Errorf("--output must be table or json, not %q", a.output)}
	}
	cfg, err := loadConfig(a.env, a.url, a.token)
	if err != nil {
		return nil, err
	}
	return client.New(cfg.URL, cfg.Token), nil
}

// usageError marks a mistake in the command line (exit status 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// explain turns an error into the line the user reads.
func (a *app) explain(err error) string {
	var ae *client.APIError
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

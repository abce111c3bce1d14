package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// config is where the server is and who we are.
type config struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

func configPath(env Env) string { return filepath.Join(env.Home, ".faaspot", "config.json") }

// loadConfig resolves the server and token: flags first, then FAASPOT_URL/FAASPOT_TOKEN, then
// ~/.faaspot/config.json.
func loadConfig(env Env, url, token string) (config, error) {
	var file config
	b, err := os.ReadFile(configPath(env))
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &file); err != nil {
			return config{}, fmt.Errorf("%s is not valid JSON: %v", configPath(env), err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return config{}, fmt.Errorf("read %s: %w", configPath(env), err)
	}
	cfg := config{URL: first(url, env.Getenv("FAASPOT_URL"), file.URL), Token: first(token, env.Getenv("FAASPOT_TOKEN"), file.Token)}
	if cfg.URL == "" {
		return config{}, errors.New("no server configured: set FAASPOT_URL and FAASPOT_TOKEN, or run `fas login --url URL --token TOKEN`")
	}
	if !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		return config{}, fmt.Errorf("server URL %q must start with http:// or https://", cfg.URL)
	}
	return cfg, nil
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func (a *app) loginCommand() *cobra.Command {
	var url, token string
	var verify bool
	cmd := &cobra.Command{
		Use:   "login --url URL --token TOKEN",
		Short: "Save the server URL and token in ~/.faaspot/config.json",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" || token == "" {
				return usageError{errors.New("login needs --url and --token")}
			}
			a.url, a.token = url, token
			if verify {
				c, err := a.client()
				if err != nil {
					return err
				}
				if _, err := c.ListDeployments(cmd.Context()); err != nil {
					return fmt.Errorf("login check failed: %w", err)
				}
			}
			path := configPath(a.env)
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return err
			}
			b, _ := json.MarshalIndent(config{URL: strings.TrimRight(url, "/"), Token: token}, "", "  ")
			if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "logged in to %s; saved to %s\n", url, path)
			return nil
		},
	}
	// These shadow the global --url/--token on purpose: here they are what gets saved.
	cmd.Flags().StringVar(&url, "url", "", "server URL")
	cmd.Flags().StringVar(&token, "token", "", "API token")
	cmd.Flags().BoolVar(&verify, "verify", true, "check the URL and token against the server first")
	return cmd
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of fas",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintln(a.env.Stdout, "fas "+a.env.Version)
			return nil
		},
	}
}

// noArgs and exactArgs are cobra argument checks whose errors are usage errors.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s takes no arguments", cmd.CommandPath())}
	}
	return nil
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("usage: %s %s", cmd.CommandPath(), what)}
		}
		return nil
	}
}

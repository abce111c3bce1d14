package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faaspot/faaspot/client"
)

// config is where the server is and who we are: the tenant's token, and the operator's admin
// token for the tenants commands. It is also the format of ~/.faaspot/config.json.
type config struct {
	URL        string `json:"url"`
	Token      string `json:"token,omitempty"`
	AdminToken string `json:"admin_token,omitempty"`
}

func configPath(env Env) string { return filepath.Join(env.Home, ".faaspot", "config.json") }

// loadConfig resolves the server and token: flags first, then FAASPOT_URL/FAASPOT_TOKEN, then
// ~/.faaspot/config.json. The admin token comes from FAASPOT_ADMIN_TOKEN, then the file's
// admin_token. It fails when no URL is found or the file is unreadable.
func loadConfig(env Env, url, token string) (config, error) {
	file, err := readConfigFile(env)
	if err != nil {
		return config{}, err
	}
	cfg := config{URL: first(url, env.Getenv("FAASPOT_URL"), file.URL), Token: first(token, env.Getenv("FAASPOT_TOKEN"), file.Token),
		AdminToken: first(env.Getenv("FAASPOT_ADMIN_TOKEN"), file.AdminToken)}
	if cfg.URL == "" {
		return config{}, errors.New("no server configured: set FAASPOT_URL and FAASPOT_TOKEN, or run `fas login --url URL --token TOKEN`")
	}
	if !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		return config{}, fmt.Errorf("server URL %q must start with http:// or https://", cfg.URL)
	}
	return cfg, nil
}

// readConfigFile reads ~/.faaspot/config.json; a missing file is an empty config.
func readConfigFile(env Env) (config, error) {
	var file config
	b, err := os.ReadFile(configPath(env))
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &file); err != nil {
			return config{}, fmt.Errorf("%s is not valid JSON: %w", configPath(env), err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return config{}, fmt.Errorf("read %s: %w", configPath(env), err)
	}
	return file, nil
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
	var given config
	var verify bool
	cmd := &cobra.Command{
		Use:   "login --url URL [--token TOKEN] [--admin-token TOKEN]",
		Short: "Save the server URL and tokens in ~/.faaspot/config.json",
		Long: "Save the server URL and the tenant's token (and, for an operator, the admin token used by\n" +
			"fas tenants) in ~/.faaspot/config.json, mode 0600, after checking them against the server.\n" +
			"A token not given is kept from the file when the URL is the same, dropped otherwise.",
		Example: "  fas login --url http://127.0.0.1:8080 --token fs_...\n" +
			"  fas login --url http://127.0.0.1:8080 --admin-token \"$(cat admin.token)\"",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if given.URL == "" || (given.Token == "" && given.AdminToken == "") {
				return usagef("login needs --url and --token (or --admin-token)")
			}
			given.URL = strings.TrimRight(given.URL, "/")
			if !strings.HasPrefix(given.URL, "http://") && !strings.HasPrefix(given.URL, "https://") {
				return usagef("--url %q must start with http:// or https://", given.URL)
			}
			if verify {
				if err := a.verifyLogin(cmd.Context(), given); err != nil {
					return err
				}
			}
			return a.saveLogin(given)
		},
	}
	// These shadow the global --url/--token on purpose: here they are what gets saved.
	cmd.Flags().StringVar(&given.URL, "url", "", "server URL")
	cmd.Flags().StringVar(&given.Token, "token", "", "the tenant's API token")
	cmd.Flags().StringVar(&given.AdminToken, "admin-token", "", "the operator's admin token (for fas tenants)")
	cmd.Flags().BoolVar(&verify, "verify", true, "check the URL and tokens against the server first")
	return cmd
}

// verifyLogin checks each token given against the server.
func (a *app) verifyLogin(ctx context.Context, given config) error {
	if given.Token != "" {
		if _, err := client.New(given.URL, given.Token).ListDeployments(ctx); err != nil {
			return fmt.Errorf("login check failed: %w", err)
		}
	}
	if given.AdminToken != "" {
		a.admin = true
		if _, err := client.New(given.URL, given.AdminToken).ListTenants(ctx); err != nil {
			return fmt.Errorf("login check of the admin token failed: %w", err)
		}
	}
	return nil
}

// saveLogin writes the config file with what was given; for the same URL, a token not given is
// kept from the file.
func (a *app) saveLogin(given config) error {
	path := configPath(a.env)
	if old, err := readConfigFile(a.env); err == nil && strings.TrimRight(old.URL, "/") == given.URL {
		given.Token = first(given.Token, old.Token)
		given.AdminToken = first(given.AdminToken, old.AdminToken)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	b, _ := json.MarshalIndent(given, "", "  ")
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(a.env.Stdout, "logged in to %s; saved to %s\n", given.URL, path)
	return nil
}

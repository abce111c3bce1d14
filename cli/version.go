package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// BuildVersion is the version a binary reports: v when the build set one (-ldflags
// "-X main.version=..."), else the module version or VCS revision Go recorded in the binary, else
// "dev".
func BuildVersion(v string) string {
	if v != "" && v != "dev" {
		return v
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if mv := info.Main.Version; mv != "" && mv != "(devel)" {
		return mv
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "dev"
	}
	return "dev-" + rev + dirty
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version of fas",
		Example: "  fas version\n  fas --version",
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			if a.output == "json" {
				return a.printJSON(map[string]string{"version": a.version()})
			}
			fmt.Fprintln(a.env.Stdout, "fas "+a.version())
			return nil
		},
	}
}

// version is the version fas reports.
func (a *app) version() string { return BuildVersion(a.env.Version) }

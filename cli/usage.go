package cli

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// Exit statuses of fas.
const (
	exitOK    = 0 // the command did what it was asked
	exitFail  = 1 // the command ran and failed: server, network, configuration, a failed run
	exitUsage = 2 // the command line is wrong; nothing was sent
)

// usageError marks a mistake in the command line (exit status 2): an unknown command or flag, a
// wrong number of arguments, a bad flag value. It is reported before any network use.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// usagef is a usageError with a formatted message.
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// noArgs and exactArgs are cobra argument checks whose errors are usage errors.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("usage: %s %s", cmd.CommandPath(), what)
		}
		return nil
	}
}

// strict makes every command of the tree under cmd report its command-line mistakes as usage
// errors: a command that only groups others fails on a missing or unknown subcommand (cobra would
// print help and succeed), and argument checks cobra installed itself (the completion commands)
// are wrapped. Call it once the tree is complete (after cobra's help and completion commands are
// added).
func strict(cmd *cobra.Command) {
	if !cmd.Runnable() && cmd.HasSubCommands() {
		cmd.Args = cobra.ArbitraryArgs
		cmd.RunE = groupRun
		cmd.DisableFlagsInUseLine = true
		cmd.SuggestionsMinimumDistance = 2
	} else if check := cmd.Args; check != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			if err := check(c, args); err != nil {
				return asUsage(err)
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		strict(sub)
	}
}

// usageTemplate is cobra's, but a command that only groups others (runnable only to report a
// missing or unknown subcommand, see strict) is not shown as a command line of its own.
func usageTemplate(cmd *cobra.Command) string {
	return strings.Replace(cmd.UsageTemplate(), "{{if .Runnable}}", "{{if and .Runnable (not .HasAvailableSubCommands)}}", 1)
}

// groupRun runs a command that only groups others, hence with a missing or unknown subcommand.
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return usagef("%s needs a command: %s", cmd.CommandPath(), strings.Join(subcommandNames(cmd), ", "))
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", quoteJoin(s, " or "))
	}
	return usageError{fmt.Errorf("%s", msg)}
}

// subcommandNames lists the commands a user may type after cmd, sorted.
func subcommandNames(cmd *cobra.Command) []string {
	var names []string
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	sort.Strings(names)
	return names
}

// quoteJoin quotes each of ss and joins them with sep.
func quoteJoin(ss []string, sep string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, sep)
}

func asUsage(err error) error {
	if _, ok := err.(usageError); ok {
		return err
	}
	return usageError{err}
}

// helpCommand replaces cobra's, which prints the root's help and succeeds on an unknown topic.
func helpCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "help [COMMAND...]",
		Short:   "Help about any command",
		Example: "  fas help deployments create",
		Args:    cobra.ArbitraryArgs,
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			target, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []cobra.Completion
			for _, name := range subcommandNames(target) {
				if strings.HasPrefix(name, toComplete) {
					out = append(out, name)
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return usagef("unknown help topic %q", strings.Join(args, " "))
			}
			target.InitDefaultHelpFlag()
			return target.Help()
		},
	}
}

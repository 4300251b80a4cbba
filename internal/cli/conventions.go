package cli

import (
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Version is the version printed by --version. release.sh sets it with
// -ldflags "-X github.com/airseal/airseal/internal/cli.Version=1.2.3";
// otherwise it comes from the module's build info.
var Version = ""

// VersionString returns the version of this build: Version when set, else
// the main module's version from the build info ("(devel)" for a plain go
// build), with the VCS revision when known.
func VersionString() string {
	if Version != "" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}

// Prepare applies the shared conventions to a command tree: errors and
// usage silenced (Main prints them), flag errors as usage errors, --version,
// the exit-code table at the end of every help text, and exit 2 with usage
// for a group run without a subcommand. Main calls it; tests that build a
// tree without Main may call it too. It is idempotent.
func Prepare(root *cobra.Command) {
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &Error{Code: ExitUsage, Err: err, Hint: "run '" + c.CommandPath() + " --help' for the flags"}
	})
	if root.Version == "" {
		root.Version = VersionString()
		root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	}
	walk(root, func(c *cobra.Command) {
		if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
			c.Args = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return &Error{Code: ExitUsage, Err: errUnknown(cmd, args[0]), Hint: "run '" + cmd.CommandPath() + " --help' for its commands"}
				}
				return nil
			}
			c.RunE = func(cmd *cobra.Command, args []string) error {
				cmd.SetOut(cmd.ErrOrStderr())
				_ = cmd.Usage()
				return &Error{Code: ExitUsage, Err: errNoSub(cmd), Hint: "run '" + cmd.CommandPath() + " --help' for its commands"}
			}
		}
		if !strings.Contains(c.UsageTemplate(), "Exit codes (the same") {
			c.SetUsageTemplate(c.UsageTemplate() + "\n" + ExitTableText())
		}
	})
}

func walk(c *cobra.Command, f func(*cobra.Command)) {
	f(c)
	for _, s := range c.Commands() {
		walk(s, f)
	}
}

type usageErr string

func (u usageErr) Error() string { return string(u) }

func errNoSub(cmd *cobra.Command) error {
	names := []string{}
	for _, s := range cmd.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
		}
	}
	return usageErr(cmd.CommandPath() + " needs a command: " + strings.Join(names, ", "))
}

func errUnknown(cmd *cobra.Command, arg string) error {
	return usageErr("unknown command " + quote(arg) + " for " + quote(cmd.CommandPath()))
}

func quote(s string) string { return "\"" + s + "\"" }

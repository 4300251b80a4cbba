package cli

import (
	"errors"
	"fmt"
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
	addGenDocs(root)
	builtinExamples(root)
	walk(root, func(c *cobra.Command) {
		wrapArgs(c)
		if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
			c.Args = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return &Error{Code: ExitUsage, Err: errUnknown(cmd, args[0]), Hint: "run '" + cmd.CommandPath() + " --help' for its commands"}
				}
				return nil
			}
			c.RunE = func(cmd *cobra.Command, args []string) error {
				// The usage goes to stderr; the command's own output
				// stays as it was (UsageString restores it).
				fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
				return &Error{Code: ExitUsage, Err: errNoSub(cmd), Hint: "run '" + cmd.CommandPath() + " --help' for its commands"}
			}
		}
		if !strings.Contains(c.UsageTemplate(), "Exit codes (the same") {
			c.SetUsageTemplate(c.UsageTemplate() + "\n" + ExitTableText())
		}
	})
}

// builtinExamples adds cobra's own "help" and "completion" commands now
// (cobra would add them at Execute) and gives them examples, so that every
// command a user can reach has one.
func builtinExamples(root *cobra.Command) {
	if !root.HasSubCommands() {
		return
	}
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	name := root.Name()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			if c.Example == "" {
				c.Example = "  " + name + " help            # this overview\n  " + name + " help COMMAND    # the help of one command"
			}
		case "completion":
			if c.Example == "" {
				c.Example = "  source <(" + name + " completion bash)\n  " + name + " completion fish > ~/.config/fish/completions/" + name + ".fish"
			}
			for _, sh := range c.Commands() {
				if sh.Example == "" {
					sh.Example = "  " + name + " completion " + sh.Name() + " > " + name + "." + sh.Name()
				}
			}
		}
	}
}

// argsWrapped marks commands whose Args Prepare has already wrapped, so
// Prepare stays idempotent.
const argsWrapped = "airseal-cli-args-wrapped"

// wrapArgs makes every argument error of c a usage error (exit 2) with a
// hint that shows the usage line, whatever produced it: cobra's own
// validators (cobra.ExactArgs, MinimumNArgs, OnlyValidArgs, ...) return
// bare errors that would otherwise exit 1 with cobra's text alone.
func wrapArgs(c *cobra.Command) {
	if c.Args == nil || c.Annotations[argsWrapped] != "" {
		return
	}
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[argsWrapped] = "1"
	inner := c.Args
	c.Args = func(cmd *cobra.Command, args []string) error {
		err := inner(cmd, args)
		if err == nil {
			return nil
		}
		var e *Error
		if errors.As(err, &e) {
			return err
		}
		return &Error{Code: ExitUsage, Err: err, Hint: argsHint(cmd)}
	}
}

// argsHint is the hint for a wrong argument: the usage line and where the
// full help is.
func argsHint(cmd *cobra.Command) string {
	return "usage: " + cmd.UseLine() + "\nrun '" + cmd.CommandPath() + " --help' for the arguments and examples"
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

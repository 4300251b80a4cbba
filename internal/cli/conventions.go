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
	})
	exitTableInUsage(root)
	versionFlag(root)
}

// Neither the exit-code table nor --version uses cobra's templates: a
// command that sets a template (SetUsageTemplate, SetVersionTemplate,
// SetHelpTemplate) links text/template's executor, whose use of
// reflect.Value.MethodByName makes the linker keep every exported method
// of every type in the binary. That made verify 1.5 MB larger and its
// every start about 0.3 ms slower (issue 9, Measures);
// TestNoTemplateExecutor in cmd/verify keeps it out.

// usageWithTable marks a root whose usage function already ends with the
// exit-code table, so that Prepare stays idempotent.
const usageWithTable = "airseal-cli-usage-exit-table"

// exitTableInUsage ends the usage of every command of root (cobra's own
// usage text, also the end of every --help) with the exit-code table.
func exitTableInUsage(root *cobra.Command) {
	if root.Annotations[usageWithTable] != "" {
		return
	}
	if root.Annotations == nil {
		root.Annotations = map[string]string{}
	}
	root.Annotations[usageWithTable] = "1"
	usage := root.UsageFunc()
	root.SetUsageFunc(func(c *cobra.Command) error {
		if err := usage(c); err != nil {
			return err
		}
		_, err := fmt.Fprint(c.OutOrStderr(), "\n"+ExitTableText())
		return err
	})
}

// versionFlag gives root --version (and -v when free), printing "NAME
// VERSION" (VersionString) before the arguments are checked, as cobra's own
// version flag does. A root that sets its own Version keeps cobra's flag.
func versionFlag(root *cobra.Command) {
	if root.Version != "" || root.Flags().Lookup("version") != nil || (root.Run == nil && root.RunE == nil) {
		if root.Version == "" && root.Flags().Lookup("version") == nil {
			root.Version = VersionString() // not runnable: cobra handles the flag
		}
		return
	}
	usage := "version for " + root.Name()
	if root.Flags().ShorthandLookup("v") == nil {
		root.Flags().BoolP("version", "v", false, usage)
	} else {
		root.Flags().Bool("version", false, usage)
	}
	_ = root.Flags().SetAnnotation("version", cobra.FlagSetByCobraAnnotation, []string{"true"})
	asked := func(c *cobra.Command) bool {
		v, err := c.Flags().GetBool("version")
		return err == nil && v
	}
	args := root.Args
	root.Args = func(c *cobra.Command, a []string) error {
		if asked(c) || args == nil {
			return nil
		}
		return args(c, a)
	}
	run, runE := root.Run, root.RunE
	root.Run = nil
	root.RunE = func(c *cobra.Command, a []string) error {
		if asked(c) {
			_, err := fmt.Fprintf(c.OutOrStdout(), "%s %s\n", c.Name(), VersionString())
			return err
		}
		if runE != nil {
			return runE(c, a)
		}
		run(c, a)
		return nil
	}
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

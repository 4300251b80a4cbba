// Package clitest checks the conventions every airseal binary shares
// (issue 13 item 12, issue 9 item 6) by walking its whole cobra tree: each
// command has a one-line description, a longer one and an example of its
// own program; every flag that takes a value names what it takes; a group
// without a subcommand, an unknown subcommand and wrong arguments exit 2
// with usage or a hint; and --help ends with the one exit-code table. Each
// binary calls [CheckHelp] from its TestHelp.
package clitest

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/airseal/airseal/internal/cli"
)

// CheckHelp reports, as test errors, every command of root that breaks the
// help conventions:
//
//   - Short, Long and Example are all set;
//   - every flag that takes a value has a placeholder: a backquoted word in
//     its usage (`--key NAME.key`, `-o FILE`), not pflag's bare type name;
//   - every line of Example that runs a command names the program (no
//     example copied from another tool);
//   - no example gives --expires or --updates-until a date in the past
//     (an example that fails as soon as it is copied);
//   - the text printed by "CMD --help" ends with cli.ExitTableText();
//   - a command group (a command with subcommands and nothing to run of
//     its own) run without a subcommand exits 2 and prints its usage, and
//     run with an unknown subcommand exits 2 with a hint;
//   - a command that checks its arguments, given far too many, exits 2
//     with a hint (never 1 with cobra's bare text); commands whose usage
//     line takes any number ("FILE [FILE.002 ...]") are skipped.
//
// It applies cli.Prepare to root (as cli.Main does) and runs --help on each
// command, so root must be a fresh tree that is not used afterwards.
// Hidden and deprecated commands and flags are skipped.
func CheckHelp(t testing.TB, root *cobra.Command) {
	t.Helper()
	// Groups are told apart before Prepare gives them their usage RunE.
	groups := map[*cobra.Command]bool{}
	checksArgs := map[*cobra.Command]bool{}
	var find func(c *cobra.Command)
	find = func(c *cobra.Command) {
		if c.HasSubCommands() && !c.Runnable() {
			groups[c] = true
		} else if c.Args != nil && !strings.Contains(c.Use, "...]") {
			// A command whose usage line ends in "...]" takes any
			// number of arguments (bundle verify FILE [FILE.002 ...]).
			checksArgs[c] = true
		}
		for _, s := range c.Commands() {
			find(s)
		}
	}
	find(root)
	cli.Prepare(root)
	var visit func(c *cobra.Command)
	visit = func(c *cobra.Command) {
		if c.Hidden || c.Deprecated != "" {
			return
		}
		path := c.CommandPath()
		for _, f := range []struct{ name, val string }{{"Short", c.Short}, {"Long", c.Long}, {"Example", c.Example}} {
			if strings.TrimSpace(f.val) == "" {
				t.Errorf("%s: %s is empty (every command needs a description and an example)", path, f.name)
			}
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Deprecated != "" || f.NoOptDefVal != "" {
				return // hidden, or a flag that takes no value (bool, count)
			}
			if !strings.Contains(f.Usage, "`") {
				name, _ := pflag.UnquoteUsage(f)
				t.Errorf("%s --%s: no placeholder, the help shows %q; name what it takes in backquotes (e.g. \"read the key from `NAME.key`\")", path, f.Name, "--"+f.Name+" "+name)
			}
		})
		continued := false // the line before ended in a backslash
		for _, l := range strings.Split(c.Example, "\n") {
			l = strings.TrimSpace(l)
			if l != "" && !continued && !strings.HasPrefix(l, "#") && !strings.Contains(l, root.Name()) {
				t.Errorf("%s: example line %q does not run %s", path, l, root.Name())
			}
			continued = strings.HasSuffix(l, "\\")
		}
		today := time.Now().UTC().Format(time.DateOnly)
		for _, m := range pastDate.FindAllStringSubmatch(c.Example, -1) {
			if m[2] < today {
				t.Errorf("%s: example gives --%s %s, a date in the past (today is %s); use one years ahead", path, m[1], m[2], today)
			}
		}
		if groups[c] {
			checkGroup(t, root, c)
		}
		if checksArgs[c] {
			args := strings.Fields(path)[1:]
			for i := 0; i < 20; i++ {
				args = append(args, "no-such-argument")
			}
			if code, out := runMain(root, args); code != cli.ExitUsage || !strings.Contains(out, ": hint: ") {
				t.Errorf("%s with 20 extra arguments: exit %d, want %d and a hint; it printed:\n%s", path, code, cli.ExitUsage, tail(out, 5))
			}
		}
		if out := help(root, c); !strings.HasSuffix(strings.TrimRight(out, "\n")+"\n", cli.ExitTableText()) {
			t.Errorf("%s --help does not end with the exit-code table; it ends:\n%s", path, tail(out, 5))
		}
		for _, s := range c.Commands() {
			visit(s)
		}
	}
	visit(root)
}

// pastDate finds the dates examples give to flags that must lie ahead.
var pastDate = regexp.MustCompile(`--(expires|updates-until|not-after)[ =]"?(\d{4}-\d{2}-\d{2})`)

// checkGroup runs group c without a subcommand and with an unknown one.
func checkGroup(t testing.TB, root, c *cobra.Command) {
	t.Helper()
	path := c.CommandPath()
	code, out := runMain(root, strings.Fields(path)[1:])
	if code != cli.ExitUsage || !strings.Contains(out, "Usage:") {
		t.Errorf("%s without a subcommand: exit %d, want %d and its usage; it printed:\n%s", path, code, cli.ExitUsage, tail(out, 5))
	}
	code, out = runMain(root, append(strings.Fields(path)[1:], "no-such-command"))
	if code != cli.ExitUsage || !strings.Contains(out, ": hint: ") {
		t.Errorf("%s no-such-command: exit %d, want %d and a hint; it printed:\n%s", path, code, cli.ExitUsage, tail(out, 5))
	}
}

// runMain runs root with args through cli.Main and returns the exit code
// and everything printed.
func runMain(root *cobra.Command, args []string) (int, string) {
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	code := cli.Main(root)
	return code, out.String()
}

// help runs "c --help" through root and returns what it printed.
func help(root, c *cobra.Command) string {
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	args := strings.Fields(c.CommandPath())[1:]
	root.SetArgs(append(args, "--help"))
	_ = root.Execute()
	return out.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

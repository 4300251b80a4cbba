// Package clitest checks the help conventions every airseal binary shares
// (issue 13 item 12): each command has a one-line description, a longer
// one and an example; every flag that takes a value names what it takes;
// and --help ends with the one exit-code table.
package clitest

import (
	"bytes"
	"strings"
	"testing"

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
//   - the text printed by "CMD --help" ends with cli.ExitTableText().
//
// It applies cli.Prepare to root (as cli.Main does) and runs --help on each
// command, so root must be a fresh tree that is not used afterwards.
// Hidden and deprecated commands and flags are skipped.
func CheckHelp(t testing.TB, root *cobra.Command) {
	t.Helper()
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
		if out := help(root, c); !strings.HasSuffix(strings.TrimRight(out, "\n")+"\n", cli.ExitTableText()) {
			t.Errorf("%s --help does not end with the exit-code table; it ends:\n%s", path, tail(out, 5))
		}
		for _, s := range c.Commands() {
			visit(s)
		}
	}
	visit(root)
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

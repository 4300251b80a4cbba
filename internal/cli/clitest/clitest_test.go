package clitest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// recorder is a testing.TB that records errors instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(f string, a ...any) { r.errs = append(r.errs, fmt.Sprintf(f, a...)) }

func tree(example string, usage string) *cobra.Command {
	root := &cobra.Command{Use: "tool", Short: "a tool", Long: "tool does things.", Example: "  tool sub"}
	sub := &cobra.Command{Use: "sub", Short: "a sub", Long: "sub does one thing.", Example: example, RunE: func(*cobra.Command, []string) error { return nil }}
	sub.Flags().String("key", "", usage)
	sub.Flags().Bool("json", false, "print JSON")
	root.AddCommand(sub)
	return root
}

func TestCheckHelpPasses(t *testing.T) {
	r := &recorder{TB: t}
	CheckHelp(r, tree("  tool sub --key a.key", "private key `NAME.key`"))
	if len(r.errs) != 0 {
		t.Fatalf("a conforming tree was refused: %q", r.errs)
	}
}

func TestCheckHelpFindsProblems(t *testing.T) {
	r := &recorder{TB: t}
	CheckHelp(r, tree("", "private key file"))
	got := strings.Join(r.errs, "\n")
	for _, want := range []string{"tool sub: Example is empty", "tool sub --key: no placeholder, the help shows \"--key string\""} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if len(r.errs) != 2 {
		t.Errorf("want 2 problems, got %d:\n%s", len(r.errs), got)
	}

	// A command whose help template was replaced loses the exit table.
	r = &recorder{TB: t}
	root := tree("  tool sub", "`FILE`")
	root.Commands()[0].SetHelpFunc(func(c *cobra.Command, _ []string) { fmt.Fprintln(c.OutOrStdout(), "custom help") })
	CheckHelp(r, root)
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "tool sub --help does not end with the exit-code table") {
		t.Fatalf("replaced help: %q", r.errs)
	}
}

// An example copied from another tool, and a group whose usage is lost,
// are reported.
func TestCheckHelpExamplesAndGroups(t *testing.T) {
	r := &recorder{TB: t}
	root := tree("  tool sub --key a.key \\\n      --json\n  other sub", "`FILE`")
	CheckHelp(r, root)
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], `tool sub: example line "other sub" does not run tool`) {
		t.Fatalf("foreign example: %q", r.errs)
	}

	r = &recorder{TB: t}
	root = tree("  tool sub", "`FILE`")
	root.SetUsageFunc(func(*cobra.Command) error { return nil })
	CheckHelp(r, root)
	// (The usage function also prints the help, so the exit table goes too.)
	if len(r.errs) == 0 || !strings.Contains(r.errs[0], "tool without a subcommand: exit 2, want 2 and its usage") {
		t.Fatalf("group without usage: %q", r.errs)
	}
}

// An example whose license would already have expired is reported.
func TestCheckHelpPastDates(t *testing.T) {
	r := &recorder{TB: t}
	CheckHelp(r, tree("  tool sub --key a.key --expires 2020-06-30\n  tool sub --key a.key --updates-until 2999-01-31", "`FILE`"))
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "tool sub: example gives --expires 2020-06-30, a date in the past") {
		t.Fatalf("past date: %q", r.errs)
	}
}

// A command whose argument check exits 1 with bare text is reported.
func TestCheckHelpArgErrors(t *testing.T) {
	r := &recorder{TB: t}
	root := tree("  tool sub", "`FILE`")
	root.Commands()[0].Args = func(*cobra.Command, []string) error { return nil }
	root.Commands()[0].RunE = func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("too many")
		}
		return nil
	}
	CheckHelp(r, root)
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "tool sub with 20 extra arguments: exit 1, want 2 and a hint") {
		t.Fatalf("bare argument error: %q", r.errs)
	}
}

package cli

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func run(t *testing.T, args []string, runE func(*cobra.Command, []string) error) (int, string) {
	t.Helper()
	root := &cobra.Command{Use: "tool", Args: ExactArgs(1), RunE: runE}
	root.Flags().Int("n", 0, "a number")
	var stderr bytes.Buffer
	root.SetErr(&stderr)
	root.SetOut(&bytes.Buffer{})
	root.SetArgs(args)
	return Main(root), stderr.String()
}

func TestExitCodes(t *testing.T) {
	ok := func(*cobra.Command, []string) error { return nil }
	if code, _ := run(t, []string{"x"}, ok); code != ExitOK {
		t.Fatalf("ok: %d", code)
	}
	if code, msg := run(t, []string{}, ok); code != ExitUsage || !strings.Contains(msg, "tool: error: tool takes 1 argument") {
		t.Fatalf("missing arg: %d %q", code, msg)
	}
	if code, msg := run(t, []string{"--n=x", "a"}, ok); code != ExitUsage || !strings.Contains(msg, "tool: hint:") {
		t.Fatalf("bad flag: %d %q", code, msg)
	}
	fail := func(*cobra.Command, []string) error {
		return Fail(13, errors.New("license expired"), "ask the vendor for a renewal\nthen run verify again")
	}
	code, msg := run(t, []string{"x"}, fail)
	want := "tool: error: license expired\ntool: hint: ask the vendor for a renewal\ntool: hint: then run verify again\n"
	if code != 13 || msg != want {
		t.Fatalf("fail: %d %q", code, msg)
	}
	if code, msg := run(t, []string{"x"}, func(*cobra.Command, []string) error { return errors.New("disk on fire") }); code != ExitError || msg != "tool: error: disk on fire\n" {
		t.Fatalf("plain error: %d %q", code, msg)
	}
}

func TestJSON(t *testing.T) {
	var b bytes.Buffer
	if err := JSON(&b, map[string]string{"a": "<b>"}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "{\n  \"a\": \"<b>\"\n}\n" {
		t.Fatalf("got %q", b.String())
	}
}

func TestJSONFailureAndGroups(t *testing.T) {
	root := &cobra.Command{Use: "tool"}
	sub := &cobra.Command{Use: "check", RunE: func(*cobra.Command, []string) error {
		return Fail(ExitExpired, errors.New("license expired"), "renew it")
	}}
	sub.Flags().Bool("json", false, "")
	root.AddCommand(sub)
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs([]string{"check", "--json"})
	if code := Main(root); code != ExitExpired {
		t.Fatalf("code %d", code)
	}
	want := "{\n  \"status\": \"expired\",\n  \"exit_code\": 13,\n  \"error\": \"license expired\",\n  \"hint\": \"renew it\"\n}\n"
	if stdout.String() != want {
		t.Fatalf("json failure: %q", stdout.String())
	}
	stdout.Reset()
	stderr.Reset()
	root.SetArgs([]string{})
	if code := Main(root); code != ExitUsage || !strings.Contains(stderr.String(), "needs a command: check") {
		t.Fatalf("group without subcommand: %d %q", code, stderr.String())
	}
	stderr.Reset()
	root.SetArgs([]string{"--help"})
	if code := Main(root); code != 0 || !strings.Contains(stdout.String()+stderr.String(), "Exit codes (the same in every airseal tool)") {
		t.Fatalf("help lacks the exit table: %q", stdout.String())
	}
}

func TestClassify(t *testing.T) {
	sentinel := errors.New("expired")
	rules := []Rule{{Err: sentinel, Code: ExitExpired, Hint: "renew"}}
	var e *Error
	if !errors.As(Classify(fmt.Errorf("wrapped: %w", sentinel), rules), &e) || e.Code != ExitExpired || e.Hint != "renew" {
		t.Fatalf("classify: %+v", e)
	}
	if !errors.As(Classify(errors.New("other"), rules), &e) || e.Code != ExitError {
		t.Fatalf("unmatched: %+v", e)
	}
	if Classify(nil, rules) != nil {
		t.Fatal("nil")
	}
	seen := map[int]bool{}
	for _, c := range ExitCodes {
		if seen[c.Code] {
			t.Fatalf("exit code %d listed twice", c.Code)
		}
		seen[c.Code] = true
	}
}

// cobra's own argument validators return bare errors; Main turns every one
// of them into exit 2 with the usage line as a hint (issue 13 item 12).
func TestCobraArgErrorsAreUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args cobra.PositionalArgs
		give []string
	}{
		{"exact", cobra.ExactArgs(1), nil},
		{"minimum", cobra.MinimumNArgs(2), []string{"a"}},
		{"maximum", cobra.MaximumNArgs(1), []string{"a", "b"}},
		{"range", cobra.RangeArgs(1, 2), nil},
		{"valid", cobra.OnlyValidArgs, []string{"nope"}},
		{"custom", func(*cobra.Command, []string) error { return errors.New("SERIAL looks wrong") }, []string{"x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := &cobra.Command{Use: "tool"}
			sub := &cobra.Command{Use: "sub SERIAL", Args: tc.args, ValidArgs: []string{"yes"}, RunE: func(*cobra.Command, []string) error { return nil }}
			root.AddCommand(sub)
			var stderr bytes.Buffer
			root.SetErr(&stderr)
			root.SetOut(&bytes.Buffer{})
			root.SetArgs(append([]string{"sub"}, tc.give...))
			code := Main(root)
			if code != ExitUsage || !strings.Contains(stderr.String(), "tool: hint: usage: tool sub SERIAL [flags]\n") ||
				!strings.Contains(stderr.String(), "tool: hint: run 'tool sub --help' for the arguments and examples") {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
			}
			// Prepare is idempotent: a second Main wraps nothing twice.
			stderr.Reset()
			if code := Main(root); code != ExitUsage || strings.Count(stderr.String(), "hint: usage:") != 1 {
				t.Fatalf("second run: exit %d\n%s", code, stderr.String())
			}
		})
	}
}

// Version, set by release.sh with -ldflags -X, is what --version prints.
func TestVersionOverride(t *testing.T) {
	old := Version
	t.Cleanup(func() { Version = old })
	Version = "9.9.9"
	root := &cobra.Command{Use: "tool", RunE: func(*cobra.Command, []string) error { return nil }}
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"--version"})
	if code := Main(root); code != 0 || out.String() != "tool 9.9.9\n" {
		t.Fatalf("--version: %d %q", code, out.String())
	}
}

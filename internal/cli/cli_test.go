package cli

import (
	"bytes"
	"errors"
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

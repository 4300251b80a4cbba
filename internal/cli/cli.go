// Package cli holds what every airseal command shares: exit codes, error and
// hint printing in one style, usage errors, and JSON output.
//
// Messages go to stderr as "NAME: error: what went wrong" followed by
// "NAME: hint: what to do"; stdout carries only data.
package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Error is an error with the exit code it maps to and a hint for the user.
type Error struct {
	Code int
	Err  error
	Hint string
	// Reported is true when the command has already printed its own --json
	// result for this failure, so Main prints only the stderr lines.
	Reported bool
}

// Reported marks err as already reported in the command's own --json
// output, with exit code code.
func Reported(code int, err error, hint string) error {
	return &Error{Code: code, Err: err, Hint: hint, Reported: true}
}

// Error returns the message of the wrapped error.
func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// Fail returns an error that exits with code and prints hint.
func Fail(code int, err error, hint string) error {
	return &Error{Code: code, Err: err, Hint: hint}
}

// Usage returns a usage error (exit code 2).
func Usage(format string, args ...any) error {
	return &Error{Code: ExitUsage, Err: fmt.Errorf(format, args...), Hint: "see --help"}
}

// ExactArgs is cobra.ExactArgs reporting a usage error.
func ExactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return Usage("%s takes %d argument(s), got %d", cmd.CommandPath(), n, len(args))
		}
		return nil
	}
}

// RangeArgs is cobra.RangeArgs reporting a usage error.
func RangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return Usage("%s takes %d to %d arguments, got %d", cmd.CommandPath(), lo, hi, len(args))
		}
		return nil
	}
}

// NoArgs is cobra.NoArgs reporting a usage error.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) != 0 {
		return Usage("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

// Main runs root with os.Args and returns the exit code. It prints errors
// and hints to root's error stream (stderr unless set). When the command
// that failed has a --json flag that is set, it also prints one JSON object
// on stdout: {"status", "exit_code", "error", "hint"} (unless the command
// reported the failure in its own JSON, see [Reported]).
//
// Main also gives every binary the shared conventions: --version from the
// build info, the exit-code table at the end of every --help, and exit 2
// with usage for a command group run without a subcommand.
func Main(root *cobra.Command) int {
	Prepare(root)
	cmd, err := root.ExecuteC()
	if err == nil {
		return ExitOK
	}
	name := root.Name()
	stderr := root.ErrOrStderr()
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: ExitError, Err: err}
		// cobra's own argument and command errors are usage errors.
		msg := err.Error()
		if strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "unknown flag") ||
			strings.HasPrefix(msg, "unknown shorthand flag") ||
			strings.HasPrefix(msg, "required flag") || strings.Contains(msg, "accepts ") ||
			strings.HasPrefix(msg, "if any flags in the group") || strings.HasPrefix(msg, "invalid argument") {
			e.Code = ExitUsage
			e.Hint = "run '" + name + " --help' for usage"
		}
	}
	if cmd != nil && !e.Reported && jsonRequested(cmd) {
		_ = JSON(cmd.OutOrStdout(), Failure{
			Status:   StatusOf(e.Code),
			ExitCode: e.Code,
			Error:    e.Err.Error(),
			Hint:     e.Hint,
		})
	}
	fmt.Fprintf(stderr, "%s: error: %s\n", name, e.Err)
	if e.Hint != "" {
		for _, l := range strings.Split(e.Hint, "\n") {
			fmt.Fprintf(stderr, "%s: hint: %s\n", name, l)
		}
	}
	return e.Code
}

// Failure is the JSON object every command prints on stdout when it fails
// with --json set.
type Failure struct {
	Status   string `json:"status"`
	ExitCode int    `json:"exit_code"`
	Error    string `json:"error"`
	Hint     string `json:"hint,omitempty"`
}

func jsonRequested(cmd *cobra.Command) bool {
	f := cmd.Flags().Lookup("json")
	return f != nil && f.Value.Type() == "bool" && f.Value.String() == "true"
}

// Run is Main followed by os.Exit, for main functions.
func Run(root *cobra.Command) { os.Exit(Main(root)) }

// JSON writes v to w as indented JSON followed by a newline.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

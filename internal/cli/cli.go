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

// Exit codes shared by every airseal command. Command-specific codes start at 3.
const (
	ExitOK    = 0 // success
	ExitError = 1 // an error: I/O, unreadable input, anything not listed
	ExitUsage = 2 // bad flags or arguments
)

// Error is an error with the exit code it maps to and a hint for the user.
type Error struct {
	Code int
	Err  error
	Hint string
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
// and hints to root's error stream (stderr unless set).
func Main(root *cobra.Command) int {
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &Error{Code: ExitUsage, Err: err, Hint: "run '" + c.CommandPath() + " --help' for the flags"}
	})
	err := root.Execute()
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
			strings.HasPrefix(msg, "required flag") || strings.Contains(msg, "accepts ") ||
			strings.HasPrefix(msg, "if any flags in the group") {
			e.Code = ExitUsage
			e.Hint = "run '" + name + " --help' for usage"
		}
	}
	fmt.Fprintf(stderr, "%s: error: %s\n", name, e.Err)
	if e.Hint != "" {
		for _, l := range strings.Split(e.Hint, "\n") {
			fmt.Fprintf(stderr, "%s: hint: %s\n", name, l)
		}
	}
	return e.Code
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

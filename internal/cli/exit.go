package cli

import (
	"errors"
	"fmt"
	"strings"
)

// The one exit-code table of every airseal binary (hwid, issue, verify,
// bundle, token, license-server, seat) and of update.sh and install.sh.
// The same number means the same thing in every tool. Numbers are stable:
// a code is never reused for another meaning.
const (
	// ExitOK: success.
	ExitOK = 0
	// ExitError: an error not listed below (I/O, unreadable input, wrong
	// passphrase, an output file that already exists).
	ExitError = 1
	// ExitUsage: bad flags or arguments.
	ExitUsage = 2
	// ExitMalformed: the input is not a valid license, request, token,
	// bundle or list, or its signature does not verify (edited or damaged).
	ExitMalformed = 10
	// ExitUntrustedKey: signed by a key this program does not trust
	// (unknown, retired or revoked).
	ExitUntrustedKey = 11
	// ExitWrongMachine: the license is bound to another machine.
	ExitWrongMachine = 12
	// ExitExpired: expired or not yet valid.
	ExitExpired = 13
	// ExitRevoked: on a signed revocation list.
	ExitRevoked = 14
	// ExitClockRollback: the clock is earlier than a time already seen.
	ExitClockRollback = 15
	// ExitVirtual: a virtual machine or container that is not allowed.
	ExitVirtual = 16
	// ExitUpdatesExpired: this release came out after the license's update
	// subscription ended (the product runs in demo mode).
	ExitUpdatesExpired = 17
	// ExitWrongProduct: the license, bundle or token is for another product.
	ExitWrongProduct = 18
	// ExitWrongAudience: a token for another audience or issuer.
	ExitWrongAudience = 19
	// ExitDamaged: content does not match its signed hash or checksum
	// (truncated download, bad sector).
	ExitDamaged = 20
	// ExitUnsafe: unsafe content (path traversal, absolute path, escaping
	// link, device, setuid, decompression bomb).
	ExitUnsafe = 21
	// ExitIncomplete: a bundle volume is missing, duplicated or belongs to
	// another bundle.
	ExitIncomplete = 22
	// ExitVersionRefused: not newer than the installed release, or not an
	// allowed from-version.
	ExitVersionRefused = 23
	// ExitHookFailed: an install hook failed.
	ExitHookFailed = 24
	// ExitNotInstalled: nothing installed, or nothing to roll back to.
	ExitNotInstalled = 25
	// ExitNoSpace: not enough free space.
	ExitNoSpace = 26
	// ExitBusy: another process holds the lock.
	ExitBusy = 27
	// ExitNoSeat: the seat server has no free seat (demo mode applies).
	ExitNoSeat = 28
	// ExitUnreachable: no seat server could be reached.
	ExitUnreachable = 29
	// ExitUntrustedServer: the seat server's license or response signature
	// does not verify with the vendor's keys (a fake or altered server).
	ExitUntrustedServer = 30
	// ExitNotApproved: the device is pending or denied by the administrator.
	ExitNotApproved = 31
)

// ExitCode is one row of the exit-code table.
type ExitCode struct {
	Code    int
	Status  string // short machine word, the "status" of --json failures
	Meaning string
}

// ExitCodes is the exit-code table, in order. README's table and every
// binary's --help are made from it (a test checks the README).
var ExitCodes = []ExitCode{
	{ExitOK, "ok", "success"},
	{ExitError, "error", "error not listed below: I/O, unreadable input, wrong passphrase, output exists"},
	{ExitUsage, "usage", "bad flags or arguments"},
	{ExitMalformed, "malformed", "not a valid license, request, token, bundle or list, or its signature does not verify"},
	{ExitUntrustedKey, "untrusted_key", "signed by a key this program does not trust (unknown, retired or revoked)"},
	{ExitWrongMachine, "wrong_machine", "the license is bound to another machine"},
	{ExitExpired, "expired", "expired or not yet valid"},
	{ExitRevoked, "revoked", "revoked by a signed revocation list"},
	{ExitClockRollback, "clock_rollback", "the clock is earlier than a time already seen"},
	{ExitVirtual, "virtual_machine", "a virtual machine or container that is not allowed"},
	{ExitUpdatesExpired, "updates_expired", "released after the update subscription ended (demo mode)"},
	{ExitWrongProduct, "wrong_product", "for another product"},
	{ExitWrongAudience, "wrong_audience", "token for another audience or issuer"},
	{ExitDamaged, "damaged", "content does not match its signed hash or checksum"},
	{ExitUnsafe, "unsafe", "unsafe content: path traversal, device, setuid, link escape, bomb"},
	{ExitIncomplete, "incomplete", "a bundle volume is missing, duplicated or from another bundle"},
	{ExitVersionRefused, "version_refused", "not newer than installed, or not an allowed from-version"},
	{ExitHookFailed, "hook_failed", "an install hook failed"},
	{ExitNotInstalled, "not_installed", "nothing installed, or nothing to roll back to"},
	{ExitNoSpace, "no_space", "not enough free space"},
	{ExitBusy, "busy", "another process holds the lock"},
	{ExitNoSeat, "no_seat", "no free seat on the license server (demo mode applies)"},
	{ExitUnreachable, "unreachable", "no license server could be reached"},
	{ExitUntrustedServer, "untrusted_server", "the license server's license or response signature does not verify"},
	{ExitNotApproved, "not_approved", "the device is pending or denied by the administrator"},
}

// StatusOf returns the short status word of an exit code ("error" for an
// unknown code).
func StatusOf(code int) string {
	for _, c := range ExitCodes {
		if c.Code == code {
			return c.Status
		}
	}
	return "error"
}

// ExitTableText is the exit-code table as plain text, for --help.
func ExitTableText() string {
	var b strings.Builder
	b.WriteString("Exit codes (the same in every airseal tool):\n")
	for _, c := range ExitCodes {
		fmt.Fprintf(&b, "  %3d  %s\n", c.Code, c.Meaning)
	}
	return b.String()
}

// ExitTableMarkdown is the exit-code table as a Markdown table, for README.
func ExitTableMarkdown() string {
	var b strings.Builder
	b.WriteString("| code | status | meaning |\n|---|---|---|\n")
	for _, c := range ExitCodes {
		fmt.Fprintf(&b, "| %d | `%s` | %s |\n", c.Code, c.Status, c.Meaning)
	}
	return b.String()
}

// Rule maps a library error to an exit code and a hint. A CLI keeps its
// rules in one table; the mapping lives only in the CLI layer.
type Rule struct {
	Err  error  // matched with errors.Is
	Code int    // exit code
	Hint string // optional hint; "" keeps the hint of an *Error already present
}

// Classify returns err as an *Error whose code comes from the first rule
// that matches it. An err that is already an *Error is returned as it is;
// one that matches no rule gets ExitError. Nil stays nil.
func Classify(err error, rules []Rule) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	for _, r := range rules {
		if errors.Is(err, r.Err) {
			return &Error{Code: r.Code, Err: err, Hint: r.Hint}
		}
	}
	return &Error{Code: ExitError, Err: err}
}

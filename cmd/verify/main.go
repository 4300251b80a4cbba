// Command verify checks an airseal license on the customer's machine, with
// no network, and exits with a documented, stable code.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/internal/installed"
	"github.com/airseal/airseal/internal/typedcode"
	embedded "github.com/airseal/airseal/keys"
	"github.com/airseal/airseal/pkg/fingerprint"
	"github.com/airseal/airseal/pkg/hwid"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
)

func main() { os.Exit(run()) }

// run runs the command with os.Args and returns the exit code.
func run() int { return cli.Main(newRoot()) }

// factsRoot is the machine facts tree hwid reads; "" is this machine. Only
// the test binary sets it (main_test.go): the production binary has no flag
// or variable that points it at a fake tree.
var factsRoot string

// now is the clock. Only the test binary changes it.
var now = time.Now

type flags struct {
	pubs                               []string
	product, revocations, version, rel string
	statePath, installed               string
	asJSON                             bool
}

func newRoot() *cobra.Command {
	var f flags
	root := &cobra.Command{
		Use:   "verify [flags] LICENSE",
		Short: "Check a license and exit with a stable code",
		Long: `verify checks a license on this machine, with no network. LICENSE is a license
file, - for stdin, or the typed code (ASL1-...). The checks run in this order
and the first failure decides the exit code:

   0  valid
   1  error (I/O, unreadable input, damaged state file)
   2  usage
  10  malformed license or bad signature
  11  signed by a key this program does not trust
  12  bound to another machine
  13  expired, or not yet valid
  14  revoked
  15  clock set back (earlier than a time already seen)
  16  virtual machine or container not allowed by the license
  17  this version was released after the update subscription ended: demo mode
  18  license is for another product

Trusted keys are those compiled in (keys/*.pub) plus every --pub. A bound
license is checked against this machine's hardware (the same facts 'hwid'
reads). A subscription or license ending within 14 days is a warning on every
run (stderr, and "warnings" in --json).

Clock: verify refuses a clock more than an hour earlier than the newest
trusted time it knows: the license's issue time, the revocation list's time,
the installed release's date (--installed), and the newest time remembered in
the state file (--state; default /var/lib/airseal/verify.state as root,
else $XDG_STATE_HOME/airseal/verify.state). Deleting the state file only
falls back to those signed times.`,
		Example: `  verify example.lic
  verify --pub vendor.pub --product "Acme Writer" --json example.lic
  verify --product "Acme Writer" --release-date 2027-03-01 --product-version 2.4.0 example.lic
  verify --revocations revoked.list ASL1-04V0X-5HEEC-...
  cat example.lic | verify -`,
		// The argument count is checked in verify, so that --json reports
		// a usage error as JSON too.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return verify(cmd, &f, args) },
	}
	fl := root.Flags()
	fl.StringArrayVar(&f.pubs, "pub", nil, "also trust the public key file `NAME.pub` (repeatable)")
	fl.StringVar(&f.product, "product", "", "require the license to be for product `P`")
	fl.StringVar(&f.revocations, "revocations", "", "signed revocation list `FILE` from the vendor")
	fl.StringVar(&f.version, "product-version", "", "`VERSION` of the running build (shown; needs --release-date or --installed)")
	fl.StringVar(&f.rel, "release-date", "", "release date `T` of the running build: after the update subscription means demo mode (17)")
	fl.StringVar(&f.statePath, "state", "", "state `FILE` remembering the newest time seen (default: see above)")
	fl.StringVar(&f.installed, "installed", "", "product installed by 'bundle apply' in `DIR`: its signed release date is a clock floor and the build's release date")
	fl.BoolVar(&f.asJSON, "json", false, "print the result as JSON on stdout (also on failure)")
	return root
}

// result is the --json output. Field names are documented in
// README.md (section "verify") and must not change.
type result struct {
	Status         string              `json:"status"` // valid, demo, invalid, error
	ExitCode       int                 `json:"exit_code"`
	Reason         string              `json:"reason"` // short name of the failed check, "" when valid
	Error          string              `json:"error"`
	Demo           bool                `json:"demo"`
	Warnings       []string            `json:"warnings"`
	License        *license.License    `json:"license"`
	Machine        *machineResult      `json:"machine"`
	Revocations    *revocationResult   `json:"revocations"`
	Now            time.Time           `json:"now"`
	ClockFloor     *time.Time          `json:"clock_floor"`
	DaysLeft       map[string]*int     `json:"days_left"`
	ProductVersion string              `json:"product_version"`
	ReleaseDate    *time.Time          `json:"release_date"`
	Entitlements   *entitlementsResult `json:"entitlements"`

	inForce []license.Feature // the features in force, in order, for the text output
}

type machineResult struct {
	Checked        bool                `json:"checked"`
	Virtualization string              `json:"virtualization"`
	Technology     string              `json:"technology"`
	Match          *fingerprint.Result `json:"match"`
}

type revocationResult struct {
	Sequence uint64    `json:"sequence"`
	IssuedAt time.Time `json:"issued_at"`
	Serials  int       `json:"serials"`
}

type entitlementsResult struct {
	Demo     bool           `json:"demo"`
	Seats    int            `json:"seats"`
	Features map[string]any `json:"features"`
}

var reasons = []struct {
	err  error
	name string
	hint string
}{
	{license.ErrMalformed, "malformed", "the license is damaged or not a license; ask the vendor for a new copy"},
	{license.ErrBadSignature, "bad_signature", "the license was changed after it was signed; ask the vendor for a new copy"},
	{license.ErrUnknownKey, "unknown_key", "the vendor's public key is not trusted here; pass it with --pub NAME.pub or use a build that embeds it"},
	{license.ErrWrongMachine, "wrong_machine", "this machine's hardware differs from the one the license was issued for; run 'hwid request' and send the request to the vendor"},
	{license.ErrExpired, "expired", "renew the license with the vendor"},
	{license.ErrNotYetValid, "not_yet_valid", "wait until the license starts, or check the system clock"},
	{license.ErrRevoked, "revoked", "this license was revoked; contact the vendor"},
	{license.ErrClockRollback, "clock_rollback", "set the system clock to the correct time"},
	{license.ErrVirtualMachine, "virtual_machine", "run on a physical machine, or ask the vendor for a license that allows virtual machines"},
	{license.ErrUpdatesExpired, "updates_expired", "renew the update subscription, or install a version released before it ended"},
	{license.ErrWrongProduct, "wrong_product", "use the license issued for this product"},
}

// source names the LICENSE argument in messages.
func source(arg string) string {
	switch {
	case arg == "-":
		return "license from stdin"
	case typedcode.IsArg(arg, license.CodePrefix):
		return "license code"
	}
	return arg
}

func readLicense(cmd *cobra.Command, arg string) ([]byte, error) {
	// A code however typed (dashes left out or moved, spaces, line
	// breaks): the one test every tool uses.
	if typedcode.IsArg(arg, license.CodePrefix) {
		return []byte(arg), nil
	}
	return readInput(cmd, arg, fileio.LimitLicense, "license")
}

// readInput reads a file-taking flag's file, or stdin for "-", bounded by
// limit. A path that is not a regular file (FIFO, device, directory,
// socket) is refused before a byte is read, without blocking on a FIFO
// (fileio.ReadRegular checks the opened file, so nothing can be swapped in
// between).
func readInput(cmd *cobra.Command, path string, limit int64, what string) ([]byte, error) {
	return fileio.ReadRegular(cmd.InOrStdin(), path, limit, what)
}

// exitCode maps a library error to verify's exit code (internal/cli table).
func exitCode(err error) int {
	if err == nil {
		return cli.ExitOK
	}
	var ce *cli.Error
	errors.As(cli.Classify(err, exitRules), &ce)
	return ce.Code
}

// exitRules is verify's error → exit code table.
var exitRules = []cli.Rule{
	{Err: license.ErrMalformed, Code: cli.ExitMalformed},
	{Err: license.ErrBadSignature, Code: cli.ExitMalformed},
	{Err: license.ErrUnknownKey, Code: cli.ExitUntrustedKey},
	{Err: license.ErrWrongMachine, Code: cli.ExitWrongMachine},
	{Err: license.ErrNoFacts, Code: cli.ExitWrongMachine},
	{Err: license.ErrExpired, Code: cli.ExitExpired},
	{Err: license.ErrNotYetValid, Code: cli.ExitExpired},
	{Err: license.ErrRevoked, Code: cli.ExitRevoked},
	{Err: license.ErrClockRollback, Code: cli.ExitClockRollback},
	{Err: license.ErrVirtualMachine, Code: cli.ExitVirtual},
	{Err: license.ErrUpdatesExpired, Code: cli.ExitUpdatesExpired},
	{Err: license.ErrWrongProduct, Code: cli.ExitWrongProduct},
}

// installedRules map the errors of reading --installed DIR.
var installedRules = []cli.Rule{
	{Err: installed.ErrNotInstalled, Code: cli.ExitNotInstalled, Hint: "give the directory 'bundle apply --target' installed into, or leave --installed out"},
	{Err: installed.ErrUnknownKey, Code: cli.ExitUntrustedKey, Hint: "pass the vendor's key with --pub NAME.pub"},
	{Err: installed.ErrBadSignature, Code: cli.ExitMalformed, Hint: "the installed release was changed after it was signed; reinstall it with 'bundle apply'"},
	{Err: installed.ErrMalformed, Code: cli.ExitMalformed, Hint: "the installed release is damaged; reinstall it with 'bundle apply'"},
	{Err: installed.ErrTooLarge, Code: cli.ExitError, Hint: "the installed release's files must be regular files within their limits; reinstall it with 'bundle apply'"},
}

func keyring(cmd *cobra.Command, pubs []string) (*keys.Keyring, error) {
	ring, err := embedded.Keyring()
	if err != nil {
		return nil, err
	}
	for _, p := range pubs {
		data, err := readInput(cmd, p, fileio.LimitPublicKey, "public key")
		if err != nil {
			return nil, cli.Fail(cli.ExitError, fmt.Errorf("--pub: %w", err), "give a public key file made by 'issue keygen' (NAME.pub)")
		}
		k, err := keys.ParsePublic(data)
		if err != nil {
			err = fmt.Errorf("%s: %w", p, err)
		}
		if errors.Is(err, keys.ErrPrivateKeyGiven) {
			return nil, cli.Fail(cli.ExitUsage, fmt.Errorf("--pub: %w", err), "give the public key NAME.pub; a private key must never be copied to a customer machine")
		}
		if err != nil {
			return nil, cli.Fail(cli.ExitError, fmt.Errorf("--pub: %w", err), "give a public key file made by 'issue keygen' (NAME.pub)")
		}
		ring.Add(k)
	}
	return ring, nil
}

func verify(cmd *cobra.Command, f *flags, args []string) error {
	t := now().UTC()
	res := &result{Now: t.Truncate(time.Second), Warnings: []string{}, DaysLeft: map[string]*int{"expires": nil, "updates": nil}, ProductVersion: f.version}
	// fail reports an error that happens before or outside the license checks.
	fail := func(err error) error {
		code, hint := cli.ExitError, ""
		var ce *cli.Error
		if errors.As(err, &ce) {
			code, hint = ce.Code, ce.Hint
		}
		res.Status, res.ExitCode, res.Error = "error", code, err.Error()
		if f.asJSON {
			cli.JSON(cmd.OutOrStdout(), res)
		}
		return cli.Fail(code, err, hint)
	}

	if len(args) != 1 {
		return fail(cli.Usage("verify takes one LICENSE (a file, - for stdin, or the ASL1 code), got %d arguments", len(args)))
	}
	arg := args[0]
	opts := license.CheckOptions{Now: t, Product: f.product}
	if f.rel != "" {
		rd, err := license.ParseTime(f.rel)
		if err != nil {
			return fail(cli.Usage("--release-date: %v", err))
		}
		opts.ReleaseDate = rd
	}
	if f.version != "" && f.rel == "" && f.installed == "" {
		return fail(cli.Usage("--product-version needs --release-date T (or --installed DIR): the subscription is compared by release date"))
	}
	input, err := readLicense(cmd, arg)
	if err != nil {
		return fail(cli.Fail(cli.ExitError, err, "give the license file, - for stdin, or the ASL1 code"))
	}
	ring, err := keyring(cmd, f.pubs)
	if err != nil {
		return fail(err)
	}
	opts.Keyring = ring
	if f.revocations != "" {
		list, err := readInput(cmd, f.revocations, fileio.LimitRevocations, "revocation list")
		if err != nil {
			return fail(cli.Fail(cli.ExitError, fmt.Errorf("--revocations: %w", err), "give the signed revocation list file from the vendor"))
		}
		opts.Revocations = [][]byte{list}
	}
	if f.installed != "" {
		rel, err := installed.Read(f.installed, ring)
		if err != nil {
			return fail(cli.Classify(fmt.Errorf("--installed: %w", err), installedRules))
		}
		opts.Installed = &license.Installed{Product: rel.Product, Version: rel.Version, ReleaseDate: rel.ReleaseDate,
			RevokedSerials: rel.RevokedLicenses}
		if res.ProductVersion == "" {
			res.ProductVersion = rel.Version
		}
	}
	switch {
	case !opts.ReleaseDate.IsZero():
		rd := opts.ReleaseDate
		res.ReleaseDate = &rd
	case opts.Installed != nil:
		rd := opts.Installed.ReleaseDate
		res.ReleaseDate = &rd
	}
	statePath := f.statePath
	if statePath == "" {
		statePath = defaultStatePath()
	}
	opts.State = license.StateFile{Path: statePath}
	// The machine is read only for a license bound to one, with the
	// license's product as the hash salt.
	opts.Facts = func(product string) (*license.Machine, error) {
		rep, err := hwid.Collect(hwid.Options{Root: factsRoot, Product: product})
		if err != nil {
			return nil, fmt.Errorf("reading this machine's hardware: %w", err)
		}
		res.Machine = &machineResult{Checked: true, Virtualization: rep.Virtualization.Type, Technology: rep.Virtualization.Technology}
		return &license.Machine{Components: rep.Fingerprint.Components, RootRead: rep.RootRead,
			Virtualization: rep.Virtualization.Type, Technology: rep.Virtualization.Technology}, nil
	}

	rep, err := license.Check(input, opts)
	var ie *license.InputError
	if errors.As(err, &ie) {
		switch ie.Input {
		case "state":
			if errors.Is(err, license.ErrNotState) {
				return fail(cli.Fail(cli.ExitError, ie.Err, "give --state the path of verify's state file (or leave --state out for the default)"))
			}
			return fail(cli.Fail(cli.ExitError, ie.Err, ""))
		case "facts":
			if !errors.Is(err, license.ErrNoFacts) {
				return fail(ie.Err)
			}
		}
	}
	res.License = rep.License
	res.Warnings = append(res.Warnings, rep.Warnings...)
	if rep.Match != nil && res.Machine != nil {
		res.Machine.Match = rep.Match
	}
	if !rep.Floor.IsZero() {
		fl := rep.Floor
		res.ClockFloor = &fl
	}
	if rl := rep.Revocations; rl != nil {
		res.Revocations = &revocationResult{Sequence: rl.Sequence, IssuedAt: rl.IssuedAt, Serials: len(rl.Serials)}
	}
	if l := rep.License; l != nil {
		for k, tp := range map[string]*time.Time{"expires": l.Expires, "updates": l.UpdatesUntil} {
			if tp != nil {
				d := int(tp.Sub(t).Hours() / 24)
				res.DaysLeft[k] = &d
			}
		}
	}
	code := exitCode(err)
	listFailed := false
	if err != nil {
		// Name the input that failed.
		where := source(arg)
		if ie != nil && (ie.Input == "license" || ie.Input == "revocations") {
			err = ie.Err
		}
		if listFailed = ie != nil && ie.Input == "revocations"; listFailed {
			where = "--revocations " + f.revocations
		} else if ie != nil && ie.Input == "installed" {
			where = "--installed " + f.installed
		}
		err = fmt.Errorf("%s: %w", where, err)
	}
	ent := license.Entitle(rep.License, err, nil)
	res.Entitlements = &entitlementsResult{Demo: ent.Demo, Seats: ent.Seats, Features: license.FeatureMap(ent.Features)}
	res.inForce = ent.Features
	res.ExitCode, res.Demo = code, ent.Demo
	hint := ""
	switch {
	case code == 0:
		res.Status = "valid"
	case code == 17:
		res.Status = "demo"
	case code >= 10:
		res.Status = "invalid"
	default:
		res.Status = "error"
	}
	if err != nil {
		res.Error = err.Error()
		for _, r := range reasons {
			if errors.Is(err, r.err) {
				res.Reason, hint = r.name, r.hint
				break
			}
		}
		if listFailed && !errors.Is(err, license.ErrRevoked) {
			hint = "the revocation list is damaged or from another vendor; ask the vendor for the current list"
		}
	}

	out := cmd.OutOrStdout()
	if f.asJSON {
		if err := cli.JSON(out, res); err != nil {
			return err
		}
	} else if rep.License != nil {
		printSummary(out, res, rep.License)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(cmd.ErrOrStderr(), "verify: warning: %s\n", w)
	}
	if err != nil {
		return cli.Fail(code, err, hint)
	}
	return nil
}

func printSummary(w io.Writer, res *result, l *license.License) {
	status := map[string]string{"valid": "VALID", "demo": "DEMO MODE", "invalid": "NOT VALID", "error": "NOT VALID"}[res.Status]
	fmt.Fprintf(w, "license %s: %s\n", l.Serial, status)
	row := func(k, format string, a ...any) { fmt.Fprintf(w, "  %-10s %s\n", k, fmt.Sprintf(format, a...)) }
	prod := l.Product
	if l.Edition != "" {
		prod += " (" + l.Edition + ")"
	}
	row("product", "%s", prod)
	kind := l.Kind.String()
	if l.MainSerial != "" {
		kind += ", extends " + l.MainSerial
	}
	row("kind", "%s", kind)
	cust := l.Customer.Name
	if l.Customer.TaxID != "" {
		cust += ", tax ID " + l.Customer.TaxID
	}
	row("customer", "%s", cust)
	licensed := featureList(l.Features)
	if e := res.Entitlements; e != nil && e.Demo {
		// What is in force is the demo limits, not what was licensed.
		inForce := featureList(res.inForce)
		if inForce == "" {
			inForce = "none"
		}
		if licensed == "" {
			licensed = "none"
		}
		row("seats", "%d in force (demo mode; licensed: %d)", e.Seats, l.Seats)
		row("features", "%s in force (demo limits; licensed: %s)", inForce, licensed)
	} else {
		row("seats", "%d", l.Seats)
		if licensed != "" {
			row("features", "%s", licensed)
		}
	}
	row("issued", "%s", l.IssuedAt.Format(time.DateOnly))
	valid := "from " + l.NotBefore.Format(time.DateOnly) + ", perpetual"
	if l.Expires != nil {
		valid = fmt.Sprintf("from %s until %s (%s)", l.NotBefore.Format(time.DateOnly), l.Expires.Format(time.DateOnly), daysLeft(res.DaysLeft["expires"]))
	}
	row("valid", "%s", valid)
	if l.UpdatesUntil != nil {
		row("updates", "until %s (%s)", l.UpdatesUntil.Format(time.DateOnly), daysLeft(res.DaysLeft["updates"]))
	} else {
		row("updates", "no end")
	}
	if res.ProductVersion != "" || res.ReleaseDate != nil {
		v := res.ProductVersion
		if res.ReleaseDate != nil {
			v = strings.TrimSpace(v + " released " + res.ReleaseDate.Format(time.DateOnly))
		}
		row("this build", "%s", v)
	}
	switch {
	case l.Machine == nil:
		row("machine", "not bound")
	case res.Machine != nil && res.Machine.Match != nil:
		row("machine", "bound to %s: %s", l.Machine.ID(), res.Machine.Match.String())
	default:
		row("machine", "bound to %s", l.Machine.ID())
	}
	if l.Machine != nil {
		row("virtual", "%s", map[bool]string{true: "allowed", false: "not allowed"}[l.AllowVirtual])
	}
	if l.Comment != "" {
		row("comment", "%q (UNSIGNED: anyone can edit it)", l.Comment)
	}
}

// featureList is features as "a=true, b=3" ("" for none).
func featureList(fs []license.Feature) string {
	var s []string
	for _, f := range fs {
		s = append(s, f.String())
	}
	return strings.Join(s, ", ")
}

func daysLeft(d *int) string {
	switch {
	case d == nil:
		return ""
	case *d < 0:
		return fmt.Sprintf("ended %d days ago", -*d)
	case *d == 1:
		return "1 day left"
	}
	return fmt.Sprintf("%d days left", *d)
}

// testStatePath replaces the default state path; only the test binary sets it.
var testStatePath string

// defaultStatePath is /var/lib/airseal/verify.state for root, else
// $XDG_STATE_HOME/airseal/verify.state (~/.local/state/airseal/verify.state).
func defaultStatePath() string {
	if testStatePath != "" {
		return testStatePath
	}
	return license.DefaultStatePath()
}

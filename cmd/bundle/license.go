package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/internal/typedcode"
	"github.com/airseal/airseal/pkg/bundle"
	"github.com/airseal/airseal/pkg/hwid"
	"github.com/airseal/airseal/pkg/install"
	"github.com/airseal/airseal/pkg/license"
)

// licenseFlags are apply's license inputs.
type licenseFlags struct {
	license, revocations, state string
}

// factsRoot is the machine facts tree hwid reads; "" is this machine. Only
// the test binary sets it (main_test.go).
var factsRoot string

// testStatePath replaces the default state path; only the test binary
// sets it, so that tests never write the machine's real clock state.
var testStatePath string

// defaultStatePath is verify's default clock-state file (see 'verify
// --help'): bundle apply --license shares it, so that the clock floor and
// the revocation sequence floor are one per machine.
func defaultStatePath() string {
	if testStatePath != "" {
		return testStatePath
	}
	return license.DefaultStatePath()
}

// readOnlyState loads a clock state but never saves it (apply --plan
// touches nothing).
type readOnlyState struct{ license.StateFile }

func (readOnlyState) Save(license.State) error { return nil }

// checkLicense runs the one customer-side license check (license.Check,
// the same as the verify binary: signature, product, the installed
// release, revocation lists and their sequence floor, the clock state,
// validity and the machine) for the release m about to be applied to tg,
// and returns the terms apply enforces. A license whose update
// subscription ended before m's release date is returned, not refused:
// apply refuses it as a subscription error (17) naming both dates.
func checkLicense(cmd *cobra.Command, f licenseFlags, tg *install.Target, m *bundle.Manifest, plan bool) (*install.LicenseTerms, error) {
	input := []byte(f.license) // a typed code, however typed
	if !typedcode.IsArg(f.license, license.CodePrefix) {
		var err error
		if input, err = readInput(cmd, "--license", f.license, fileio.LimitLicense, "license"); err != nil {
			return nil, err
		}
	}
	statePath := f.state
	if statePath == "" {
		statePath = defaultStatePath()
	}
	var state license.StateStore = license.StateFile{Path: statePath}
	if plan {
		state = readOnlyState{license.StateFile{Path: statePath}}
	}
	opts := license.CheckOptions{Keyring: tg.Keyring(), Now: time.Now(), Product: m.Product, ReleaseDate: m.ReleaseDate, State: state,
		Facts: func(product string) (*license.Machine, error) {
			rep, err := hwid.Collect(hwid.Options{Root: factsRoot, Product: product})
			if err != nil {
				return nil, fmt.Errorf("reading this machine's hardware: %w", err)
			}
			return &license.Machine{Components: rep.Fingerprint.Components, RootRead: rep.RootRead,
				Virtualization: rep.Virtualization.Type, Technology: rep.Virtualization.Technology}, nil
		}}
	if cur, err := tg.Installed(); err == nil && cur != nil {
		opts.Installed = &license.Installed{Product: cur.Product, Version: cur.Version, ReleaseDate: cur.ReleaseDate,
			RevokedSerials: tg.RevokedLicenses()}
	}
	if f.revocations != "" {
		list, err := readInput(cmd, "--revocations", f.revocations, fileio.LimitRevocations, "revocation list")
		if err != nil {
			return nil, err
		}
		opts.Revocations = [][]byte{list}
	}
	// A typed code is named as such, not repeated (hundreds of characters).
	name := safetext.Clean(f.license)
	if typedcode.IsArg(f.license, license.CodePrefix) {
		name = "(typed code)"
	}
	rep, err := license.Check(input, opts)
	for _, w := range rep.Warnings {
		fmt.Fprintf(cmd.ErrOrStderr(), "bundle: warning: --license %s: %s\n", name, w)
	}
	if err != nil && !errors.Is(err, license.ErrUpdatesExpired) {
		where, hint := "--license "+name, "give the license file the vendor issued for this installation"
		var ie *license.InputError
		if errors.As(err, &ie) {
			switch ie.Input {
			case "revocations":
				where, hint = "--revocations "+f.revocations, "give the newest signed revocation list from the vendor"
			case "state":
				// An unreadable or foreign state file is an input error,
				// not a verdict on the license.
				return nil, cli.Fail(cli.ExitError, fmt.Errorf("--state %s: %w", statePath, ie.Err),
					"give --state the path of verify's state file (or leave --state out for the default)")
			case "installed":
				where, hint = "--target "+tg.Dir(), "apply the bundle made for the installed product"
			case "facts":
				hint = "the license is bound to a machine: apply on that machine, or ask the vendor for a license for this one"
			}
			err = ie.Err
		}
		e := cli.Classify(fmt.Errorf("%s: %w", where, err), licenseRules).(*cli.Error)
		if e.Hint == "" {
			e.Hint = hint
		}
		return nil, e
	}
	l := rep.License
	return &install.LicenseTerms{Serial: l.Serial, Product: l.Product, UpdatesUntil: l.UpdatesUntil}, nil
}

package main

import (
	"errors"
	"fmt"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/pkg/bundle"
	"github.com/airseal/airseal/pkg/install"
	"github.com/airseal/airseal/pkg/license"
)

// rules is bundle's error → exit code table: each pkg/bundle and pkg/install
// sentinel maps to its row of the one airseal exit-code table
// (internal/cli), with the hint printed beneath the error. The packages know nothing of exit codes.
var rules = []cli.Rule{
	{Err: bundle.ErrMalformed, Code: cli.ExitMalformed, Hint: "check that the file is an airseal bundle and was copied completely"},
	{Err: bundle.ErrBadSignature, Code: cli.ExitMalformed, Hint: "the bundle was altered or damaged after signing; get a fresh copy from the vendor"},
	{Err: bundle.ErrRevokedKey, Code: cli.ExitUntrustedKey, Hint: "a release applied to this target revoked that key, and --pub does not undo it; ask the vendor for a bundle signed with its current key"},
	{Err: bundle.ErrUnknownKey, Code: cli.ExitUntrustedKey, Hint: "trust the vendor's key with --pub VENDOR.pub, or ask the vendor which key signed it"},
	{Err: install.ErrSubscription, Code: cli.ExitUpdatesExpired, Hint: "renew the update subscription with the vendor and apply with the new license (--license), or keep the installed version"},
	{Err: install.ErrWrongProduct, Code: cli.ExitWrongProduct, Hint: "use the bundle made for this product"},
	{Err: bundle.ErrDamaged, Code: cli.ExitDamaged, Hint: "copy the bundle again from the original medium and run 'bundle verify'"},
	{Err: bundle.ErrUnsafe, Code: cli.ExitUnsafe, Hint: "the bundle was refused for safety; report it to the vendor and do not install it"},
	{Err: bundle.ErrVolume, Code: cli.ExitIncomplete, Hint: "put every volume of one bundle (FILE, FILE.002, ...) in the same directory"},
	{Err: install.ErrVersion, Code: cli.ExitVersionRefused, Hint: "use a newer bundle, or ask the vendor for a signed downgrade bundle"},
	{Err: install.ErrHook, Code: cli.ExitHookFailed, Hint: "see the hook's output above"},
	{Err: install.ErrNotInstalled, Code: cli.ExitNotInstalled, Hint: "check --target; apply a bundle first"},
	{Err: install.ErrNoPrevious, Code: cli.ExitNotInstalled, Hint: "a previous release exists only after a second apply; 'bundle status --target DIR' shows what is installed"},
	{Err: install.ErrNoSpace, Code: cli.ExitNoSpace, Hint: "free space in the target file system and try again"},
	{Err: install.ErrBusy, Code: cli.ExitBusy, Hint: "wait for the other apply or rollback to finish"},
}

// licenseRules maps the refusals of --license (pkg/license) to the same
// table as the verify binary does.
var licenseRules = []cli.Rule{
	{Err: license.ErrMalformed, Code: cli.ExitMalformed, Hint: "the license is damaged or not a license; ask the vendor for a new copy"},
	{Err: license.ErrBadSignature, Code: cli.ExitMalformed, Hint: "the license was changed after it was signed; ask the vendor for a new copy"},
	{Err: license.ErrUnknownKey, Code: cli.ExitUntrustedKey, Hint: "the vendor's public key is not trusted here; pass it with --pub NAME.pub"},
	{Err: license.ErrWrongMachine, Code: cli.ExitWrongMachine, Hint: "this machine differs from the one the license was issued for; run 'hwid request' and send the request to the vendor"},
	{Err: license.ErrNoFacts, Code: cli.ExitWrongMachine},
	{Err: license.ErrExpired, Code: cli.ExitExpired, Hint: "renew the license with the vendor"},
	{Err: license.ErrNotYetValid, Code: cli.ExitExpired, Hint: "wait until the license starts, or check the system clock"},
	{Err: license.ErrRevoked, Code: cli.ExitRevoked, Hint: "this license was revoked; ask the vendor for a new license"},
	{Err: license.ErrClockRollback, Code: cli.ExitClockRollback, Hint: "set the system clock to the correct time"},
	{Err: license.ErrVirtualMachine, Code: cli.ExitVirtual, Hint: "apply on a physical machine, or ask the vendor for a license that allows virtual machines"},
	{Err: license.ErrUpdatesExpired, Code: cli.ExitUpdatesExpired},
	{Err: license.ErrWrongProduct, Code: cli.ExitWrongProduct, Hint: "use the license issued for this product"},
}

// fail maps a pkg/bundle error to its exit code and hint (see rules). A
// damaged chunk gets a hint naming the volume and offset.
func fail(err error) error {
	var ce *bundle.ChunkError
	if errors.As(err, &ce) && !errors.As(err, new(*cli.Error)) {
		return cli.Fail(cli.ExitDamaged, err, fmt.Sprintf("copy %s again from the original medium (the stick may have a bad sector near offset %d), then run 'bundle verify' again", ce.Volume, ce.Offset))
	}
	return cli.Classify(err, rules)
}

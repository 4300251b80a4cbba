package install

import "errors"

// Sentinel errors of installing into a target. Every refusal of this
// package matches one of them, or one of pkg/bundle's (a bundle that does
// not verify), with errors.Is; cmd/bundle maps each to a documented exit
// code.
var (
	// ErrWrongProduct: the bundle is for a different product.
	ErrWrongProduct = errors.New("bundle is for a different product")
	// ErrVersion: the version is not newer than the installed one, or the
	// installed version is not one the bundle may update from.
	ErrVersion = errors.New("version refused")
	// ErrSubscription: the release date is after the license's updates-until.
	ErrSubscription = errors.New("update subscription ended")
	// ErrHook: a hook from the manifest failed.
	ErrHook = errors.New("hook failed")
	// ErrNotInstalled: no release is installed in the target.
	ErrNotInstalled = errors.New("no release installed")
	// ErrNoPrevious: a release is installed, but there is no previous
	// release to roll back to.
	ErrNoPrevious = errors.New("nothing to roll back to")
	// ErrNoSpace: the target file system lacks the space the manifest needs.
	ErrNoSpace = errors.New("not enough free space")
	// ErrBusy: another apply or rollback holds the target's lock.
	ErrBusy = errors.New("target is busy")
)

package license

import (
	"errors"
	"fmt"
	"time"

	"github.com/airseal/airseal/pkg/keys"
)

// ErrNoFacts means a license bound to a machine was checked without a way
// to read the machine's facts (CheckOptions.Facts is nil).
var ErrNoFacts = errors.New("the license is bound to a machine but no machine facts were given")

// FactsFunc reads the live machine's facts, hashing its components with
// product as the salt (the license's product), usually with hwid.Collect.
type FactsFunc func(product string) (*Machine, error)

// Installed is what a signed installed release says about the product on
// this machine (for example the header 'bundle apply' keeps). The caller
// must have verified its signature.
type Installed struct {
	// Product is the installed product; it must equal the license's.
	Product string
	// Version is the installed version, shown only.
	Version string
	// ReleaseDate is the signed release date: a clock floor, and the
	// release date checked against the update subscription when
	// CheckOptions.ReleaseDate is zero.
	ReleaseDate time.Time
	// RevokedSerials are license serials revoked by the applied updates.
	RevokedSerials []string
}

// CheckOptions are the inputs to [Check] besides the license bytes.
type CheckOptions struct {
	// Keyring holds the trusted public keys. Required.
	Keyring *keys.Keyring
	// Now is the current time; zero means time.Now().
	Now time.Time
	// Product, when set, must equal the license's product.
	Product string
	// State remembers the newest trusted time and the revocation sequence
	// floor between runs; nil checks the clock against signed times only
	// and remembers nothing.
	State StateStore
	// Facts reads the machine's facts for a license bound to a machine. A
	// bound license checked with nil Facts fails with ErrNoFacts.
	Facts FactsFunc
	// Installed is the installed release, when one is known.
	Installed *Installed
	// Revocations are signed revocation lists (any encoding), each signed
	// by a key in Keyring.
	Revocations [][]byte
	// ReleaseDate, when set, is the release date of the running build (the
	// update-subscription check).
	ReleaseDate time.Time
	// Skew is the tolerated clock drift; 0 means DefaultSkew.
	Skew time.Duration
}

// InputError names the input of [Check] that could not be used: "license",
// "revocations", "state", "installed" or "facts". Index is the position in
// CheckOptions.Revocations for "revocations", else 0.
type InputError struct {
	Input string
	Index int
	Err   error
}

func (e *InputError) Error() string {
	if e.Input == "revocations" {
		return fmt.Sprintf("revocation list %d: %v", e.Index+1, e.Err)
	}
	return e.Input + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *InputError) Unwrap() error { return e.Err }

// Check is the whole customer-side check of a license: signature, product,
// installed release, revocation lists and their sequence floor, the clock
// against the remembered state, validity, machine and update subscription.
// The result is never nil; its License is set once the signature verified.
// The error matches one of the package's sentinels; an input that could not
// be used is an *InputError. With ErrUpdatesExpired the license is genuine
// and the product runs in demo mode.
//
// State rule (docs/spec/clock-state-v1.md): the revocation sequence floor is
// raised by every list whose signature verifies, whatever the license's
// verdict, and is one floor across all of the vendor's keys; the newest
// seen time is raised only when the clock check passed.
func Check(input []byte, opts CheckOptions) (*Result, error) {
	if opts.Keyring == nil {
		return &Result{}, &InputError{Input: "license", Err: errors.New("no trusted keys given")}
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	var st State
	if opts.State != nil {
		var err error
		if st, err = opts.State.Load(); err != nil {
			return &Result{}, &InputError{Input: "state", Err: err}
		}
	}
	vo := VerifyOptions{Keyring: opts.Keyring, Now: now, Product: opts.Product,
		ReleaseDate: opts.ReleaseDate, ClockFloor: st.NewestSeen, Skew: opts.Skew}
	if in := opts.Installed; in != nil {
		if in.ReleaseDate.After(vo.ClockFloor) {
			vo.ClockFloor = in.ReleaseDate
		}
		if vo.ReleaseDate.IsZero() {
			vo.ReleaseDate = in.ReleaseDate
		}
		vo.RevokedSerials = append(vo.RevokedSerials, in.RevokedSerials...)
	}

	// Revocation lists: every list whose signature verifies raises the one
	// floor, before anything else can fail.
	var newest *RevocationList
	var lists []*RevocationList
	floor := st.RevocationFloor
	for i, raw := range opts.Revocations {
		rl, err := OpenRevocations(raw, opts.Keyring)
		if err != nil {
			return &Result{}, &InputError{Input: "revocations", Index: i, Err: err}
		}
		lists = append(lists, rl)
		if newest == nil || rl.Sequence > newest.Sequence {
			newest = rl
		}
	}
	stateErr := func(rep *Result) {}
	if newest != nil && newest.Sequence > st.RevocationFloor {
		next := st
		next.RevocationFloor = newest.Sequence
		st = next
		stateErr = func(rep *Result) { save(opts.State, st, rep) }
	}
	for i, rl := range lists {
		if rl.Sequence < floor {
			rep := &Result{State: st}
			stateErr(rep)
			return rep, &InputError{Input: "revocations", Index: i, Err: fmt.Errorf(
				"%w check failed: revocation list %d is older than list %d already seen, and an older list can hide a revocation; use the newest list",
				ErrRevoked, rl.Sequence, floor)}
		}
		if rl.IssuedAt.After(vo.ClockFloor) {
			vo.ClockFloor = rl.IssuedAt
		}
	}

	if in := opts.Installed; in != nil {
		if vo.Product != "" && vo.Product != in.Product {
			rep := &Result{State: st}
			stateErr(rep)
			return rep, &InputError{Input: "installed", Err: fmt.Errorf("%w: the installed release is %q, the expected product is %q", ErrWrongProduct, in.Product, vo.Product)}
		}
		vo.Product = in.Product
	}
	if l, derr := Decode(input); derr == nil {
		for _, rl := range lists {
			if rl.Contains(l.Serial) {
				if vo.listed == nil {
					vo.listed = map[string]uint64{}
				}
				vo.listed[l.Serial] = max(vo.listed[l.Serial], rl.Sequence)
			}
		}
		if l.Machine != nil {
			if opts.Facts == nil {
				rep := &Result{State: st}
				stateErr(rep)
				return rep, &InputError{Input: "facts", Err: ErrNoFacts}
			}
			m, ferr := opts.Facts(l.Product)
			if ferr != nil {
				rep := &Result{State: st}
				stateErr(rep)
				return rep, &InputError{Input: "facts", Err: ferr}
			}
			vo.Machine = m
		}
	}
	rep, err := evaluate(input, vo)
	rep.State = st
	rep.Revocations = newest
	rep.Installed = opts.Installed
	if err == nil || errors.Is(err, ErrUpdatesExpired) {
		t := now.UTC().Truncate(time.Second)
		if rep.Floor.After(t) {
			t = rep.Floor
		}
		// newest_seen is written only when it moves forward by at least
		// StateStep (clock-state-v1, Writing): a run a few seconds after
		// the last one then costs no write and no fsync, and the floor
		// lags the clock by less than StateStep, far inside DefaultSkew.
		if t.Sub(rep.State.NewestSeen) >= StateStep {
			rep.State.NewestSeen = t
			stateErr = func(rep *Result) { save(opts.State, rep.State, rep) }
		}
	}
	stateErr(rep)
	if err != nil && rep.License == nil && !errors.As(err, new(*InputError)) {
		err = &InputError{Input: "license", Err: err}
	}
	return rep, err
}

// save writes st, turning a failure into a warning: the signed times still
// apply without the state.
func save(s StateStore, st State, rep *Result) {
	if s == nil {
		return
	}
	if err := s.Save(st); err != nil {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("cannot update the clock state (%v): rollback detection falls back to signed times", err))
	}
}

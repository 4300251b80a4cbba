package license

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/airseal/airseal/pkg/fingerprint"
	"github.com/airseal/airseal/pkg/keys"
)

// DefaultSkew is how far the clock may lag behind a time already seen (the
// clock floor, the license's issued-at, the revocation list's time) before
// Verify calls it a rollback, and how early a license may be used before
// its not-before time. It absorbs clock drift between the vendor's and the
// customer's machines.
const DefaultSkew = time.Hour

// WarnBefore is how long before the update subscription (or the license)
// ends Verify starts warning about it.
const WarnBefore = 14 * 24 * time.Hour

// Machine is what a product knows about the machine it runs on, usually
// filled from hwid.Collect.
type Machine struct {
	// Components are the live hashed hardware components, hashed for the
	// license's product.
	Components []fingerprint.Component
	// RootRead is true when the components were read with root privileges.
	RootRead bool
	// Virtualization is "none", "vm" or "container". Anything but "none"
	// (including "") counts as virtual.
	Virtualization string
	// Technology names the hypervisor or container runtime, if known.
	Technology string
}

// VerifyOptions are the inputs to Verify besides the license bytes.
type VerifyOptions struct {
	// Keyring holds the trusted public keys. Required.
	Keyring *keys.Keyring
	// Now is the current time. Required.
	Now time.Time
	// Machine is the live machine. nil skips the machine and virtualization
	// checks (a Result then carries a warning for a bound license).
	Machine *Machine
	// Product, when set, must equal the license's product.
	Product string
	// Revocations is a signed revocation list (any encoding); nil for none.
	// It must be signed by a key in Keyring.
	Revocations []byte
	// RevocationSeen is, per signing key, the highest revocation list
	// sequence already seen on this machine: an older list is refused
	// (ErrRevoked), since it could hide a revocation. nil for none.
	RevocationSeen map[keys.ID]uint64
	// RevokedSerials are serials revoked by other trusted sources, such as
	// the update bundles applied to the product (bundle.RevokedLicenses).
	RevokedSerials []string
	// ReleaseDate, when set, is the release date of the running build: a
	// build released after the license's update subscription ended runs in
	// demo mode (ErrUpdatesExpired).
	ReleaseDate time.Time
	// ClockFloor is the newest trusted time the caller has seen (a state
	// file, an installed bundle's release date). Now earlier than the floor
	// (minus Skew) is a rollback. The license's issued-at and the revocation
	// list's time are floors too, whatever the caller passes.
	ClockFloor time.Time
	// Skew is the tolerated clock drift; 0 means DefaultSkew.
	Skew time.Duration

	// listed maps serials found on revocation lists that Check has already
	// verified to the list's sequence, so the refusal names the list.
	listed map[string]uint64
}

// Result is the full outcome of a verification.
type Result struct {
	// License is the license, set once its signature has verified (also
	// when a later check fails), nil otherwise.
	License *License
	// Match is the machine match, when it was checked.
	Match *fingerprint.Result
	// Revocations is the verified revocation list, when one was given.
	Revocations *RevocationList
	// Floor is the clock floor that was applied.
	Floor time.Time
	// Warnings are things the user should know even though the license is valid.
	Warnings []string
	// Installed is the installed release the license was checked against
	// ([Check] with CheckOptions.Installed), nil otherwise.
	Installed *Installed
	// State is the clock state after the check ([Check] with a StateStore).
	State State
}

// Verify checks a license given in any encoding and returns it, or an error
// matching one of the package's sentinels. With ErrUpdatesExpired the
// license is genuine and is returned too: the product runs in demo mode.
//
// Checks run in this fixed order, and the first failure is returned:
// format (ErrMalformed), key (ErrUnknownKey), signature (ErrBadSignature),
// product (ErrWrongProduct), revocation (ErrRevoked), clock
// (ErrClockRollback), validity period (ErrNotYetValid, ErrExpired),
// virtualization (ErrVirtualMachine), machine (ErrWrongMachine), update
// subscription (ErrUpdatesExpired).
func Verify(input []byte, opts VerifyOptions) (*License, error) {
	r, err := evaluate(input, opts)
	if err != nil && !errors.Is(err, ErrUpdatesExpired) {
		return nil, err
	}
	return r.License, err
}

// decoded is a license input split and its payload parsed once, for
// [Check], which reads the license's serial and binding before verifying
// it, and for evaluate. err is the first decoding failure.
type decoded struct {
	payload, sig []byte
	comment      string
	l            *License
	err          error
}

// decode splits input and parses its payload, not verifying anything.
func decode(input []byte) decoded {
	var d decoded
	d.payload, d.sig, d.comment, d.err = splitRaw(input)
	if d.err == nil {
		d.l, d.err = UnmarshalPayload(d.payload)
	}
	return d
}

// evaluate is Verify returning the whole Result. The result is never nil;
// its License is set once the signature has verified.
func evaluate(input []byte, opts VerifyOptions) (*Result, error) {
	return evaluateDecoded(decode(input), opts)
}

// evaluateDecoded is evaluate on an input decode already parsed.
func evaluateDecoded(d decoded, opts VerifyOptions) (*Result, error) {
	rep := &Result{}
	if d.err != nil {
		return rep, d.err
	}
	payload, sig, comment, l := d.payload, d.sig, d.comment, d.l
	k, ok := opts.Keyring.Get(l.KeyID)
	if !ok {
		return rep, fmt.Errorf("%w %s (%s)", ErrUnknownKey, l.KeyID, trusted(opts.Keyring))
	}
	// The signed message is built on the stack for a license of usual size.
	var buf [1024]byte
	msg := append(append(buf[:0], SignaturePrefix...), payload...)
	if !k.Verify(msg, sig) {
		return rep, fmt.Errorf("%w: the license was changed after signing or is damaged", ErrBadSignature)
	}
	l.Signature = append([]byte(nil), sig...)
	l.Comment = comment
	rep.License = l

	if opts.Product != "" && opts.Product != l.Product {
		return rep, fmt.Errorf("%w: license is for %q, this is %q", ErrWrongProduct, l.Product, opts.Product)
	}

	skew := opts.Skew
	if skew == 0 {
		skew = DefaultSkew
	}
	floor := opts.ClockFloor
	if l.IssuedAt.After(floor) {
		floor = l.IssuedAt
	}
	if opts.Revocations != nil {
		rl, err := OpenRevocations(opts.Revocations, opts.Keyring)
		if err != nil {
			return rep, err
		}
		rep.Revocations = rl
		if seen := opts.RevocationSeen[rl.KeyID]; rl.Sequence < seen {
			return rep, fmt.Errorf("%w check failed: revocation list %d is older than list %d already seen, and an older list can hide a revocation; use the newest list",
				ErrRevoked, rl.Sequence, seen)
		}
		if rl.Contains(l.Serial) {
			return rep, fmt.Errorf("%w: serial %s is on revocation list %d", ErrRevoked, l.Serial, rl.Sequence)
		}
		if rl.IssuedAt.After(floor) {
			floor = rl.IssuedAt
		}
	}
	if seq, ok := opts.listed[l.Serial]; ok {
		return rep, fmt.Errorf("%w: serial %s is on revocation list %d", ErrRevoked, l.Serial, seq)
	}
	if slices.Contains(opts.RevokedSerials, l.Serial) {
		return rep, fmt.Errorf("%w: serial %s is revoked by an update bundle", ErrRevoked, l.Serial)
	}
	rep.Floor = floor
	now := opts.Now
	if now.Add(skew).Before(floor) {
		return rep, fmt.Errorf("%w: the clock says %s but %s was already seen; set the clock right",
			ErrClockRollback, now.UTC().Format(time.RFC3339), floor.UTC().Format(time.RFC3339))
	}
	if now.Add(skew).Before(l.NotBefore) {
		return rep, fmt.Errorf("%w: valid from %s", ErrNotYetValid, l.NotBefore.UTC().Format(time.RFC3339))
	}
	if l.Expires != nil && !now.Before(*l.Expires) {
		return rep, fmt.Errorf("%w on %s", ErrExpired, l.Expires.UTC().Format(time.RFC3339))
	}
	if l.Machine != nil {
		if m := opts.Machine; m == nil {
			rep.Warnings = append(rep.Warnings, "the license is bound to a machine but the machine was not checked")
		} else {
			if m.Virtualization != "none" && !l.AllowVirtual {
				what := m.Virtualization
				if m.Technology != "" {
					what += " (" + m.Technology + ")"
				}
				return rep, fmt.Errorf("%w: this machine is a %s and the license does not allow virtual machines", ErrVirtualMachine, what)
			}
			res := fingerprint.Match(*l.Machine, m.Components, m.RootRead)
			rep.Match = &res
			if !res.OK {
				return rep, fmt.Errorf("%w: %s", ErrWrongMachine, res.String())
			}
		}
	}
	if l.Expires != nil && l.Expires.Sub(now) <= WarnBefore {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("the license expires on %s (%s left)", day(*l.Expires), left(l.Expires.Sub(now))))
	}
	if u := l.UpdatesUntil; u != nil {
		if !opts.ReleaseDate.IsZero() && opts.ReleaseDate.After(*u) {
			return rep, fmt.Errorf("%w: released on %s, the subscription ended on %s; running in demo mode",
				ErrUpdatesExpired, day(opts.ReleaseDate), day(*u))
		}
		switch d := u.Sub(now); {
		case d <= 0:
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("the update subscription ended on %s: versions released after it run in demo mode; renew it to update", day(*u)))
		case d <= WarnBefore:
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("the update subscription ends on %s (%s left); renew it to keep receiving updates", day(*u), left(d)))
		}
	}
	return rep, nil
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func left(d time.Duration) string {
	days := int(d.Hours() / 24)
	switch {
	case days >= 2:
		return fmt.Sprintf("%d days", days)
	case days == 1:
		return "1 day"
	}
	return "less than a day"
}

// Entitlements is what the product may do now.
type Entitlements struct {
	// Demo is true when the product must run in demo mode.
	Demo bool `json:"demo"`
	// Seats is the number of licensed seats (1 in demo mode).
	Seats int `json:"seats"`
	// Features are the flags and limits in force.
	Features []Feature `json:"-"`
}

// Entitle turns the outcome of Verify into entitlements. With no error the
// license's seats and features apply. Otherwise the product runs in demo
// mode with the license's demo limits when Verify returned a genuine
// license (ErrUpdatesExpired) that carries some, else with defaults, the
// product's built-in demo limits.
func Entitle(l *License, err error, defaults []Feature) Entitlements {
	if err == nil && l != nil {
		return Entitlements{Seats: l.Seats, Features: l.Features}
	}
	e := Entitlements{Demo: true, Seats: 1, Features: defaults}
	if l != nil && errors.Is(err, ErrUpdatesExpired) && len(l.DemoLimits) > 0 {
		e.Features = l.DemoLimits
	}
	return e
}

// Limit returns the named feature's value; ok is false when it is absent.
func (e Entitlements) Limit(name string) (v int64, ok bool) {
	for _, f := range e.Features {
		if f.Name == name {
			return f.Value, true
		}
	}
	return 0, false
}

// Enabled reports whether the named flag is on (a number counts as on when
// it is positive).
func (e Entitlements) Enabled(name string) bool {
	v, ok := e.Limit(name)
	return ok && v > 0
}

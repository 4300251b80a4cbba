// Package license is the airseal license: a small signed statement of who may
// run which product, where, for how long and with which features, and the
// pure checks a product runs on it with no network.
//
// A vendor builds a [License], signs it with [License.Sign] and hands it out
// in any of three encodings that decode to the identical license: an armored
// text file ([License.Armor]), a typed code a person can read over the phone
// ([License.Code], prefix ASL1) and a QR code carrying that typed code
// (rendered by the vendor's tools, not by this package: a verifier links no
// image library). A product calls [Verify] with the
// bytes it was given, its trusted keyring, the current time and the live
// machine's facts, and gets the license back or an error that [errors.Is]
// matches to one sentinel per verify exit code ([ErrMalformed] ...
// [ErrWrongProduct]). [Entitle] turns that outcome into what the product may
// do, falling back to demo limits when there is no valid license;
// [Combine] merges a main license with the additional licenses that extend
// it (and refuses a demo license combined with others).
//
// The format is specified in docs/spec/license-v1.md.
//
// # Security
//
// The signature is Ed25519 over the domain-separation prefix
// "airseal license v1\x00" followed by the canonical binary payload, so a
// signature over any other airseal object (a revocation list, a bundle) can
// never pass for a license signature. Every field except the comment is
// signed. Decoding is strict: an encoding that is not the canonical one for
// its bytes (extra fields, unsorted features, non-minimal integers, reflowed
// base64) is rejected rather than normalised, so one license has exactly one
// valid payload. The typed code alone is lenient about case, dashes and
// look-alike characters, because people type it; the bytes it decodes to
// must still be canonical.
//
// The comment in an armored file is not signed; anyone can change it. Tools
// print it marked as unsigned and never take a decision on it.
//
// What is not guaranteed: a license check runs on a machine the customer
// controls. The checks stop forgery and editing of licenses and casual clock
// and machine changes; they cannot stop a customer who patches the product's
// binary. Machine binding compares salted hashes of hardware facts the
// operating system reports; a determined customer can fake those facts.
// Clock rollback detection relies on signed times and a state file the
// caller keeps (see [VerifyOptions.ClockFloor]).
package license

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/airseal/airseal/pkg/fingerprint"
	"github.com/airseal/airseal/pkg/keys"
)

// Sentinel errors. Each maps to one exit code of the verify command; the
// number is given in brackets.
var (
	// ErrMalformed means the input is not a license in any encoding, or its
	// payload is not canonical (10).
	ErrMalformed = errors.New("malformed license")
	// ErrBadSignature means the signature does not verify: the license was
	// edited or damaged (10).
	ErrBadSignature = errors.New("bad license signature")
	// ErrUnknownKey means the license was signed by a key the keyring does
	// not trust (11).
	ErrUnknownKey = errors.New("license signed by an unknown key")
	// ErrWrongMachine means the license is bound to another machine (12).
	ErrWrongMachine = errors.New("license is bound to another machine")
	// ErrExpired means the license's expiry time has passed (13).
	ErrExpired = errors.New("license expired")
	// ErrNotYetValid means the license's not-before time is in the future (13).
	ErrNotYetValid = errors.New("license not yet valid")
	// ErrRevoked means the license's serial is on the revocation list (14).
	ErrRevoked = errors.New("license revoked")
	// ErrClockRollback means the clock is earlier than a time already seen (15).
	ErrClockRollback = errors.New("clock set back")
	// ErrVirtualMachine means the machine is virtual and the license does not
	// allow it (16).
	ErrVirtualMachine = errors.New("virtual machine not allowed by the license")
	// ErrUpdatesExpired means this build was released after the license's
	// update subscription ended; the product runs in demo mode (17). Verify
	// returns the (genuine) license together with this error.
	ErrUpdatesExpired = errors.New("this version was released after the update subscription ended")
	// ErrWrongProduct means the license is for another product (18).
	ErrWrongProduct = errors.New("license is for another product")
)

// reasonError is an error with its own message that matches a sentinel, for
// messages the sentinel's own text would make wrong (a revocation list is
// not a license).
type reasonError struct {
	msg      string
	sentinel error
}

func (e *reasonError) Error() string { return e.msg }
func (e *reasonError) Unwrap() error { return e.sentinel }

func reasonf(sentinel error, format string, args ...any) error {
	return &reasonError{msg: fmt.Sprintf(format, args...), sentinel: sentinel}
}

// trusted describes the keys of ring for an error message.
func trusted(ring *keys.Keyring) string {
	ids := ring.IDs()
	if len(ids) == 0 {
		return "this program trusts no keys"
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return "trusted: " + strings.Join(s, ", ")
}

// Kind is the license kind.
type Kind uint8

// License kinds.
const (
	// KindMain is an ordinary license.
	KindMain Kind = 1
	// KindAdditional extends a main license (more seats or features) and
	// names it in MainSerial; it is useless without it.
	KindAdditional Kind = 2
	// KindDemo is a time-limited demonstration license; it cannot be combined
	// with other licenses of the same product.
	KindDemo Kind = 3
)

// kindNames are the kinds' names, indexed by Kind (a slice, laid out by
// the compiler; a map would be built at every start of verify).
var kindNames = [...]string{KindMain: "main", KindAdditional: "additional", KindDemo: "demo"}

// known reports whether k is one of the three kinds.
func (k Kind) known() bool { return int(k) < len(kindNames) && kindNames[k] != "" }

// String returns "main", "additional" or "demo".
func (k Kind) String() string {
	if k.known() {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind parses "main", "additional" or "demo".
func ParseKind(s string) (Kind, error) {
	for k, n := range kindNames {
		if n != "" && n == s {
			return Kind(k), nil
		}
	}
	return 0, fmt.Errorf("license kind %q: want main, additional or demo", s)
}

// Customer is who the license was sold to.
type Customer struct {
	// Name is the organisation's name.
	Name string `json:"name"`
	// TaxID is the customer's tax identifier (for example ИНН/КПП); may be empty.
	TaxID string `json:"tax_id"`
}

// Feature is a named feature flag (IsBool, Value 0 or 1) or numeric limit.
type Feature struct {
	// Name is 1..64 characters of a-z, 0-9, '_', '.' and '-'.
	Name string
	// Value is the limit, or 0/1 for a flag.
	Value int64
	// IsBool is true for an on/off flag.
	IsBool bool
}

// String returns "name=true", "name=false" or "name=N".
func (f Feature) String() string {
	if f.IsBool {
		return fmt.Sprintf("%s=%t", f.Name, f.Value != 0)
	}
	return fmt.Sprintf("%s=%d", f.Name, f.Value)
}

// License is a decoded license. Every field but Comment and Signature is
// covered by the signature.
type License struct {
	// Serial is the license's unique, printable serial number.
	Serial string
	// KeyID names the key that signed the license; Sign sets it.
	KeyID keys.ID
	// Product names the product the license is for.
	Product string
	// Edition is the product edition ("standard", "pro", ...); may be empty.
	Edition string
	// Kind is main, additional or demo.
	Kind Kind
	// MainSerial is, for an additional license, the serial of the main
	// license it extends; empty otherwise.
	MainSerial string
	// Customer is who the license was sold to.
	Customer Customer
	// IssuedAt is when the license was signed (whole seconds, UTC).
	IssuedAt time.Time
	// NotBefore is when the license starts to be valid.
	NotBefore time.Time
	// Expires is when it stops being valid; nil means perpetual.
	Expires *time.Time
	// UpdatesUntil is when the update subscription ends: builds released
	// after it run in demo mode. nil means no subscription end.
	UpdatesUntil *time.Time
	// Seats is the number of licensed seats (at least 1).
	Seats int
	// Features are feature flags and limits, sorted by name.
	Features []Feature
	// DemoLimits are the limits that apply in demo mode, sorted by name.
	DemoLimits []Feature
	// Machine is the machine binding; nil means bound to no machine.
	Machine *fingerprint.Fingerprint
	// AllowVirtual allows a bound license to run in a virtual machine or
	// container.
	AllowVirtual bool

	// Comment is the armored file's unsigned comment. Anyone can change it.
	Comment string
	// Signature is the Ed25519 signature; Sign sets it.
	Signature []byte
}

// Feature returns the named feature.
func (l *License) Feature(name string) (Feature, bool) {
	for _, f := range l.Features {
		if f.Name == name {
			return f, true
		}
	}
	return Feature{}, false
}

// NewSerial returns a new random serial: 16 characters of Crockford's base32
// in four dash-separated groups (80 bits), from r (crypto/rand when nil).
func NewSerial(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [10]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", err
	}
	const alpha = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var out []byte
	var acc uint64
	for _, c := range b[:5] {
		acc = acc<<8 | uint64(c)
	}
	acc2 := uint64(0)
	for _, c := range b[5:] {
		acc2 = acc2<<8 | uint64(c)
	}
	for i, a := range []uint64{acc, acc2} {
		for j := 7; j >= 0; j-- {
			out = append(out, alpha[(a>>(5*j))&31])
			if j == 4 {
				out = append(out, '-')
			}
		}
		if i == 0 {
			out = append(out, '-')
		}
	}
	return string(out), nil
}

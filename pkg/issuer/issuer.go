// Package issuer is the vendor's side of airseal as a library: it checks
// what is about to be signed, binds a license to a machine under the
// vendor's policy, signs licenses and revocation lists, and records each in
// the vendor's ledger before anything leaves the program. The issue command
// is a thin layer over it; a vendor's own portal or CI can use it to issue
// licenses with the same guarantees.
//
// A license is issued in two steps: [Prepare] turns an [Order] into a
// [Draft] without the private key (so a portal can show the vendor what
// will be bound, and a CLI can refuse bad input before asking for the
// passphrase), then [Issuer.Issue] signs, checks and records it.
// [Issuer.Revoke] makes the next revocation list.
//
// # Security
//
// What is guaranteed:
//   - A machine binding's weights and match rule are the vendor's policy
//     (hwid.BindingRule), recomputed from the component names; the rule a
//     license request claims is never copied, and a request asking for a
//     looser rule is reported in Draft.Warnings.
//   - Every license and revocation list is in the ledger before Issue or
//     Revoke returns it; if recording fails nothing is returned.
//   - Nothing is produced that the customer's verifier would refuse: the
//     signed outputs are decoded again and checked against the readers'
//     size limits before they are recorded.
//   - A revocation list is never made without a serial of the previous one
//     (from the ledger, from a given list, or from the file it replaces).
//
// What is not: the ledger is only as safe as the disk it is on (back it
// up), and a license request is unsigned: its component hashes are the
// customer's word.
package issuer

import (
	"fmt"
	"strings"

	"github.com/airseal/airseal/pkg/keys"
)

// FieldError is a validation error that names the input at fault. Field is
// the name of the license field in its JSON form ("serial", "customer.name",
// "expires", "machine.need", "comment", ...); "request.product",
// "request.customer", "request.virtualization" or "request.fingerprint" for
// a problem with the license request; "license" or "qr" for an output a
// reader would refuse; "serials", "list" (the previous revocation list),
// "output" (the file a revocation list would replace) or "revocations" for
// a revocation.
type FieldError struct {
	Field  string
	Reason string
	// Err is the underlying error, if any; errors.Is and errors.As see it
	// (for example license.ErrBadSignature for a previous list).
	Err error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErrorf(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// asFieldError turns the "field: reason" errors of license.Validate into a
// FieldError; license.Validate names its fields that way.
func asFieldError(err error) error {
	msg := err.Error()
	if f, reason, ok := strings.Cut(msg, ": "); ok && !strings.ContainsAny(f, " \t") {
		return &FieldError{Field: f, Reason: reason}
	}
	return err
}

// Issuer signs with one key and records in one ledger.
type Issuer struct {
	// Key is the vendor's private signing key.
	Key *keys.PrivateKey
	// Ledger is the vendor's ledger of everything issued.
	Ledger *Ledger
}

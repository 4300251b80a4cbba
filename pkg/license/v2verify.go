package license

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/airseal/airseal/pkg/fingerprint"
)

// VerifyServer checks a v2 (server) license given in any encoding and
// returns it, or an error matching one of the package's sentinels. A v1
// license is refused as malformed: it names no server response key.
//
// It runs the v1 checks in the v1 order except the machine checks: format
// (ErrMalformed), key (ErrUnknownKey), signature (ErrBadSignature), product
// (ErrWrongProduct), revocation (ErrRevoked), clock (ErrClockRollback),
// validity period (ErrNotYetValid, ErrExpired), update subscription
// (ErrUpdatesExpired, returned with the genuine license). opts.Machine is
// ignored: machines are bound per node, and only the server itself checks
// its own node with [ServerLicense.MatchNode]. A client cannot check the
// server's machine; the vendor's signature over node and key binds them.
func VerifyServer(input []byte, opts VerifyOptions) (*ServerLicense, error) {
	payload, sig, comment, err := splitRaw(input)
	if err != nil {
		return nil, err
	}
	if payload[0] == Version {
		return nil, fmt.Errorf("%w: this is a v1 license; a seat server needs a v2 server license issued from its server request (license-server init)", ErrMalformed)
	}
	s, err := UnmarshalPayloadV2(payload)
	if err != nil {
		return nil, err
	}
	k, ok := opts.Keyring.Get(s.KeyID)
	if !ok {
		return nil, fmt.Errorf("%w %s (%s)", ErrUnknownKey, s.KeyID, trusted(opts.Keyring))
	}
	msg := append([]byte(SignaturePrefixV2), payload...)
	if !k.Verify(msg, sig) {
		return nil, fmt.Errorf("%w: the license was changed after signing or is damaged", ErrBadSignature)
	}
	s.Signature = slices.Clone(sig)
	s.Comment = comment
	if err := checkSigned(&s.License, opts); err != nil {
		if errors.Is(err, ErrUpdatesExpired) {
			return s, err
		}
		return nil, err
	}
	return s, nil
}

// checkSigned runs the checks after the signature on a genuine license
// (product, revocation, clock, validity, update subscription), as Verify
// does for v1 minus the machine checks.
func checkSigned(l *License, opts VerifyOptions) error {
	if opts.Product != "" && opts.Product != l.Product {
		return fmt.Errorf("%w: license is for %q, this is %q", ErrWrongProduct, l.Product, opts.Product)
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
			return err
		}
		if seen := opts.RevocationSeen[rl.KeyID]; rl.Sequence < seen {
			return fmt.Errorf("%w check failed: revocation list %d is older than list %d already seen, and an older list can hide a revocation; use the newest list",
				ErrRevoked, rl.Sequence, seen)
		}
		if rl.Contains(l.Serial) {
			return fmt.Errorf("%w: serial %s is on revocation list %d", ErrRevoked, l.Serial, rl.Sequence)
		}
		if rl.IssuedAt.After(floor) {
			floor = rl.IssuedAt
		}
	}
	if slices.Contains(opts.RevokedSerials, l.Serial) {
		return fmt.Errorf("%w: serial %s is revoked by an update bundle", ErrRevoked, l.Serial)
	}
	now := opts.Now
	if now.Add(skew).Before(floor) {
		return fmt.Errorf("%w: the clock says %s but %s was already seen; set the clock right",
			ErrClockRollback, now.UTC().Format(time.RFC3339), floor.UTC().Format(time.RFC3339))
	}
	if now.Add(skew).Before(l.NotBefore) {
		return fmt.Errorf("%w: valid from %s", ErrNotYetValid, l.NotBefore.UTC().Format(time.RFC3339))
	}
	if l.Expires != nil && !now.Before(*l.Expires) {
		return fmt.Errorf("%w on %s", ErrExpired, l.Expires.UTC().Format(time.RFC3339))
	}
	if u := l.UpdatesUntil; u != nil && !opts.ReleaseDate.IsZero() && opts.ReleaseDate.After(*u) {
		return fmt.Errorf("%w: released on %s, the subscription ended on %s; running in demo mode",
			ErrUpdatesExpired, day(opts.ReleaseDate), day(*u))
	}
	return nil
}

// MatchNode is the server's own check at start: the node whose response
// key is pub (the public half of the key the server holds) must be bound to
// machine m (k of n, as v1), and m may be virtual only if that node allows
// it. It returns the node, or an error matching ErrUnknownKey (the key is
// not named by the license), ErrVirtualMachine or ErrWrongMachine. An
// unbound node matches any machine.
func (s *ServerLicense) MatchNode(m *Machine, pub ed25519.PublicKey) (*Node, error) {
	n, ok := s.NodeByKey(pub)
	if !ok {
		return nil, reasonf(ErrUnknownKey, "this server's response key %s is not named by license %s: the license was issued for another server request; send this server's server-request.json to the vendor",
			keyHex(pub), s.Serial)
	}
	if n.Machine == nil {
		return n, nil
	}
	if m == nil {
		return nil, fmt.Errorf("%w: node %q is bound to a machine and no machine facts were given", ErrWrongMachine, n.Name)
	}
	if m.Virtualization != "none" && !n.AllowVirtual {
		what := m.Virtualization
		if m.Technology != "" {
			what += " (" + m.Technology + ")"
		}
		return nil, fmt.Errorf("%w: this machine is a %s and node %q does not allow virtual machines", ErrVirtualMachine, what, n.Name)
	}
	if res := fingerprint.Match(*n.Machine, m.Components, m.RootRead); !res.OK {
		return nil, fmt.Errorf("%w: node %q: %s", ErrWrongMachine, n.Name, res.String())
	}
	return n, nil
}

// keyHex shortens a public key for a message.
func keyHex(pub ed25519.PublicKey) string {
	const hexdigits = "0123456789abcdef"
	var b []byte
	for i, c := range pub {
		if i == 8 {
			b = append(b, "…"...)
			break
		}
		b = append(b, hexdigits[c>>4], hexdigits[c&15])
	}
	return string(b)
}

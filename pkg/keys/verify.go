package keys

import (
	"crypto/ed25519"
	"crypto/sha512"
	"crypto/subtle"
	"sync/atomic"

	"filippo.io/edwards25519"
)

// tableFreeVerifications is how many signatures a process checks with
// verifyEd25519 before it switches to crypto/ed25519.Verify: by then the
// latter's one-time base-point precomputation (about as costly as a few
// verifications) pays for itself in a long-running process (a server, a
// batch), and a short-lived one such as the verify command never pays it.
const tableFreeVerifications = 8

// verifications counts the signatures checked by this process.
var verifications atomic.Int64

// verifySignature reports whether sig is a valid Ed25519 signature of msg by
// pub: with verifyEd25519 for the first tableFreeVerifications calls of
// the process, with crypto/ed25519 after them. Both give the same answer
// for every input (TestVerifyMatchesCryptoEd25519).
func verifySignature(pub ed25519.PublicKey, msg, sig []byte) bool {
	if verifications.Add(1) <= tableFreeVerifications {
		return verifyEd25519(pub, msg, sig)
	}
	return len(pub) == ed25519.PublicKeySize && len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, msg, sig)
}

// verifyEd25519 reports whether sig is a valid Ed25519 signature of msg by
// pub, with the exact rules of crypto/ed25519.Verify (RFC 8032 pure
// Ed25519, cofactorless equation [S]B = R + [k]A, S must be canonical, A
// decoded as crypto/ed25519 decodes it, R compared as encoded bytes).
//
// It computes [k](-A) + [S]B with a variable-time multi-scalar
// multiplication that builds small tables for both points, where
// crypto/ed25519 first precomputes a table of 64 multiples of the base point
// in affine form, once per process (64 field inversions: about 0.3 ms, more
// than the whole verification). A verifier that runs once and exits, such
// as the verify command, pays that precomputation on every start (issue 9,
// Measures). Verification handles only public data, so variable time is
// what crypto/ed25519 does too. TestVerifyMatchesCryptoEd25519 and
// FuzzVerifyMatchesCryptoEd25519 hold the two to the same answers; see
// verifySignature for when each is used.
func verifyEd25519(pub ed25519.PublicKey, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize || sig[63]&224 != 0 {
		return false
	}
	a, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return false
	}
	s, err := edwards25519.NewScalar().SetCanonicalBytes(sig[32:])
	if err != nil {
		return false
	}
	h := sha512.New()
	h.Write(sig[:32])
	h.Write(pub)
	h.Write(msg)
	var digest [sha512.Size]byte
	k, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(digest[:0]))
	if err != nil {
		return false
	}
	minusA := new(edwards25519.Point).Negate(a)
	r := new(edwards25519.Point).VarTimeMultiScalarMult(
		[]*edwards25519.Scalar{k, s},
		[]*edwards25519.Point{minusA, edwards25519.NewGeneratorPoint()})
	return subtle.ConstantTimeCompare(sig[:32], r.Bytes()) == 1
}

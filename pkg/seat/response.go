package seat

// This file holds the response signature: the message a seat server signs
// with its response key and a client checks.

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/airseal/airseal/pkg/license"
)

// responseDomain separates seat responses from every other airseal signature.
const responseDomain = "airseal seat response v1\x00"

// ErrBadResponseSignature is returned when a response signature does not
// verify under the given key.
var ErrBadResponseSignature = errors.New("seat: response signature does not verify")

// Response is what a signed seat-server response covers.
type Response struct {
	QueryID string // the client's Licence-QueryID, echoed
	Method  string // request method, upper case
	Path    string // escaped request path, without query string
	Status  int    // HTTP status code
	Time    string // the Licence-Time header value
	Body    []byte // the exact response body
}

// Message returns the bytes the server signs for r: the domain prefix, then
// each field as a 4-byte big-endian length followed by its bytes.
func (r Response) Message() []byte {
	status := fmt.Sprint(r.Status)
	fields := [][]byte{[]byte(r.QueryID), []byte(r.Method), []byte(r.Path), []byte(status), []byte(r.Time), r.Body}
	n := len(responseDomain)
	for _, f := range fields {
		n += 4 + len(f)
	}
	m := make([]byte, 0, n)
	m = append(m, responseDomain...)
	for _, f := range fields {
		m = binary.BigEndian.AppendUint32(m, uint32(len(f)))
		m = append(m, f...)
	}
	return m
}

// Sign signs r with the server's response key.
func (r Response) Sign(key ed25519.PrivateKey) []byte {
	return ed25519.Sign(key, r.Message())
}

// Verify checks sig over r with pub. It returns ErrBadResponseSignature when
// the key has the wrong size or the signature does not verify.
func (r Response) Verify(pub ed25519.PublicKey, sig []byte) error {
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, r.Message(), sig) {
		return ErrBadResponseSignature
	}
	return nil
}

// ResponseKeyID returns the ID that names a response public key in the
// Licence-Key header: the first 8 bytes of SHA-256 over a domain prefix and
// the key, in lower-case hex.
//
// It is license.ResponseKeyID: the license format names response keys, and
// packages below pkg/seat (pkg/transfer) compute the same ID.
func ResponseKeyID(pub ed25519.PublicKey) string { return license.ResponseKeyID(pub) }

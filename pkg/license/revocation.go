package license

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/airseal/airseal/pkg/keys"
)

// Revocation list format constants. See docs/spec/license-v1.md.
const (
	// RevocationPrefix is prepended to a revocation list payload to form
	// the signed message.
	RevocationPrefix = "airseal revocation list v1\x00"

	revocationLabel = "AIRSEAL REVOCATION LIST"

	// MaxRevokedSerials is the most serials one revocation list holds
	// (1,048,576). A reader refuses a list that claims more before reading
	// them.
	MaxRevokedSerials = 1 << 20

	// MaxRevocationFile is the largest armored revocation list, in bytes
	// (16 MiB): readers may refuse a bigger file unread, and issue refuses
	// to write one. 16 MiB holds about 620,000 serials of the form issue
	// generates.
	MaxRevocationFile = 16 << 20
)

// RevocationList is a signed list of revoked license serials. Its sequence
// number only grows: each new list carries every serial of the previous one.
type RevocationList struct {
	// KeyID names the signing key.
	KeyID keys.ID
	// Sequence is the list's number; a newer list has a larger one.
	Sequence uint64
	// IssuedAt is when the list was signed (whole seconds, UTC).
	IssuedAt time.Time
	// Serials are the revoked serials, sorted, without repeats.
	Serials []string
	// Signature is the Ed25519 signature.
	Signature []byte
}

// Contains reports whether serial is revoked. Serials are sorted, so the
// cost is a binary search: about 17 comparisons for 100,000 serials.
// serial is compared as given; normalise a serial typed by a person with
// NormalizeSerial first.
func (r *RevocationList) Contains(serial string) bool {
	i := sort.SearchStrings(r.Serials, serial)
	return i < len(r.Serials) && r.Serials[i] == serial
}

// Next returns a new unsigned list carrying r's serials and the given ones,
// with the sequence number incremented. r may be nil (the first list).
func (r *RevocationList) Next(serials []string, now time.Time) *RevocationList {
	n := &RevocationList{Sequence: 1, IssuedAt: now.UTC().Truncate(time.Second)}
	var all []string
	if r != nil {
		n.Sequence = r.Sequence + 1
		all = make([]string, 0, len(r.Serials)+len(serials))
		all = append(all, r.Serials...)
	}
	all = append(all, serials...)
	sort.Strings(all)
	n.Serials = slices.Compact(all)
	return n
}

func (r *RevocationList) marshalPayload() ([]byte, error) {
	if _, err := keys.ParseID(string(r.KeyID)); err != nil {
		return nil, reasonf(ErrMalformed, "malformed revocation list: key_id: %v", err)
	}
	if r.Sequence < 1 {
		return nil, reasonf(ErrMalformed, "malformed revocation list: sequence must be at least 1")
	}
	if u := r.IssuedAt.Unix(); u < 1 || u > MaxUnixTime || r.IssuedAt.Nanosecond() != 0 {
		return nil, reasonf(ErrMalformed, "malformed revocation list: issued_at must be a whole second from 1970-01-01T00:00:01Z to 9999-12-31T23:59:59Z")
	}
	if len(r.Serials) > MaxRevokedSerials {
		return nil, reasonf(ErrMalformed, "malformed revocation list: %d serials, at most %d", len(r.Serials), MaxRevokedSerials)
	}
	b := []byte{Version}
	kid, _ := hex.DecodeString(string(r.KeyID))
	b = append(b, kid...)
	b = binary.AppendUvarint(b, r.Sequence)
	b = binary.AppendUvarint(b, uint64(r.IssuedAt.Unix()))
	b = binary.AppendUvarint(b, uint64(len(r.Serials)))
	for i, s := range r.Serials {
		if err := checkText("serial", s, true); err != nil {
			return nil, reasonf(ErrMalformed, "malformed revocation list: %v", err)
		}
		if i > 0 && r.Serials[i-1] >= s {
			return nil, reasonf(ErrMalformed, "malformed revocation list: serials are not sorted or repeat %q", s)
		}
		b = appendString(b, s)
	}
	return b, nil
}

// Sign sets KeyID and signs the list with k.
func (r *RevocationList) Sign(k *keys.PrivateKey) error {
	r.KeyID = k.ID()
	p, err := r.marshalPayload()
	if err != nil {
		return err
	}
	r.Signature = k.Sign(append([]byte(RevocationPrefix), p...))
	return nil
}

// Armor returns the signed list as an armored text file.
func (r *RevocationList) Armor() ([]byte, error) {
	p, err := r.marshalPayload()
	if err != nil {
		return nil, err
	}
	if len(r.Signature) != SignatureSize {
		return nil, fmt.Errorf("revocation list is not signed")
	}
	return armor(revocationLabel, append(p, r.Signature...), ""), nil
}

// DecodeRevocations parses an armored revocation list WITHOUT checking its
// signature, for inspection only.
func DecodeRevocations(data []byte) (*RevocationList, error) {
	if len(data) > MaxRevocationFile {
		return nil, reasonf(ErrMalformed, "malformed revocation list: %d bytes, at most %d", len(data), MaxRevocationFile)
	}
	raw, _, err := dearmor(revocationLabel, data)
	if err != nil {
		return nil, reasonf(ErrMalformed, "malformed revocation list: %v", err)
	}
	if len(raw) < SignatureSize+1 {
		return nil, reasonf(ErrMalformed, "malformed revocation list: %d bytes is too short", len(raw))
	}
	p, sig := raw[:len(raw)-SignatureSize], raw[len(raw)-SignatureSize:]
	r := &reader{b: p}
	if v := r.byte("version"); r.err == nil && v != Version {
		return nil, reasonf(ErrMalformed, "malformed revocation list: format version %d, this program reads version %d", v, Version)
	}
	l := &RevocationList{}
	l.KeyID = keys.ID(hex.EncodeToString(r.bytes("key_id", keys.IDLen/2)))
	l.Sequence = r.uvarint("sequence", 1<<62)
	l.IssuedAt = r.time("issued_at")
	n := r.uvarint("serials", MaxRevokedSerials)
	// Each serial takes at least two bytes: a claimed count cannot make
	// this allocate more than the input warrants.
	l.Serials = make([]string, 0, min(n, uint64(len(r.b)/2)))
	for i := uint64(0); i < n && r.err == nil; i++ {
		l.Serials = append(l.Serials, r.string("serial"))
	}
	if r.err != nil {
		return nil, reasonf(ErrMalformed, "malformed revocation list: %v", r.err)
	}
	if len(r.b) != 0 {
		return nil, reasonf(ErrMalformed, "malformed revocation list: %d unexpected bytes at the end", len(r.b))
	}
	again, err := l.marshalPayload()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, p) {
		return nil, reasonf(ErrMalformed, "malformed revocation list: not in canonical form")
	}
	l.Signature = append([]byte(nil), sig...)
	return l, nil
}

// OpenRevocations parses an armored revocation list and checks its
// signature against ring. A list signed by a key ring does not hold is
// refused with an error matching ErrUnknownKey.
func OpenRevocations(data []byte, ring *keys.Keyring) (*RevocationList, error) {
	l, err := DecodeRevocations(data)
	if err != nil {
		return nil, err
	}
	k, ok := ring.Get(l.KeyID)
	if !ok {
		return nil, reasonf(ErrUnknownKey, "revocation list signed by an unknown key %s (%s)", l.KeyID, trusted(ring))
	}
	p, _ := l.marshalPayload()
	if !k.Verify(append([]byte(RevocationPrefix), p...), l.Signature) {
		return nil, reasonf(ErrBadSignature, "bad revocation list signature: the list was changed after signing or is damaged")
	}
	return l, nil
}

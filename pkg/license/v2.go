package license

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/airseal/airseal/internal/typedcode"
	"github.com/airseal/airseal/pkg/fingerprint"
	"github.com/airseal/airseal/pkg/keys"
)

// Format v2 constants. See docs/spec/license-v2.md.
const (
	// VersionV2 is the payload format version byte of a server license.
	VersionV2 = 2
	// SignaturePrefixV2 is prepended to a v2 payload to form the signed
	// message. It differs from SignaturePrefix, so a v2 signature can never
	// pass for a v1 one or the other way round.
	SignaturePrefixV2 = "airseal license v2\x00"
	// MaxNodes is the largest number of server nodes a v2 license names.
	MaxNodes = 16

	nodeBound   = 1 << 0
	nodeVirtual = 1 << 1
	nodeKnown   = nodeBound | nodeVirtual
)

// SeatUnit is what one seat counts in a server license.
type SeatUnit uint8

// Seat units.
const (
	// PerSession: every session takes a seat (the default).
	PerSession SeatUnit = 1
	// PerComputer: every session from one computer name shares one seat.
	PerComputer SeatUnit = 2
)

// String returns "session" or "computer".
func (u SeatUnit) String() string {
	switch u {
	case PerSession:
		return "session"
	case PerComputer:
		return "computer"
	}
	return fmt.Sprintf("seat_unit(%d)", uint8(u))
}

// Node is one seat-server machine named by a server license: its name, the
// machine it is bound to and the public key that signs its responses.
type Node struct {
	// Name is 1..64 characters of a-z, 0-9, '_', '.' and '-'.
	Name string
	// Machine is the node's machine binding; nil means bound to no machine.
	Machine *fingerprint.Fingerprint
	// AllowVirtual allows a bound node to run in a virtual machine or
	// container.
	AllowVirtual bool
	// ResponseKey is the node's Ed25519 public response key.
	ResponseKey ed25519.PublicKey
}

// ServerLicense is a decoded v2 license: the v1 fields (License, whose
// Machine must be nil and AllowVirtual false, since v2 binds machines per
// node), the seat unit and the server nodes. Seats is one count for all the
// nodes together.
//
// The encoding methods (Sign, Raw, Armor, Code,
// MarshalPayload, Validate) are the v2 ones; the embedded License's methods
// of the same names are shadowed and must not be called on a server license.
type ServerLicense struct {
	License
	// SeatUnit is what one seat counts; 0 is taken as PerSession by Sign.
	SeatUnit SeatUnit
	// Nodes are the server nodes, sorted by name.
	Nodes []Node
}

// Validate checks the license's fields before signing. Errors name the field.
func (s *ServerLicense) Validate() error {
	if s.License.Machine != nil {
		return fmt.Errorf("machine: a server license binds machines per node, not at license level")
	}
	if s.License.AllowVirtual {
		return fmt.Errorf("allow_virtual: a server license allows virtual machines per node, not at license level")
	}
	if err := s.License.Validate(); err != nil {
		return err
	}
	if s.SeatUnit != PerSession && s.SeatUnit != PerComputer {
		return fmt.Errorf("seat_unit: %d is not per session (1) or per computer (2)", s.SeatUnit)
	}
	if len(s.Nodes) < 1 || len(s.Nodes) > MaxNodes {
		return fmt.Errorf("nodes: %d nodes, want 1 to %d", len(s.Nodes), MaxNodes)
	}
	keysSeen := map[string]string{}
	for i, n := range s.Nodes {
		if err := checkName(n.Name); err != nil {
			return fmt.Errorf("nodes: %v", err)
		}
		if i > 0 && s.Nodes[i-1].Name >= n.Name {
			return fmt.Errorf("nodes: %q and %q are not sorted by name or repeat a name", s.Nodes[i-1].Name, n.Name)
		}
		if len(n.ResponseKey) != ed25519.PublicKeySize {
			return fmt.Errorf("nodes: node %q: response key is %d bytes, want %d", n.Name, len(n.ResponseKey), ed25519.PublicKeySize)
		}
		if other, ok := keysSeen[string(n.ResponseKey)]; ok {
			return fmt.Errorf("nodes: nodes %q and %q have the same response key; every node needs its own", other, n.Name)
		}
		keysSeen[string(n.ResponseKey)] = n.Name
		if n.Machine == nil {
			if n.AllowVirtual {
				return fmt.Errorf("nodes: node %q: allow_virtual is only meaningful for a node bound to a machine", n.Name)
			}
			continue
		}
		if err := n.Machine.Validate(); err != nil {
			return fmt.Errorf("nodes: node %q: machine: %v", n.Name, err)
		}
		if len(n.Machine.Components) > maxList {
			return fmt.Errorf("nodes: node %q: machine: %d components, at most %d", n.Name, len(n.Machine.Components), maxList)
		}
		for _, c := range n.Machine.Components {
			if err := checkName(c.Name); err != nil {
				return fmt.Errorf("nodes: node %q: machine: component %v", n.Name, err)
			}
		}
	}
	return nil
}

// MarshalPayload returns the canonical v2 payload: the bytes the signature
// covers (after SignaturePrefixV2).
func (s *ServerLicense) MarshalPayload() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return s.appendPayload(make([]byte, 0, 512)), nil
}

// appendPayload appends the encoding of a validated server license to b:
// the v1 fields 2–17 (the v1 encoding with its version byte replaced),
// then seat_unit and the nodes.
func (s *ServerLicense) appendPayload(b []byte) []byte {
	start := len(b)
	b = s.License.appendPayload(b)
	b[start] = VersionV2
	b = append(b, byte(s.SeatUnit))
	b = binary.AppendUvarint(b, uint64(len(s.Nodes)))
	for _, n := range s.Nodes {
		b = appendString(b, n.Name)
		var flags byte
		if n.Machine != nil {
			flags |= nodeBound
		}
		if n.AllowVirtual {
			flags |= nodeVirtual
		}
		b = append(b, flags)
		if m := n.Machine; m != nil {
			b = appendMachine(b, m)
		}
		b = append(b, n.ResponseKey...)
	}
	return b
}

// appendMachine appends a machine binding in the v1 encoding.
func appendMachine(b []byte, m *fingerprint.Fingerprint) []byte {
	b = binary.AppendUvarint(b, uint64(m.Need))
	b = binary.AppendUvarint(b, uint64(len(m.Components)))
	for _, c := range m.Components {
		b = appendString(b, c.Name)
		b = binary.AppendUvarint(b, uint64(c.Weight))
		if c.NeedsRoot {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		h, _ := hex.DecodeString(c.Hash)
		b = append(b, h...)
	}
	return b
}

// machineV2 reads a machine binding in the v1 encoding.
func (r *reader) machineV2(field string) *fingerprint.Fingerprint {
	m := &fingerprint.Fingerprint{}
	m.Need = int(r.uvarint(field+".need", 1<<20))
	n := r.uvarint(field+".components", maxList)
	for i := uint64(0); i < n && r.err == nil; i++ {
		c := fingerprint.Component{Name: r.string(field + ".component.name")}
		c.Weight = int(r.uvarint(field+".component.weight", 1<<20))
		switch nr := r.byte(field + ".component.needs_root"); nr {
		case 0:
		case 1:
			c.NeedsRoot = true
		default:
			r.fail("%s.component.needs_root: %d is not 0 or 1", field, nr)
		}
		c.Hash = hex.EncodeToString(r.bytes(field+".component.hash", hashBytes))
		m.Components = append(m.Components, c)
	}
	return m
}

// UnmarshalPayloadV2 parses a canonical v2 payload. It checks the format,
// the field rules and that re-encoding gives back exactly the same bytes,
// but not the signature.
func UnmarshalPayloadV2(p []byte) (*ServerLicense, error) {
	r := &reader{b: p}
	if v := r.byte("version"); r.err == nil && v != VersionV2 {
		return nil, fmt.Errorf("%w: format version %d, a server license is version %d", ErrMalformed, v, VersionV2)
	}
	s := &ServerLicense{}
	l := &s.License
	l.KeyID = keys.ID(hex.EncodeToString(r.bytes("key_id", keys.IDLen/2)))
	l.Serial = r.string("serial")
	l.Product = r.string("product")
	l.Edition = r.string("edition")
	l.Kind = Kind(r.byte("kind"))
	l.MainSerial = r.string("main_serial")
	l.Customer.Name = r.string("customer.name")
	l.Customer.TaxID = r.string("customer.tax_id")
	l.IssuedAt = r.time("issued_at")
	l.NotBefore = r.time("not_before")
	flags := r.byte("flags")
	if flags&^(flagExpires|flagUpdates) != 0 {
		r.fail("flags: bits %#x are unknown or not allowed in v2 (machines are bound per node)", flags&^(flagExpires|flagUpdates))
	}
	if flags&flagExpires != 0 {
		t := r.time("expires")
		l.Expires = &t
	}
	if flags&flagUpdates != 0 {
		t := r.time("updates_until")
		l.UpdatesUntil = &t
	}
	l.Seats = int(r.uvarint("seats", 1<<31-1))
	l.Features = r.features("features")
	l.DemoLimits = r.features("demo_limits")
	s.SeatUnit = SeatUnit(r.byte("seat_unit"))
	n := r.uvarint("nodes", MaxNodes)
	for i := uint64(0); i < n && r.err == nil; i++ {
		nd := Node{Name: r.string("node.name")}
		f := r.byte("node.flags")
		if f&^nodeKnown != 0 {
			r.fail("node.flags: unknown bits %#x", f&^nodeKnown)
		}
		nd.AllowVirtual = f&nodeVirtual != 0
		if f&nodeBound != 0 {
			nd.Machine = r.machineV2("node.machine")
		}
		nd.ResponseKey = ed25519.PublicKey(bytes.Clone(r.bytes("node.response_key", ed25519.PublicKeySize)))
		s.Nodes = append(s.Nodes, nd)
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, r.err)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d unexpected bytes after the last field", ErrMalformed, len(r.b))
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !bytes.Equal(s.appendPayload(make([]byte, 0, len(p))), p) {
		return nil, fmt.Errorf("%w: payload is not in canonical form", ErrMalformed)
	}
	return s, nil
}

// Sign sets KeyID to k's ID (and a zero SeatUnit to PerSession) and signs
// the server license with k under the v2 prefix.
func (s *ServerLicense) Sign(k *keys.PrivateKey) error {
	s.KeyID = k.ID()
	if s.SeatUnit == 0 {
		s.SeatUnit = PerSession
	}
	p, err := s.MarshalPayload()
	if err != nil {
		return err
	}
	s.Signature = k.Sign(append([]byte(SignaturePrefixV2), p...))
	return nil
}

// Raw returns the canonical v2 payload followed by the 64-byte signature.
func (s *ServerLicense) Raw() ([]byte, error) {
	if len(s.Signature) != SignatureSize {
		return nil, fmt.Errorf("license is not signed")
	}
	p, err := s.MarshalPayload()
	if err != nil {
		return nil, err
	}
	return append(p, s.Signature...), nil
}

// Armor returns the armored text file, as for v1 (same BEGIN line).
func (s *ServerLicense) Armor() ([]byte, error) {
	raw, err := s.Raw()
	if err != nil {
		return nil, err
	}
	return armor(armorLabel, raw, s.Comment), nil
}

// Code returns the server license as a typed code (prefix ASL1, as v1).
func (s *ServerLicense) Code() (string, error) {
	raw, err := s.Raw()
	if err != nil {
		return "", err
	}
	return typedcode.Encode(CodePrefix, raw), nil
}

// PayloadVersion returns the format version of a license in any encoding
// (1 or 2) without checking anything else, so a caller can dispatch to
// Verify or VerifyServer.
func PayloadVersion(input []byte) (int, error) {
	payload, _, _, err := splitRaw(input)
	if err != nil {
		return 0, err
	}
	return int(payload[0]), nil
}

// DecodeServer parses a v2 license in any encoding WITHOUT checking its
// signature, for inspection only. Never act on it; use VerifyServer.
func DecodeServer(input []byte) (*ServerLicense, error) {
	payload, sig, comment, err := splitRaw(input)
	if err != nil {
		return nil, err
	}
	s, err := UnmarshalPayloadV2(payload)
	if err != nil {
		return nil, err
	}
	s.Signature = bytes.Clone(sig)
	s.Comment = comment
	return s, nil
}

// NodeByKey returns the node whose response key is pub.
func (s *ServerLicense) NodeByKey(pub ed25519.PublicKey) (*Node, bool) {
	for i := range s.Nodes {
		if s.Nodes[i].ResponseKey.Equal(pub) {
			return &s.Nodes[i], true
		}
	}
	return nil, false
}

// responseKeyDomain separates response key IDs from other key IDs.
const responseKeyDomain = "airseal response key v1\x00"

// ResponseKeyID returns the ID that names a server's response public key
// (the Licence-Key header of the seat protocol, transfer receipts): the
// first 8 bytes of SHA-256 over a domain prefix and the key, in lower-case
// hex.
func ResponseKeyID(pub ed25519.PublicKey) string {
	h := sha256.New()
	h.Write([]byte(responseKeyDomain))
	h.Write(pub)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

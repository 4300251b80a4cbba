package license

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"github.com/airseal/airseal/internal/safetext"
	"time"

	"github.com/airseal/airseal/pkg/fingerprint"
	"github.com/airseal/airseal/pkg/keys"
)

// Format constants. See docs/spec/license-v1.md.
const (
	// Version is the payload format version byte.
	Version = 1
	// SignaturePrefix is prepended to the payload to form the signed message.
	SignaturePrefix = "airseal license v1\x00"
	// SignatureSize is the size of the Ed25519 signature after the payload.
	SignatureSize = 64

	// MaxUnixTime is the latest time a license (or revocation list, or
	// request) can carry, in Unix seconds: 9999-12-31T23:59:59Z, the last
	// second RFC 3339 (four-digit years) can write, so that every time can
	// be shown in JSON (verify --json, the request file). The earliest is 1
	// (1970-01-01T00:00:01Z). One rule for every time in every airseal
	// format.
	MaxUnixTime = 253402300799

	maxString     = 256
	maxList       = 256
	hashBytes     = 16
	flagExpires   = 1 << 0
	flagUpdates   = 1 << 1
	flagBound     = 1 << 2
	flagVirtual   = 1 << 3
	knownFlags    = flagExpires | flagUpdates | flagBound | flagVirtual
	featureBool   = 0
	featureNumber = 1
)

// Validate checks the license's fields before signing: everything Marshal
// needs plus the rules between fields. Errors name the field.
func (l *License) Validate() error {
	if err := checkText("serial", l.Serial, true); err != nil {
		return err
	}
	if _, err := keys.ParseID(string(l.KeyID)); err != nil {
		return fmt.Errorf("key_id: %v", err)
	}
	if err := checkText("product", l.Product, true); err != nil {
		return err
	}
	if err := checkText("edition", l.Edition, false); err != nil {
		return err
	}
	if !l.Kind.known() {
		return fmt.Errorf("kind: %d is not main (1), additional (2) or demo (3)", l.Kind)
	}
	if err := checkText("main_serial", l.MainSerial, false); err != nil {
		return err
	}
	if l.Kind == KindAdditional && l.MainSerial == "" {
		return fmt.Errorf("main_serial: an additional license must name the main license it extends")
	}
	if l.Kind != KindAdditional && l.MainSerial != "" {
		return fmt.Errorf("main_serial: only an additional license names a main license")
	}
	if err := checkText("customer.name", l.Customer.Name, true); err != nil {
		return err
	}
	if err := checkText("customer.tax_id", l.Customer.TaxID, false); err != nil {
		return err
	}
	for _, t := range []struct {
		name string
		t    *time.Time
	}{{"issued_at", &l.IssuedAt}, {"not_before", &l.NotBefore}, {"expires", l.Expires}, {"updates_until", l.UpdatesUntil}} {
		if t.t == nil {
			continue
		}
		if u := t.t.Unix(); u < 1 || u > MaxUnixTime || t.t.Nanosecond() != 0 {
			return fmt.Errorf("%s: %v must be a whole second from 1970-01-01T00:00:01Z to 9999-12-31T23:59:59Z", t.name, *t.t)
		}
	}
	if l.Expires != nil && !l.Expires.After(l.NotBefore) {
		return fmt.Errorf("expires: %s is not after not_before %s", l.Expires.UTC().Format(time.RFC3339), l.NotBefore.UTC().Format(time.RFC3339))
	}
	if l.Seats < 1 || l.Seats > 1<<31-1 {
		return fmt.Errorf("seats: %d must be at least 1", l.Seats)
	}
	for _, fs := range []struct {
		name string
		list []Feature
	}{{"features", l.Features}, {"demo_limits", l.DemoLimits}} {
		if len(fs.list) > maxList {
			return fmt.Errorf("%s: %d entries, at most %d", fs.name, len(fs.list), maxList)
		}
		for i, f := range fs.list {
			if err := checkName(f.Name); err != nil {
				return fmt.Errorf("%s: %v", fs.name, err)
			}
			if i > 0 && fs.list[i-1].Name >= f.Name {
				return fmt.Errorf("%s: %q and %q are not sorted by name or repeat a name", fs.name, fs.list[i-1].Name, f.Name)
			}
			if f.IsBool && f.Value != 0 && f.Value != 1 {
				return fmt.Errorf("%s: flag %q has value %d, want 0 or 1", fs.name, f.Name, f.Value)
			}
		}
	}
	if l.Machine != nil {
		if err := l.Machine.Validate(); err != nil {
			return fmt.Errorf("machine: %v", err)
		}
		if len(l.Machine.Components) > maxList {
			return fmt.Errorf("machine: %d components, at most %d", len(l.Machine.Components), maxList)
		}
		for _, c := range l.Machine.Components {
			if err := checkName(c.Name); err != nil {
				return fmt.Errorf("machine: component %v", err)
			}
		}
	} else if l.AllowVirtual {
		return fmt.Errorf("allow_virtual: only meaningful for a license bound to a machine")
	}
	return nil
}

func checkText(field, s string, required bool) error {
	if required && s == "" {
		return fmt.Errorf("%s: must not be empty", field)
	}
	if len(s) > maxString {
		return fmt.Errorf("%s: %d bytes, at most %d", field, len(s), maxString)
	}
	return safetext.Check(field, s)
}

func checkName(s string) error {
	if len(s) < 1 || len(s) > 64 {
		return fmt.Errorf("name %q: want 1 to 64 characters", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Errorf("name %q: use only a-z, 0-9, '_', '.' and '-'", s)
		}
	}
	return nil
}

// MarshalPayload returns the canonical binary payload: the bytes the
// signature covers (after SignaturePrefix).
func (l *License) MarshalPayload() ([]byte, error) {
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return l.appendPayload(make([]byte, 0, 512)), nil
}

// appendPayload appends the encoding of a validated license to b.
func (l *License) appendPayload(b []byte) []byte {
	b = append(b, Version)
	kid, _ := hex.DecodeString(string(l.KeyID))
	b = append(b, kid...)
	b = appendString(b, l.Serial)
	b = appendString(b, l.Product)
	b = appendString(b, l.Edition)
	b = append(b, byte(l.Kind))
	b = appendString(b, l.MainSerial)
	b = appendString(b, l.Customer.Name)
	b = appendString(b, l.Customer.TaxID)
	b = binary.AppendUvarint(b, uint64(l.IssuedAt.Unix()))
	b = binary.AppendUvarint(b, uint64(l.NotBefore.Unix()))
	var flags byte
	if l.Expires != nil {
		flags |= flagExpires
	}
	if l.UpdatesUntil != nil {
		flags |= flagUpdates
	}
	if l.Machine != nil {
		flags |= flagBound
	}
	if l.AllowVirtual {
		flags |= flagVirtual
	}
	b = append(b, flags)
	if l.Expires != nil {
		b = binary.AppendUvarint(b, uint64(l.Expires.Unix()))
	}
	if l.UpdatesUntil != nil {
		b = binary.AppendUvarint(b, uint64(l.UpdatesUntil.Unix()))
	}
	b = binary.AppendUvarint(b, uint64(l.Seats))
	b = appendFeatures(b, l.Features)
	b = appendFeatures(b, l.DemoLimits)
	if m := l.Machine; m != nil {
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
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendFeatures(b []byte, fs []Feature) []byte {
	b = binary.AppendUvarint(b, uint64(len(fs)))
	for _, f := range fs {
		b = appendString(b, f.Name)
		if f.IsBool {
			b = append(b, featureBool, byte(f.Value))
		} else {
			b = append(b, featureNumber)
			b = binary.AppendVarint(b, f.Value)
		}
	}
	return b
}

// reader is a bounds-checked cursor over a payload.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *reader) byte(field string) byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 1 {
		r.fail("%s: payload ends early", field)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) bytes(field string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.fail("%s: payload ends early", field)
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

func (r *reader) uvarint(field string, max uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("%s: bad integer", field)
		return 0
	}
	if v > max {
		r.fail("%s: %d is too large", field, v)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint(field string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("%s: bad integer", field)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string(field string) string {
	n := r.uvarint(field, maxString)
	return string(r.bytes(field, int(n)))
}

func (r *reader) time(field string) time.Time {
	return time.Unix(int64(r.uvarint(field, MaxUnixTime)), 0).UTC()
}

func (r *reader) features(field string) []Feature {
	n := r.uvarint(field, maxList)
	if n == 0 || r.err != nil {
		return nil
	}
	fs := make([]Feature, 0, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		f := Feature{Name: r.string(field)}
		switch t := r.byte(field); t {
		case featureBool:
			f.IsBool = true
			f.Value = int64(r.byte(field))
		case featureNumber:
			f.Value = r.varint(field)
		default:
			r.fail("%s: %q has unknown type %d", field, f.Name, t)
		}
		fs = append(fs, f)
	}
	return fs
}

// UnmarshalPayload parses a canonical binary payload. It checks the format
// and the field rules, and that re-encoding gives back exactly the same bytes,
// but not the signature.
func UnmarshalPayload(p []byte) (*License, error) {
	r := &reader{b: p}
	if v := r.byte("version"); r.err == nil && v != Version {
		return nil, fmt.Errorf("%w: format version %d, this program reads version %d", ErrMalformed, v, Version)
	}
	l := &License{}
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
	if flags&^knownFlags != 0 {
		r.fail("flags: unknown bits %#x", flags&^knownFlags)
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
	l.AllowVirtual = flags&flagVirtual != 0
	if flags&flagBound != 0 {
		m := &fingerprint.Fingerprint{}
		m.Need = int(r.uvarint("machine.need", 1<<20))
		n := r.uvarint("machine.components", maxList)
		for i := uint64(0); i < n && r.err == nil; i++ {
			c := fingerprint.Component{Name: r.string("machine.component.name")}
			c.Weight = int(r.uvarint("machine.component.weight", 1<<20))
			switch nr := r.byte("machine.component.needs_root"); nr {
			case 0:
			case 1:
				c.NeedsRoot = true
			default:
				r.fail("machine.component.needs_root: %d is not 0 or 1", nr)
			}
			c.Hash = hex.EncodeToString(r.bytes("machine.component.hash", hashBytes))
			m.Components = append(m.Components, c)
		}
		l.Machine = m
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, r.err)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d unexpected bytes after the last field", ErrMalformed, len(r.b))
	}
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var buf [1024]byte // re-encoded on the stack for a license of usual size
	if !bytes.Equal(l.appendPayload(buf[:0]), p) {
		return nil, fmt.Errorf("%w: payload is not in canonical form", ErrMalformed)
	}
	return l, nil
}

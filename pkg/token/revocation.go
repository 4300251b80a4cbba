package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/airseal/airseal/internal/strictjson"
	"github.com/airseal/airseal/pkg/keys"
)

// MaxRevocationListSize is the largest signed revocation list, in bytes,
// that is written or read: 16 MiB, room for more than 250,000 jtis and as
// many license serials. It is separate from [MaxTokenSize]: a list is
// checked once when loaded, then looked up in a set.
const MaxRevocationListSize = 16 << 20

var (
	// ErrRevocationListTooLarge means a new list would exceed
	// [MaxRevocationListSize]; it is refused at signing.
	ErrRevocationListTooLarge = errors.New("revocation list above the size limit")
	// ErrRevocationList means a revocation list failed verification (bad
	// signature, unknown key, wrong typ or issuer, unreadable claims).
	ErrRevocationList = errors.New("invalid revocation list")
	// ErrRevocationRollback means a revocation list has a lower sequence
	// number than one already seen: an old file was put back.
	ErrRevocationRollback = errors.New("revocation list is older than the one already seen")
)

// RevocationList is a signed list of revoked token IDs (jti, which also
// revokes the short-lived tokens exchanged from that grant) and license
// serials. Each new list has a higher sequence number than the last and
// contains every entry of it.
type RevocationList struct {
	Issuer         string   `json:"iss"`
	Seq            uint64   `json:"seq"`
	IssuedAt       int64    `json:"iat"`
	JTIs           []string `json:"jti"`
	LicenseSerials []string `json:"license_serial"`

	jti, lic map[string]struct{}
}

func (l *RevocationList) index() {
	l.jti = make(map[string]struct{}, len(l.JTIs))
	for _, j := range l.JTIs {
		l.jti[j] = struct{}{}
	}
	l.lic = make(map[string]struct{}, len(l.LicenseSerials))
	for _, s := range l.LicenseSerials {
		l.lic[s] = struct{}{}
	}
}

// revoked returns what revokes c ("" when nothing does). A nil list revokes nothing.
func (l *RevocationList) revoked(c *Claims) string {
	if l == nil {
		return ""
	}
	if _, ok := l.jti[c.ID]; ok {
		return "jti " + c.ID
	}
	if c.Grant != "" {
		if _, ok := l.jti[c.Grant]; ok {
			return "grant " + c.Grant
		}
	}
	if c.LicenseSerial != "" {
		if _, ok := l.lic[c.LicenseSerial]; ok {
			return "license serial " + c.LicenseSerial
		}
	}
	return ""
}

// HasJTI reports whether jti is on the list.
func (l *RevocationList) HasJTI(jti string) bool {
	if l == nil {
		return false
	}
	_, ok := l.jti[jti]
	return ok
}

// Next returns a new list with seq one higher, issued at now, holding every
// entry of l (which may be nil for the first list) plus the given ones. It
// reports whether anything was added.
func (l *RevocationList) Next(issuer string, jtis, serials []string, now time.Time) (*RevocationList, bool) {
	n := &RevocationList{Issuer: issuer, Seq: 1, IssuedAt: now.Unix()}
	if l != nil {
		n.Seq = l.Seq + 1
		n.JTIs = slices.Clone(l.JTIs)
		n.LicenseSerials = slices.Clone(l.LicenseSerials)
	}
	before := len(n.JTIs) + len(n.LicenseSerials)
	n.JTIs = sortedUnion(n.JTIs, jtis)
	n.LicenseSerials = sortedUnion(n.LicenseSerials, serials)
	n.index()
	return n, len(n.JTIs)+len(n.LicenseSerials) != before
}

func sortedUnion(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// SignRevocations signs l as a compact JWS with typ revlist+jwt.
func (s *Signer) SignRevocations(l *RevocationList) (string, error) {
	if l.JTIs == nil {
		l.JTIs = []string{}
	}
	if l.LicenseSerials == nil {
		l.LicenseSerials = []string{}
	}
	tok, err := s.sign(s.rlHeader, l)
	if err != nil {
		return "", err
	}
	if err := checkListSize(len(tok)); err != nil {
		return "", err
	}
	return tok, nil
}

func checkListSize(n int) error {
	if n > MaxRevocationListSize {
		return fmt.Errorf("%w: the list would be %d bytes, the limit is %d (%d MiB); retire keys whose tokens have all expired instead of listing their jtis",
			ErrRevocationListTooLarge, n, MaxRevocationListSize, MaxRevocationListSize>>20)
	}
	return nil
}

// ParseRevocations verifies a signed revocation list against ring and, when
// issuer is not empty, checks its iss. Errors match [ErrRevocationList].
func ParseRevocations(ring *keys.Keyring, data []byte, issuer string) (*RevocationList, error) {
	payload, _, err := verifyJWS(ring, string(bytes.TrimSpace(data)), TypeRevocationList, MaxRevocationListSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRevocationList, err)
	}
	var l RevocationList
	if err := strictjson.CheckFields(payload, &l, strictjson.FieldsOptions{}); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrRevocationList, err)
	}
	d := json.NewDecoder(bytes.NewReader(payload))
	d.DisallowUnknownFields()
	if err := d.Decode(&l); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrRevocationList, err)
	}
	if l.Seq == 0 {
		return nil, fmt.Errorf("%w: seq must be 1 or more", ErrRevocationList)
	}
	if issuer != "" && l.Issuer != issuer {
		return nil, fmt.Errorf("%w: iss is %q, want %q", ErrRevocationList, l.Issuer, issuer)
	}
	l.index()
	return &l, nil
}

// CheckSeq returns an error matching [ErrRevocationRollback] when l is older
// than the highest sequence number already seen.
func (l *RevocationList) CheckSeq(seen uint64) error {
	if l.Seq < seen {
		return fmt.Errorf("%w: it is #%d, and #%d was seen before", ErrRevocationRollback, l.Seq, seen)
	}
	return nil
}

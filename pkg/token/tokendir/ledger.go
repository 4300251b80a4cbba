package tokendir

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/airseal/airseal/internal/ledger"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/token"
)

// LedgerRecord is one line of a ledger: [LedgerFile] for tokens minted by
// [Dir.Record] ('token mint'), [IssuedFile] for tokens the endpoint issued.
type LedgerRecord struct {
	JTI           string   `json:"jti"`
	KeyID         keys.ID  `json:"kid"`
	Subject       string   `json:"sub"`
	Audience      []string `json:"aud"`
	ClientID      string   `json:"client_id"`
	Scope         string   `json:"scope,omitempty"`
	LicenseSerial string   `json:"license_serial,omitempty"`
	// Grant is the jti of the long-lived token an endpoint token was
	// exchanged from (refresh_token grant); empty otherwise.
	Grant     string `json:"grant,omitempty"`
	IssuedAt  int64  `json:"iat"`
	ExpiresAt int64  `json:"exp"`
}

// Record appends a minted token's claims to the ledger and returns once the
// line is on disk.
func (d *Dir) Record(kid keys.ID, c *token.Claims) error {
	return ledger.Append(d.File(LedgerFile), NewLedgerRecord(kid, c))
}

// Ledger returns every intact record of the ledger of minted tokens and
// whether a torn last line (an interrupted write) was skipped. Use
// [Dir.EachMinted] to stream a long ledger.
func (d *Dir) Ledger() ([]LedgerRecord, bool, error) {
	var out []LedgerRecord
	torn, err := d.EachMinted(func(r *LedgerRecord) error { out = append(out, *r); return nil })
	return out, torn, err
}

// EachMinted calls fn for every record of the ledger of minted tokens, in
// order, reading the file as a stream; torn reports a skipped torn last line.
func (d *Dir) EachMinted(fn func(*LedgerRecord) error) (torn bool, err error) {
	return eachRecord(d.File(LedgerFile), fn)
}

// IssuedFile is the ledger of the tokens 'token serve' issues, beside the
// ledger of minted tokens ([LedgerFile]). It has the same line format
// (package internal/ledger) and record fields, plus grant. The endpoint
// rotates it (see [IssuedRotation]): IssuedFile.1 is the newest rotated
// file, IssuedFile.N the oldest kept.
const IssuedFile = "issued.jsonl"

// IssuedRotation is the endpoint's default size policy for [IssuedFile]:
// rotated at 256 MiB (about a million tokens), 8 rotated files kept, so it
// never takes more than about 2.3 GiB of disk.
var IssuedRotation = ledger.WriterOptions{MaxSize: 256 << 20, Keep: 8}

// NewLedgerRecord describes a token for a ledger.
func NewLedgerRecord(kid keys.ID, c *token.Claims) *LedgerRecord {
	return &LedgerRecord{
		JTI: c.ID, KeyID: kid, Subject: c.Subject, Audience: c.Audience, ClientID: c.ClientID,
		Scope: c.Scope, LicenseSerial: c.LicenseSerial, Grant: c.Grant, IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt,
	}
}

// Issued returns every intact record of the endpoint's ledger, oldest
// first: the rotated files that are kept, then [IssuedFile]; torn reports a
// torn last line in any of them. Use [Dir.EachIssued] to stream.
func (d *Dir) Issued() ([]LedgerRecord, bool, error) {
	var out []LedgerRecord
	torn, err := d.EachIssued(func(r *LedgerRecord) error { out = append(out, *r); return nil })
	return out, torn, err
}

// EachIssued calls fn for every record of the endpoint's ledger, oldest
// first (rotated files from the oldest, then [IssuedFile]), as a stream.
func (d *Dir) EachIssued(fn func(*LedgerRecord) error) (torn bool, err error) {
	base := d.File(IssuedFile)
	n := 0
	for {
		if _, err := os.Stat(ledger.RotatedName(base, n+1)); err != nil {
			break
		}
		n++
	}
	for i := n; i >= 0; i-- {
		p := base
		if i > 0 {
			p = ledger.RotatedName(base, i)
		}
		t, err := eachRecord(p, fn)
		if err != nil {
			return false, err
		}
		torn = torn || t
	}
	return torn, nil
}

func eachRecord(path string, fn func(*LedgerRecord) error) (bool, error) {
	i := 0
	return ledger.Scan(path, func(raw ledger.Record) error {
		i++
		var lr LedgerRecord
		if err := json.Unmarshal(raw, &lr); err != nil {
			return fmt.Errorf("%s: record %d: %v", path, i, err)
		}
		return fn(&lr)
	})
}

// NotMinted returns the jtis and license serials (normalised) that no
// record of the ledger of minted tokens ([LedgerFile]) carries, reading it
// as a stream: a revocation of one of them is probably a typo. Tokens of
// the endpoint ([IssuedFile]) are not looked at: they are short-lived, and
// revoking the grant they came from revokes them.
func (d *Dir) NotMinted(jtis, serials []string) (unknownJTIs, unknownSerials []string, err error) {
	wantJ := map[string]bool{}
	for _, j := range jtis {
		wantJ[j] = true
	}
	wantS := map[string]bool{}
	for _, s := range NormalizeSerials(serials) {
		wantS[s] = true
	}
	if _, err := d.EachMinted(func(r *LedgerRecord) error {
		delete(wantJ, r.JTI)
		if r.LicenseSerial != "" {
			n, _ := license.NormalizeSerial(r.LicenseSerial)
			delete(wantS, n)
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	for _, j := range jtis {
		if wantJ[j] {
			unknownJTIs = append(unknownJTIs, j)
			delete(wantJ, j)
		}
	}
	for _, s := range NormalizeSerials(serials) {
		if wantS[s] {
			unknownSerials = append(unknownSerials, s)
			delete(wantS, s)
		}
	}
	return unknownJTIs, unknownSerials, nil
}

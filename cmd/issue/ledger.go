package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/airseal/airseal/internal/ledger"
	"github.com/airseal/airseal/pkg/license"
)

// record is one ledger entry: a signed license or a revocation list. The
// JSON field names are documented in README.md (section "issue").
type record struct {
	Type     string     `json:"type"` // "license" or "revocation"
	KeyID    string     `json:"key_id"`
	IssuedAt time.Time  `json:"issued_at"`
	Serial   string     `json:"serial,omitempty"`
	Product  string     `json:"product,omitempty"`
	Customer string     `json:"customer,omitempty"`
	TaxID    string     `json:"tax_id,omitempty"`
	Kind     string     `json:"kind,omitempty"`
	Seats    int        `json:"seats,omitempty"`
	Expires  *time.Time `json:"expires,omitempty"`
	Updates  *time.Time `json:"updates_until,omitempty"`
	Machine  string     `json:"machine,omitempty"` // fingerprint ID of a bound license
	License  string     `json:"license,omitempty"` // the armored license file
	Sequence uint64     `json:"sequence,omitempty"`
	Serials  []string   `json:"serials,omitempty"`
}

func appendLicense(path string, l *license.License, armored string) error {
	r := record{Type: "license", KeyID: string(l.KeyID), IssuedAt: l.IssuedAt, Serial: l.Serial, Product: l.Product,
		Customer: l.Customer.Name, TaxID: l.Customer.TaxID, Kind: l.Kind.String(), Seats: l.Seats,
		Expires: l.Expires, Updates: l.UpdatesUntil, License: armored}
	if l.Machine != nil {
		r.Machine = l.Machine.ID()
	}
	return ledger.Append(path, r)
}

func appendRevocation(path string, rl *license.RevocationList) error {
	return ledger.Append(path, record{Type: "revocation", KeyID: string(rl.KeyID), IssuedAt: rl.IssuedAt,
		Sequence: rl.Sequence, Serials: rl.Serials})
}

func readLedger(path string) ([]record, error) {
	res, err := ledger.Read(path)
	if err != nil {
		return nil, err
	}
	if res.Torn {
		fmt.Fprintf(os.Stderr, "issue: warning: %s: the last line is incomplete (an interrupted write) and is ignored; the next record replaces it\n", path)
	}
	var out []record
	for i, raw := range res.Records {
		var r record
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("%s: record %d: %w", path, i+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func lastRevocation(recs []record) *record {
	var last *record
	for i := range recs {
		if recs[i].Type == "revocation" && (last == nil || recs[i].Sequence > last.Sequence) {
			last = &recs[i]
		}
	}
	return last
}

func issuedSerials(recs []record) map[string]bool {
	m := map[string]bool{}
	for _, r := range recs {
		if r.Type == "license" {
			m[r.Serial] = true
		}
	}
	return m
}

package issuer

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/airseal/airseal/internal/ledger"
	"github.com/airseal/airseal/pkg/license"
)

// Record is one ledger entry: a signed license or a revocation list. The
// JSON field names are documented in README.md (section "issue").
type Record struct {
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
	Machine  string     `json:"machine,omitempty"` // fingerprint ID of a bound license (server license: each bound node's, comma-separated)
	License  string     `json:"license,omitempty"` // the armored license file
	Sequence uint64     `json:"sequence,omitempty"`
	// Count is how many serials the revocation list holds.
	Count int `json:"count,omitempty"`
	// Added are the serials of this revocation list that the ledger's
	// previous list did not hold: a record never copies the whole list.
	Added []string `json:"added,omitempty"`
	// Serials is the whole list, as ledgers written before Added existed
	// recorded it; read, never written.
	Serials []string `json:"serials,omitempty"`
	// ListSHA256 is the SHA-256 of the armored revocation list.
	ListSHA256 string `json:"list_sha256,omitempty"`
	// TransferredTo is, for a transfer record, the new license's serial.
	TransferredTo string `json:"transferred_to,omitempty"`
}

// Record types.
const (
	TypeLicense    = "license"
	TypeRevocation = "revocation"
)

// Ledger is the vendor's append-only record of every license and
// revocation list issued, crash-safe (see internal/ledger).
type Ledger struct {
	// Path is the ledger file; a missing file is an empty ledger.
	Path string
}

// DefaultLedger returns the ledger path for a key file: NAME.ledger next
// to NAME.key.
func DefaultLedger(keyPath string) string {
	return strings.TrimSuffix(keyPath, filepath.Ext(keyPath)) + ".ledger"
}

// Each calls fn for every record in order, reading the ledger as a stream
// (memory does not grow with its length), stopping at the first error fn
// returns. torn reports a torn last line (an interrupted write), which is
// skipped and replaced by the next append.
//
// Each and append are the only places that touch the ledger's storage.
func (lg *Ledger) Each(fn func(*Record) error) (torn bool, err error) {
	i := 0
	return ledger.Scan(lg.Path, func(raw ledger.Record) error {
		i++
		var r Record
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("%s: record %d: %w", lg.Path, i, err)
		}
		return fn(&r)
	})
}

func (lg *Ledger) append(r *Record) error {
	if err := ledger.Append(lg.Path, r); err != nil {
		return fmt.Errorf("ledger %s: %w", lg.Path, err)
	}
	return nil
}

// Find returns the license record with the given serial (normalised with
// license.NormalizeSerial), or nil when the ledger holds none.
func (lg *Ledger) Find(serial string) (*Record, bool, error) {
	want, _ := license.NormalizeSerial(serial)
	var found *Record
	torn, err := lg.Each(func(r *Record) error {
		if r.Type == TypeLicense {
			if s, _ := license.NormalizeSerial(r.Serial); s == want {
				found = r
				return errFound // stop reading: the ledger may be long
			}
		}
		return nil
	})
	if err == errFound {
		err = nil
	}
	return found, torn, err
}

var errFound = errors.New("found")

// state is what a revocation needs from the ledger: the serials issued and
// the newest revocation list, rebuilt from the records' additions.
type state struct {
	issued  map[string]bool
	revoked map[string]bool
	// transferred are the serials transferred away (transfer.go).
	transferred map[string]bool
	sequence    uint64 // the newest list's sequence; 0 for none
	torn        bool
}

func (lg *Ledger) state() (*state, error) {
	st := &state{issued: map[string]bool{}, revoked: map[string]bool{}, transferred: map[string]bool{}}
	var err error
	st.torn, err = lg.Each(func(r *Record) error {
		switch r.Type {
		case TypeLicense:
			s, _ := license.NormalizeSerial(r.Serial)
			st.issued[s] = true
		case TypeTransfer:
			s, _ := license.NormalizeSerial(r.Serial)
			st.transferred[s] = true
		case TypeRevocation:
			if r.Serials != nil { // an older record: the whole list
				clear(st.revoked)
				for _, s := range r.Serials {
					st.revoked[s] = true
				}
			}
			for _, s := range r.Added {
				st.revoked[s] = true
			}
			if r.Count != 0 && r.Count != len(st.revoked) {
				return fmt.Errorf("%s: revocation list %d holds %d serials but the ledger's records add up to %d; the ledger was edited or is damaged (restore it from a backup)",
					lg.Path, r.Sequence, r.Count, len(st.revoked))
			}
			st.sequence = max(st.sequence, r.Sequence)
		}
		return nil
	})
	return st, err
}

func (st *state) revokedList() []string {
	out := make([]string, 0, len(st.revoked))
	for s := range st.revoked {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

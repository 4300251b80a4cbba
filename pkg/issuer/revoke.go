package issuer

import (
	"fmt"
	"sort"
	"time"

	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
)

// RevokeOptions are the inputs of a revocation besides the key and ledger.
type RevokeOptions struct {
	// Serials are the serials to add, as typed: each is normalised with
	// license.NormalizeSerial.
	Serials []string
	// Previous is an armored revocation list to carry forward (optional);
	// the ledger's newest list is carried forward in any case.
	Previous []byte
	// Replaces is the current content of the file the new list will
	// replace, nil for none: the new list must carry all of it forward.
	Replaces []byte
	// Now is the time the list is signed.
	Now time.Time
}

// Revocation is a signed and recorded revocation list.
type Revocation struct {
	List *license.RevocationList
	// Armored is the list file.
	Armored []byte
	// Added are the serials this list holds that the ledger's previous
	// list did not.
	Added []string
	// NotIssued are serials revoked now that the ledger never issued
	// (a typo, or a license issued with another ledger).
	NotIssued []string
	// Warnings are things the vendor should know.
	Warnings []string
	// Torn reports a torn last line in the ledger (see Ledger.Each).
	Torn bool
}

// Revoke makes the next revocation list: every serial of the ledger's
// newest list, of opts.Previous and of opts.Serials, with a sequence above
// all of them, signed, checked against the verifier's limits and recorded
// in the ledger (only the serials it adds). Errors about the inputs are
// *FieldError ("serials", "list", "output", "revocations").
func (is *Issuer) Revoke(opts RevokeOptions) (*Revocation, error) {
	st, err := is.Ledger.state()
	if err != nil {
		return nil, err
	}
	// Licenses transferred away are revoked in the next list (transfer.go).
	for s := range st.transferred {
		if !st.revoked[s] {
			opts.Serials = append(opts.Serials, s)
		}
	}
	if len(opts.Serials) == 0 {
		return nil, fieldErrorf("serials", "give at least one serial to revoke")
	}
	res := &Revocation{Torn: st.torn}
	var typed []string
	for _, s := range opts.Serials {
		n, _ := license.NormalizeSerial(s)
		typed = append(typed, n)
		if !st.issued[n] {
			res.NotIssued = append(res.NotIssued, n)
		}
	}
	base := &license.RevocationList{Sequence: st.sequence, Serials: st.revokedList()}
	if opts.Previous != nil {
		prev, err := license.DecodeRevocations(opts.Previous)
		if err != nil {
			return nil, &FieldError{Field: "list", Reason: err.Error(), Err: err}
		}
		if prev.KeyID == is.Key.ID() {
			if _, err := license.OpenRevocations(opts.Previous, keys.NewKeyring(is.Key.Public())); err != nil {
				return nil, &FieldError{Field: "list", Reason: err.Error(), Err: err}
			}
		} else {
			res.Warnings = append(res.Warnings, fmt.Sprintf("the previous list was signed by key %s, not %s; its serials are carried forward unverified", prev.KeyID, is.Key.ID()))
		}
		if prev.Sequence < st.sequence {
			return nil, fieldErrorf("list", "has sequence %d but the ledger records list %d; give the newest list, or none to continue from the ledger", prev.Sequence, st.sequence)
		}
		base = base.Next(prev.Serials, opts.Now)
		base.Sequence = prev.Sequence
	}
	var base0 *license.RevocationList
	if base.Sequence > 0 {
		base0 = base
	} else {
		// Sequence numbers are one floor across the vendor's keys
		// (docs/spec/license-v1.md): a first list of a new key's ledger
		// numbered 1 is refused by every verifier that saw a higher one.
		res.Warnings = append(res.Warnings, "this is revocation list 1 of ledger "+is.Ledger.Path+
			": if lists were issued before (with another key or ledger), carry the newest forward as the previous list, so that the numbering continues; verifiers refuse a list numbered below the highest they have seen, whichever key signed it")
	}
	rl := base0.Next(typed, opts.Now)
	if opts.Replaces != nil {
		cur, err := license.DecodeRevocations(opts.Replaces)
		if err != nil {
			return nil, fieldErrorf("output", "exists and is not a revocation list (%v); refusing to replace it", err)
		}
		missing := 0
		for _, s := range cur.Serials {
			if !rl.Contains(s) {
				missing++
			}
		}
		if cur.Sequence >= rl.Sequence || missing > 0 {
			return nil, fieldErrorf("output", "holds revocation list %d (%d serials); the new list %d would not carry all of it forward (%d serials missing); continue from it as the previous list",
				cur.Sequence, len(cur.Serials), rl.Sequence, missing)
		}
	}
	if len(rl.Serials) > license.MaxRevokedSerials {
		return nil, fieldErrorf("serials", "the list would hold %d serials, at most %d", len(rl.Serials), license.MaxRevokedSerials)
	}
	if err := rl.Sign(is.Key); err != nil {
		return nil, err
	}
	data, err := rl.Armor()
	if err != nil {
		return nil, err
	}
	if len(data) > license.MaxRevocationFile {
		return nil, fieldErrorf("revocations", "the list would be %d bytes, over the %d-byte limit verify reads", len(data), license.MaxRevocationFile)
	}
	if back, err := license.OpenRevocations(data, keys.NewKeyring(is.Key.Public())); err != nil || back.Sequence != rl.Sequence || len(back.Serials) != len(rl.Serials) {
		return nil, fmt.Errorf("the signed revocation list does not read back (%v); nothing was written", err)
	}
	for _, s := range rl.Serials {
		if !st.revoked[s] {
			res.Added = append(res.Added, s)
		}
	}
	sort.Strings(res.Added)
	rec := &Record{Type: TypeRevocation, KeyID: string(rl.KeyID), IssuedAt: rl.IssuedAt, Sequence: rl.Sequence,
		Count: len(rl.Serials), Added: res.Added, ListSHA256: sha256Hex(data)}
	if rec.Added == nil {
		rec.Added = []string{}
	}
	if err := is.Ledger.append(rec); err != nil {
		return nil, err
	}
	res.List, res.Armored = rl, data
	return res, nil
}

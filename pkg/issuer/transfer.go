package issuer

// This file is the vendor's side of a license transfer (issue 12 item 5):
// a seat server's receipt for a removed license is checked against the
// license the ledger holds, the transfer is recorded, and the same
// entitlements are issued for the new server.

import (
	"errors"
	"fmt"
	"time"

	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/transfer"
)

// TypeTransfer is the ledger record of a license transferred away: Serial
// is the old serial, TransferredTo the new one.
const TypeTransfer = "transfer"

// ErrTransferred: the receipt's license was transferred already.
var ErrTransferred = errors.New("license was transferred already")

// Transferred is the result of Transfer.
type Transferred struct {
	// Old is the license the receipt removed; Receipt the checked receipt.
	Old     *license.ServerLicense
	Receipt *transfer.Receipt
	// New is the license issued for the new server.
	New *IssuedServer
}

// Transfer checks a transfer receipt and issues the old license's
// entitlements (product, edition, kind, customer, seats, seat unit,
// validity, update subscription, features, demo limits) for the server
// of req. The receipt must name a serial this ledger issued as a server
// license, verify with the response key of one of that license's nodes,
// and not have been used before (ErrTransferred). The transfer is recorded
// (with the new serial) before the new license is signed, so a receipt is
// never honoured twice; the old serial goes into the next revocation list
// (Revoke adds every transferred serial). Errors about the inputs are
// *FieldError ("transfer", "request").
func (is *Issuer) Transfer(receipt []byte, req *license.ServerRequest, now time.Time) (*Transferred, error) {
	r, err := transfer.Parse(receipt)
	if err != nil {
		return nil, &FieldError{Field: "transfer", Reason: err.Error(), Err: err}
	}
	serial, ok := license.NormalizeSerial(r.Serial)
	if !ok {
		serial = r.Serial
	}
	rec, _, err := is.Ledger.Find(serial)
	if err != nil {
		return nil, err
	}
	if rec == nil || rec.License == "" {
		return nil, fieldErrorf("transfer", "the receipt is for license %.40q, which ledger %s never issued: the receipt comes from another vendor, or give the ledger that issued it (--ledger)", r.Serial, is.Ledger.Path)
	}
	dec, err := license.DecodeServer([]byte(rec.License))
	if err != nil {
		return nil, fieldErrorf("transfer", "license %s in the ledger is not a server license (%v): only a seat server's license is transferred with a receipt", serial, err)
	}
	at := dec.IssuedAt
	if dec.NotBefore.After(at) {
		at = dec.NotBefore
	}
	old, err := license.VerifyServer([]byte(rec.License), license.VerifyOptions{Keyring: keys.NewKeyring(is.Key.Public()), Now: at})
	if err != nil && !errors.Is(err, license.ErrUpdatesExpired) {
		return nil, fieldErrorf("transfer", "license %s in the ledger does not verify with this key (%v)", serial, err)
	}
	if err := r.Verify(old); err != nil {
		return nil, &FieldError{Field: "transfer", Reason: err.Error(), Err: err}
	}
	var prior *Record
	if _, err := is.Ledger.Each(func(x *Record) error {
		if x.Type == TypeTransfer {
			if s, _ := license.NormalizeSerial(x.Serial); s == serial {
				prior = x
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if prior != nil {
		return nil, &FieldError{Field: "transfer", Err: ErrTransferred, Reason: fmt.Sprintf("%v: %s was transferred on %s to %s (issue show %s); a receipt is honoured once",
			ErrTransferred, serial, prior.IssuedAt.UTC().Format(time.RFC3339), prior.TransferredTo, prior.TransferredTo)}
	}
	o := Order{Product: old.Product, Edition: old.Edition, Kind: old.Kind, MainSerial: old.MainSerial, Customer: old.Customer.Name,
		TaxID: old.Customer.TaxID, Seats: old.Seats, Expires: old.Expires, UpdatesUntil: old.UpdatesUntil,
		Features: old.Features, DemoLimits: old.DemoLimits}
	if old.NotBefore.After(now) {
		o.NotBefore = old.NotBefore
	}
	if len(old.Nodes) > 0 {
		o.AllowVirtual = old.Nodes[0].AllowVirtual
	}
	d, err := PrepareServer(o, req, old.SeatUnit, now)
	if err != nil {
		return nil, err
	}
	if err := is.Ledger.append(&Record{Type: TypeTransfer, KeyID: string(is.Key.ID()), IssuedAt: now.UTC(), Serial: serial,
		Product: old.Product, Customer: old.Customer.Name, TransferredTo: d.License.Serial}); err != nil {
		return nil, err
	}
	out, err := is.IssueServer(d)
	if err != nil {
		return nil, fmt.Errorf("the transfer of %s to %s is recorded but the new license was not issued (%w); issue it by hand with the same entitlements and serial", serial, d.License.Serial, err)
	}
	return &Transferred{Old: old, Receipt: r, New: out}, nil
}

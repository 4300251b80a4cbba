// Package transfer is the license transfer receipt (the 1C "reserve code",
// Cleverence's unlink): a seat server that removes a license to move it
// to another machine signs, with its response key, "license SERIAL left
// server NODE at TIME". The vendor checks the receipt against the license
// it issued for that server (whose nodes name the response keys), records
// the serial as transferred, revokes it in the next list and issues the
// same entitlements for the new machine.
//
// # Security
//
// What is guaranteed: a receipt that Verify accepts was signed by the
// response key of a node that the given server license names, for that
// license's serial; a receipt edited, forged with another key, or made by
// another server for another serial is refused. The server that signed it
// refuses the serial from then on (it is kept with its revoked serials).
//
// What is not: the response key and the server's database are the
// customer's. A customer who restores an older database could install the
// old license again on the old server: that is why the vendor revokes a
// transferred serial in its next revocation list, and why a receipt is
// accepted only once (the vendor's ledger records it).
package transfer

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/airseal/airseal/internal/strictjson"
	"github.com/airseal/airseal/pkg/license"
)

// Format is the receipt's format member.
const Format = "airseal transfer receipt v1"

const domain = "airseal transfer receipt v1\x00"

// MaxReceipt bounds a receipt file.
const MaxReceipt = 16 << 10

// Errors of receipts.
var (
	// ErrMalformed: not a receipt.
	ErrMalformed = errors.New("malformed transfer receipt")
	// ErrBadSignature: the receipt's signature does not verify with the
	// key it names, or that key is not one the server license names.
	ErrBadSignature = errors.New("transfer receipt signature does not verify")
	// ErrOtherLicense: the receipt is for another serial than the license
	// it is checked against.
	ErrOtherLicense = errors.New("transfer receipt is for another license")
)

// Receipt says that a license left a seat server.
type Receipt struct {
	Format   string `json:"format"`
	Serial   string `json:"serial"`
	Product  string `json:"product"`
	Customer string `json:"customer"`
	// Node is the server node that removed it; ResponseKey its key's ID
	// (license.ResponseKeyID).
	Node        string    `json:"node"`
	ResponseKey string    `json:"response_key"`
	Removed     time.Time `json:"removed"`
	Signature   string    `json:"signature"`
}

// message is what the signature covers.
func (r *Receipt) message() []byte {
	m := []byte(domain)
	for _, s := range []string{r.Serial, r.Product, r.Customer, r.Node, r.ResponseKey} {
		m = binary.BigEndian.AppendUint32(m, uint32(len(s)))
		m = append(m, s...)
	}
	return binary.BigEndian.AppendUint64(m, uint64(r.Removed.Unix()))
}

// Sign makes the receipt for the removal of l at removed, signed by the
// node's response key.
func Sign(key ed25519.PrivateKey, l *license.ServerLicense, node string, removed time.Time) ([]byte, *Receipt, error) {
	r := &Receipt{Format: Format, Serial: l.Serial, Product: l.Product, Customer: l.Customer.Name, Node: node,
		ResponseKey: license.ResponseKeyID(key.Public().(ed25519.PublicKey)), Removed: removed.UTC().Truncate(time.Second)}
	r.Signature = base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, r.message()))
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	return append(b, '\n'), r, nil
}

// Parse decodes a receipt (strict JSON: no unknown or duplicate members).
func Parse(data []byte) (*Receipt, error) {
	if len(data) > MaxReceipt {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(data), MaxReceipt)
	}
	if err := strictjson.Check(data); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var r Receipt
	if err := strictjson.CheckFields(data, &r, strictjson.FieldsOptions{}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if r.Format != Format {
		return nil, fmt.Errorf("%w: format %.40q, want %q", ErrMalformed, r.Format, Format)
	}
	if r.Serial == "" || r.Removed.IsZero() {
		return nil, fmt.Errorf("%w: serial and removed are required", ErrMalformed)
	}
	return &r, nil
}

// Verify checks r against the server license it claims to remove (which
// the caller has verified with the vendor's keys): the same serial, and a
// signature by the response key of one of its nodes.
func (r *Receipt) Verify(l *license.ServerLicense) error {
	if n1, _ := license.NormalizeSerial(r.Serial); r.Serial != l.Serial && n1 != l.Serial {
		return fmt.Errorf("%w: the receipt names %.40q, the license is %s", ErrOtherLicense, r.Serial, l.Serial)
	}
	sig, err := base64.RawURLEncoding.DecodeString(r.Signature)
	if err != nil {
		return fmt.Errorf("%w: signature is not base64url", ErrMalformed)
	}
	for _, n := range l.Nodes {
		if license.ResponseKeyID(n.ResponseKey) == r.ResponseKey {
			if !ed25519.Verify(n.ResponseKey, r.message(), sig) {
				return fmt.Errorf("%w: the receipt was changed after the server signed it, or forged", ErrBadSignature)
			}
			return nil
		}
	}
	return fmt.Errorf("%w: key %.40q is not the response key of any node of license %s: the receipt comes from another server", ErrBadSignature, r.ResponseKey, l.Serial)
}

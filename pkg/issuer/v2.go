package issuer

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/pkg/license"
)

// ServerDraft is a server license (format v2) ready to be signed, with
// what its node binds and the warnings the vendor should read first.
type ServerDraft struct {
	// License is complete but for KeyID and the signature.
	License *license.ServerLicense
	// Binding is what the (first) node's machine binding requires.
	Binding *Binding
	// Nodes are every node's binding, sorted by node name (set by
	// PrepareCluster; PrepareServer leaves it nil).
	Nodes []NodeBinding
	// Warnings are things the vendor should know before signing.
	Warnings []string
}

// PrepareServer checks an order for a seat server and builds the v2
// license to sign from the server's request: one node, named as the request
// names it, bound to the request's machine under the vendor's policy
// (hwid.BindingRule, exactly as for a v1 license: the request's own rule is
// never copied) and carrying the request's response key. o.Request is
// ignored (the server request's machine is bound); o.AllowVirtual accepts
// a server in a virtual machine and lets that node run in one. unit 0
// means per session. Errors about the order are *FieldError.
func PrepareServer(o Order, req *license.ServerRequest, unit license.SeatUnit, now time.Time) (*ServerDraft, error) {
	if req == nil {
		return nil, fieldErrorf("request", "a server license is issued from the server's request (server-request.json written by license-server init)")
	}
	if err := req.Validate(); err != nil {
		return nil, fieldErrorf("request", "%v", err)
	}
	if unit == 0 {
		unit = license.PerSession
	}
	if unit != license.PerSession && unit != license.PerComputer {
		return nil, fieldErrorf("seat_unit", "%d is not per session (1) or per computer (2)", unit)
	}
	hw := req.Request
	o.Request = &hw
	d, err := Prepare(o, now)
	if err != nil {
		return nil, err
	}
	l := *d.License
	node := license.Node{Name: req.Node, Machine: l.Machine, AllowVirtual: l.AllowVirtual, ResponseKey: bytes.Clone(req.ResponseKey)}
	l.Machine, l.AllowVirtual = nil, false
	s := &license.ServerLicense{License: l, SeatUnit: unit, Nodes: []license.Node{node}}
	if err := s.Validate(); err != nil {
		return nil, asFieldError(err)
	}
	return &ServerDraft{License: s, Binding: d.Binding, Warnings: d.Warnings}, nil
}

// IssuedServer is a signed and recorded server license.
type IssuedServer struct {
	License *license.ServerLicense
	// Armored is the license file the server installs.
	Armored []byte
}

// IssueServer signs the draft, checks that the file reads back as the
// server and its clients will read it, and records the license in the
// ledger. Nothing is returned unless the license is recorded.
func (is *Issuer) IssueServer(d *ServerDraft) (*IssuedServer, error) {
	s := d.License
	if err := s.Sign(is.Key); err != nil {
		return nil, asFieldError(err)
	}
	arm, err := s.Armor()
	if err != nil {
		return nil, err
	}
	if len(arm) > fileio.LimitLicense {
		return nil, fieldErrorf("license", "the license file is %d bytes, over the %d-byte limit the server reads; remove features", len(arm), fileio.LimitLicense)
	}
	got, err := license.DecodeServer(arm)
	if err != nil {
		return nil, fmt.Errorf("the signed server license does not read back (%v); nothing was issued", err)
	}
	want, _ := s.MarshalPayload()
	p, err := got.MarshalPayload()
	if err != nil || !bytes.Equal(p, want) || !bytes.Equal(got.Signature, s.Signature) ||
		!is.Key.Public().Verify(append([]byte(license.SignaturePrefixV2), p...), got.Signature) {
		return nil, fmt.Errorf("the signed server license does not read back as signed; nothing was issued")
	}
	r := &Record{Type: TypeLicense, KeyID: string(s.KeyID), IssuedAt: s.IssuedAt, Serial: s.Serial, Product: s.Product,
		Customer: s.Customer.Name, TaxID: s.Customer.TaxID, Kind: s.Kind.String(), Seats: s.Seats,
		Expires: s.Expires, Updates: s.UpdatesUntil, License: string(arm)}
	// The ledger's machine column names every bound node's machine.
	var ids []string
	for _, n := range s.Nodes {
		if n.Machine != nil {
			ids = append(ids, n.Machine.ID())
		}
	}
	r.Machine = strings.Join(ids, ",")
	if err := is.Ledger.append(r); err != nil {
		return nil, err
	}
	return &IssuedServer{License: s, Armored: arm}, nil
}

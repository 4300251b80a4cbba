package issuer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/internal/qrcode"
	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/pkg/fingerprint"
	"github.com/airseal/airseal/pkg/hwid"
	"github.com/airseal/airseal/pkg/license"
)

// MaxComment is the longest unsigned comment, in bytes.
const MaxComment = 1024

// Order is what the vendor asks to be signed. The zero value of each
// optional field means its default.
type Order struct {
	// Serial is the license's serial, normalised with
	// license.NormalizeSerial; empty for a new random one.
	Serial string
	// Product is the product name; empty takes the request's.
	Product string
	// Edition is the product edition; optional.
	Edition string
	// Kind is the license kind; 0 means license.KindMain.
	Kind license.Kind
	// MainSerial names the main license an additional license extends.
	MainSerial string
	// Customer is the customer organisation; empty takes the request's.
	Customer string
	// TaxID is the customer's tax ID; optional.
	TaxID string
	// Seats is the number of seats; 0 means 1.
	Seats int
	// NotBefore is when the license becomes valid; zero means now.
	NotBefore time.Time
	// Expires is when it ends; nil for never (a demo license must expire).
	Expires *time.Time
	// UpdatesUntil is when the update subscription ends; nil for no end.
	UpdatesUntil *time.Time
	// Features and DemoLimits are the entitlements, in any order.
	Features, DemoLimits []license.Feature
	// Request binds the license to the machine it describes; nil for an
	// unbound license.
	Request *hwid.Request
	// Need overrides the policy's match rule (a looser rule granted to a
	// customer whose machine has little hardware); 0 means the policy's.
	// It must exceed the weight of the weak components together.
	Need int
	// AllowVirtual accepts a request from a virtual machine or container
	// and lets the license run in one.
	AllowVirtual bool
	// Comment is the unsigned comment of the license file; nil means
	// "CUSTOMER, PRODUCT, serial SERIAL", and "" none.
	Comment *string
}

// Binding shows the vendor what a bound license will require of the
// customer's machine, before it is signed.
type Binding struct {
	// MachineID identifies the component set (fingerprint.ID).
	MachineID string `json:"machine_id"`
	// Components are the bound components with the policy's weights.
	Components []BoundComponent `json:"components"`
	// Need is the weight of matching components the machine needs.
	Need int `json:"need"`
	// Total is the sum of all weights.
	Total int `json:"total"`
	// PolicyNeed is the policy's need (equal to Need unless overridden).
	PolicyNeed int `json:"policy_need"`
	// Tolerance is the weight that may change: Total - Need. 0 means any
	// change of hardware stops the license.
	Tolerance int `json:"tolerance"`
	// RequestNeed and RequestTotal are the rule the request asked for,
	// which is never bound.
	RequestNeed  int `json:"request_need"`
	RequestTotal int `json:"request_total"`
	// RequestLooser is true when the request's rule accepts a set of
	// components the bound rule refuses: the request was probably edited.
	RequestLooser bool `json:"request_looser"`
}

// BoundComponent is one bound component, without its hash.
type BoundComponent struct {
	Name      string `json:"name"`
	Weight    int    `json:"weight"`
	NeedsRoot bool   `json:"needs_root,omitempty"`
}

// String describes the rule in one line, e.g. "need 7 of 10 (3 may change)".
func (b *Binding) String() string {
	return fmt.Sprintf("need %d of %d (%d may change)", b.Need, b.Total, b.Tolerance)
}

// Draft is a license ready to be signed, with what it binds and the
// warnings the vendor should read first.
type Draft struct {
	// License is complete but for KeyID and the signature.
	License *license.License
	// Binding is nil for an unbound license.
	Binding *Binding
	// Warnings are things the vendor should know before signing.
	Warnings []string
}

// Prepare checks an order and builds the license to sign, without the
// private key. now is the issue time. Errors about the order are
// *FieldError.
func Prepare(o Order, now time.Time) (*Draft, error) {
	d := &Draft{}
	req := o.Request
	if req != nil {
		if o.Product == "" {
			if err := safetext.Check("product", req.Product); err != nil {
				return nil, fieldErrorf("request.product", "%v", err)
			}
			o.Product = req.Product
		} else if req.Product != o.Product {
			return nil, fieldErrorf("request.product", "the request is for product %q, not %q; the machine hashes are salted with the product name, so ask for a request made with --product %q", req.Product, o.Product, o.Product)
		}
		if o.Customer == "" {
			if err := safetext.Check("customer", req.Customer); err != nil {
				return nil, fieldErrorf("request.customer", "%v; give --customer", err)
			}
			o.Customer = req.Customer
		}
		if req.Virtualization.Type != hwid.TypeNone && !o.AllowVirtual {
			return nil, fieldErrorf("request.virtualization", "the request comes from a %s (%s); refusing to bind a license to it unless virtual machines are allowed",
				req.Virtualization.Type, req.Virtualization.Technology)
		}
	} else if o.AllowVirtual {
		return nil, fieldErrorf("allow_virtual", "applies to a license bound to a machine; an unbound license already runs anywhere, virtual machines included")
	} else if o.Need != 0 {
		return nil, fieldErrorf("machine.need", "applies to a license bound to a machine")
	}
	switch {
	case o.Product == "":
		return nil, fieldErrorf("product", "must not be empty")
	case o.Customer == "" && req != nil:
		return nil, fieldErrorf("customer.name", "must not be empty (the request names no customer)")
	case o.Customer == "":
		return nil, fieldErrorf("customer.name", "must not be empty")
	}
	if o.Kind == 0 {
		o.Kind = license.KindMain
	}
	if o.Kind == license.KindDemo && o.Expires == nil {
		return nil, fieldErrorf("expires", "a demo license must expire")
	}
	if o.Seats == 0 {
		o.Seats = 1
	}
	issued := now.UTC().Truncate(time.Second)
	l := &license.License{
		Product: o.Product, Edition: o.Edition, Kind: o.Kind,
		Customer: license.Customer{Name: o.Customer, TaxID: o.TaxID},
		IssuedAt: issued, NotBefore: issued, Seats: o.Seats, AllowVirtual: o.AllowVirtual,
		Expires: o.Expires, UpdatesUntil: o.UpdatesUntil,
	}
	if !o.NotBefore.IsZero() {
		l.NotBefore = o.NotBefore
	}
	if o.Serial == "" {
		var err error
		if l.Serial, err = license.NewSerial(nil); err != nil {
			return nil, err
		}
	} else {
		l.Serial, _ = license.NormalizeSerial(o.Serial)
	}
	if o.MainSerial != "" {
		l.MainSerial, _ = license.NormalizeSerial(o.MainSerial)
	}
	var err error
	if l.Features, err = license.SortFeatures(o.Features); err != nil {
		return nil, fieldErrorf("features", "%v", err)
	}
	if l.DemoLimits, err = license.SortFeatures(o.DemoLimits); err != nil {
		return nil, fieldErrorf("demo_limits", "%v", err)
	}
	if req != nil {
		fp, b, warn, err := bind(req, o.Need)
		if err != nil {
			return nil, err
		}
		l.Machine, d.Binding, d.Warnings = &fp, b, warn
	}
	if o.Comment == nil {
		l.Comment = fmt.Sprintf("%s, %s, serial %s", l.Customer.Name, l.Product, l.Serial)
	} else {
		l.Comment = *o.Comment
	}
	l.KeyID = "0000000000000000" // Sign sets the real one
	if err := l.Validate(); err != nil {
		return nil, asFieldError(err)
	}
	if err := CheckComment(l.Comment); err != nil {
		if o.Comment == nil {
			err.(*FieldError).Reason += " (the default comment holds the customer and product names: give a comment)"
		}
		return nil, err
	}
	d.License = l
	return d, nil
}

// CheckComment returns a *FieldError for an unsigned comment the armored
// file cannot carry so that verify reads it back: more than MaxComment
// bytes, invalid UTF-8, a control character other than the newline that
// separates lines, or the armor's "-----" marker (a comment line holding
// the BEGIN line would make the file unreadable).
func CheckComment(c string) error {
	if err := checkComment(c); err != nil {
		return err
	}
	return nil
}

func checkComment(c string) *FieldError {
	switch {
	case len(c) > MaxComment:
		return fieldErrorf("comment", "%d bytes, at most %d", len(c), MaxComment)
	case !utf8.ValidString(c):
		return fieldErrorf("comment", "not valid UTF-8")
	case strings.Contains(c, "-----"):
		return fieldErrorf("comment", `must not contain "-----", the marker of the armor's BEGIN and END lines`)
	}
	for _, r := range c {
		if r != '\n' && unicode.IsControl(r) {
			return fieldErrorf("comment", "contains control character %U (only a newline between lines is allowed)", r)
		}
	}
	return nil
}

// bind applies the vendor's policy to a request's components.
func bind(req *hwid.Request, need int) (fingerprint.Fingerprint, *Binding, []string, error) {
	fp, err := hwid.BindingRule(req.Fingerprint.Components)
	var pe *hwid.PolicyError
	switch {
	case errors.Is(err, hwid.ErrWeakBinding):
		return fp, nil, nil, fieldErrorf("request.fingerprint", "the request holds %s: such a binding does not identify one machine; ask the customer to run 'hwid request' as root (more components), or issue an unbound license", err)
	case errors.As(err, &pe):
		return fp, nil, nil, fieldErrorf("request.fingerprint", "%v; the request was not made by hwid or was edited", err)
	case err != nil:
		return fp, nil, nil, fieldErrorf("request.fingerprint", "%v", err)
	}
	b := &Binding{MachineID: fp.ID(), Total: fp.Total(), PolicyNeed: fp.Need,
		RequestNeed: req.Fingerprint.Need, RequestTotal: req.Fingerprint.Total()}
	weak := 0
	for _, c := range fp.Components {
		b.Components = append(b.Components, BoundComponent{c.Name, c.Weight, c.NeedsRoot})
		if hwid.WeakComponent(c.Name) {
			weak += c.Weight
		}
	}
	var warn []string
	if need != 0 {
		if need < 1 || need > b.Total {
			return fp, nil, nil, fieldErrorf("machine.need", "%d is outside 1..%d (the total weight of the bound components)", need, b.Total)
		}
		if need <= weak {
			return fp, nil, nil, fieldErrorf("machine.need", "%d can be reached by cpu and machine_id alone (weight %d), which another machine can share; give at least %d", need, weak, weak+1)
		}
		if need < fp.Need {
			warn = append(warn, fmt.Sprintf("the match rule need %d is looser than the policy's %d: %d of weight %d may change", need, fp.Need, b.Total-need, b.Total))
		}
		fp.Need = need
	}
	b.Need, b.Tolerance = fp.Need, b.Total-fp.Need
	if b.RequestLooser = looser(req.Fingerprint, fp); b.RequestLooser {
		warn = append(warn, fmt.Sprintf("the request asks for a looser match rule (need %d of %d) than is bound (need %d of %d): it was edited or not made by hwid; its rule is ignored",
			b.RequestNeed, b.RequestTotal, b.Need, b.Total))
	}
	if b.Tolerance == 0 {
		warn = append(warn, fmt.Sprintf("the binding leaves no tolerance: all %d components must stay unchanged, so replacing any one of them (a disk, a network card) stops the license. The customer can run 'hwid request' as root to record more components, or you can allow a looser rule (need at least %d)",
			len(fp.Components), weak+1))
	}
	return fp, b, warn, nil
}

// looser reports whether the claimed rule accepts some subset of the
// components that the bound rule refuses. Both have the same components
// (at most a dozen under the policy), so every subset is tried.
func looser(claimed, bound fingerprint.Fingerprint) bool {
	n := len(bound.Components)
	if n > 16 || len(claimed.Components) != n {
		return true
	}
	for set := 0; set < 1<<n; set++ {
		c, b := 0, 0
		for i := 0; i < n; i++ {
			if set&(1<<i) != 0 {
				c += claimed.Components[i].Weight
				b += bound.Components[i].Weight
			}
		}
		if c >= claimed.Need && b < bound.Need {
			return true
		}
	}
	return false
}

// IssueOptions asks Issue for the QR renderings, so that a license that
// cannot be drawn is refused before it is recorded.
type IssueOptions struct {
	// QRPNG renders the typed code as a PNG QR code.
	QRPNG bool
	// QRTerminal renders it as block characters for a terminal.
	QRTerminal bool
}

// Issued is a signed and recorded license in every encoding.
type Issued struct {
	License *license.License
	// Armored is the license file.
	Armored []byte
	// Code is the typed code (ASL1-...).
	Code string
	// QRPNG and QRText are the QR renderings asked for, else empty.
	QRPNG  []byte
	QRText string
}

// Issue signs the draft, checks that every output reads back as the
// customer's verifier will read it, and records the license in the ledger.
// Nothing is returned unless the license is recorded.
func (is *Issuer) Issue(d *Draft, opts IssueOptions) (*Issued, error) {
	l := d.License
	if err := l.Sign(is.Key); err != nil {
		return nil, asFieldError(err)
	}
	out := &Issued{License: l}
	var err error
	if out.Armored, err = l.Armor(); err != nil {
		return nil, err
	}
	if out.Code, err = l.Code(); err != nil {
		return nil, err
	}
	if err := is.checkLicense(out); err != nil {
		return nil, err
	}
	if opts.QRPNG {
		if out.QRPNG, err = qrcode.PNG(out.Code, 0); err != nil {
			return nil, fieldErrorf("qr", "%v", err)
		}
	}
	if opts.QRTerminal {
		if out.QRText, err = qrcode.Terminal(out.Code); err != nil {
			return nil, fieldErrorf("qr", "%v", err)
		}
	}
	r := &Record{Type: TypeLicense, KeyID: string(l.KeyID), IssuedAt: l.IssuedAt, Serial: l.Serial, Product: l.Product,
		Customer: l.Customer.Name, TaxID: l.Customer.TaxID, Kind: l.Kind.String(), Seats: l.Seats,
		Expires: l.Expires, Updates: l.UpdatesUntil, License: string(out.Armored)}
	if l.Machine != nil {
		r.Machine = l.Machine.ID()
	}
	if err := is.Ledger.append(r); err != nil {
		return nil, err
	}
	return out, nil
}

// checkLicense decodes the signed outputs as the verifier will and checks
// them against the readers' limits.
func (is *Issuer) checkLicense(out *Issued) error {
	for _, o := range []struct {
		what string
		data []byte
	}{{"license file", out.Armored}, {"typed code", []byte(out.Code)}} {
		if len(o.data) > fileio.LimitLicense {
			return fieldErrorf("license", "the %s is %d bytes, over the %d-byte limit verify reads; remove features or components", o.what, len(o.data), fileio.LimitLicense)
		}
		got, err := license.Decode(o.data)
		if err != nil {
			return fmt.Errorf("the signed %s does not read back (%v); nothing was issued", o.what, err)
		}
		want, _ := out.License.MarshalPayload()
		p, err := got.MarshalPayload()
		if err != nil || !bytes.Equal(p, want) || !bytes.Equal(got.Signature, out.License.Signature) ||
			!is.Key.Public().Verify(append([]byte(license.SignaturePrefix), p...), got.Signature) {
			return fmt.Errorf("the signed %s does not read back as signed; nothing was issued", o.what)
		}
		if o.what == "license file" && got.Comment != out.License.Comment {
			return fieldErrorf("comment", "reads back as %q; nothing was issued", got.Comment)
		}
	}
	return nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

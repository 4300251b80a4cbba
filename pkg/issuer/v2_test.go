package issuer

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/airseal/airseal/pkg/hwid"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
)

func testServerRequest(t *testing.T, edit func(*hwid.Request)) *license.ServerRequest {
	t.Helper()
	pub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)).Public().(ed25519.PublicKey)
	return &license.ServerRequest{Request: *testRequest(t, edit), Node: "srv1", ResponseKey: pub}
}

func TestIssueServerFromRequest(t *testing.T) {
	req := testServerRequest(t, func(r *hwid.Request) {
		for i := range r.Fingerprint.Components {
			r.Fingerprint.Components[i].Weight = 50 // a claimed rule is never copied
		}
	})
	d, err := PrepareServer(Order{Customer: "ООО «Ромашка»", Seats: 50}, req, license.PerComputer, testNow)
	if err != nil {
		t.Fatal(err)
	}
	n := d.License.Nodes[0]
	if n.Machine == nil || n.Name != "srv1" || !n.ResponseKey.Equal(req.ResponseKey) || d.License.Machine != nil {
		t.Fatalf("node %+v, license machine %v", n, d.License.Machine)
	}
	for _, c := range n.Machine.Components {
		if c.Weight == 50 {
			t.Fatal("the request's weight was copied, not the policy's")
		}
	}
	is := testIssuer(t)
	out, err := is.IssueServer(d)
	if err != nil {
		t.Fatal(err)
	}
	s, err := license.VerifyServer(out.Armored, license.VerifyOptions{Keyring: keys.NewKeyring(is.Key.Public()), Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if s.Seats != 50 || s.SeatUnit != license.PerComputer {
		t.Fatalf("seats %d unit %s", s.Seats, s.SeatUnit)
	}
	rec, torn, err := is.Ledger.Find(s.Serial)
	if err != nil || torn || rec == nil || rec.Machine != s.Nodes[0].Machine.ID() {
		t.Fatalf("ledger: %v, torn %v, %v", rec, torn, err)
	}
}

func TestPrepareServerRefusesVM(t *testing.T) {
	req := testServerRequest(t, func(r *hwid.Request) {
		r.Virtualization = hwid.Verdict{Type: hwid.TypeVM, Technology: "kvm", Evidence: []string{}}
	})
	if _, err := PrepareServer(Order{Customer: "c"}, req, 0, testNow); fieldOf(err) != "request.virtualization" {
		t.Fatalf("got %v, want a request.virtualization error", err)
	}
	d, err := PrepareServer(Order{Customer: "c", AllowVirtual: true}, req, 0, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !d.License.Nodes[0].AllowVirtual || d.License.AllowVirtual {
		t.Fatal("allow_virtual must move to the node")
	}
}

func TestPrepareServerNeedsRequest(t *testing.T) {
	if _, err := PrepareServer(Order{Customer: "c"}, nil, 0, testNow); fieldOf(err) != "request" {
		t.Fatalf("got %v", err)
	}
	req := testServerRequest(t, nil)
	req.ResponseKey = req.ResponseKey[:5]
	var fe *FieldError
	if _, err := PrepareServer(Order{Customer: "c"}, req, 0, testNow); !errors.As(err, &fe) || fe.Field != "request" {
		t.Fatalf("got %v", err)
	}
}

package issuer

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/hwid"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/transfer"
)

// serverWithLicense issues a server license for response key seed 7 and
// returns the issuer, the license and the server's key.
func serverWithLicense(t *testing.T) (*Issuer, *license.ServerLicense, ed25519.PrivateKey) {
	t.Helper()
	is := testIssuer(t)
	exp := testNow.AddDate(1, 0, 0)
	d, err := PrepareServer(Order{Customer: "ООО «Ромашка»", Seats: 25, Expires: &exp,
		Features: []license.Feature{{Name: "export", Value: 1, IsBool: true}}}, testServerRequest(t, nil), license.PerComputer, testNow)
	if err != nil {
		t.Fatal(err)
	}
	out, err := is.IssueServer(d)
	if err != nil {
		t.Fatal(err)
	}
	return is, out.License, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
}

// newServerRequest is the new machine's request, with its own key.
func newServerRequest(t *testing.T) *license.ServerRequest {
	req := testServerRequest(t, func(r *hwid.Request) {})
	req.Node = "srv2"
	req.ResponseKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32)).Public().(ed25519.PublicKey)
	return req
}

func TestTransferRoundTrip(t *testing.T) {
	is, old, key := serverWithLicense(t)
	receipt, _, err := transfer.Sign(key, old, "srv1", testNow.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	res, err := is.Transfer(receipt, newServerRequest(t), testNow.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	n := res.New.License
	if n.Serial == old.Serial || n.Seats != 25 || n.SeatUnit != license.PerComputer || n.Customer != old.Customer ||
		n.Product != old.Product || !n.Expires.Equal(*old.Expires) || len(n.Features) != 1 || n.Nodes[0].Name != "srv2" {
		t.Fatalf("new license %+v", n)
	}
	// Reused: refused.
	if _, err := is.Transfer(receipt, newServerRequest(t), testNow.Add(3*time.Hour)); !errors.Is(err, ErrTransferred) {
		t.Fatalf("reused receipt: %v", err)
	}
	// The next revocation list revokes the old serial, with no serial given.
	rev, err := is.Revoke(RevokeOptions{Now: testNow.Add(4 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !rev.List.Contains(old.Serial) || rev.List.Contains(n.Serial) {
		t.Fatalf("revocation list %v", rev.List.Serials)
	}
	// And only once: a later list carries it, adding nothing new for it.
	if _, err := is.Revoke(RevokeOptions{Now: testNow.Add(5 * time.Hour)}); err == nil {
		t.Fatal("an empty revocation list was made")
	}
}

func TestTransferRefusals(t *testing.T) {
	is, old, key := serverWithLicense(t)
	good, _, _ := transfer.Sign(key, old, "srv1", testNow.Add(time.Hour))
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32))
	fromOther, _, _ := transfer.Sign(other, old, "srv1", testNow.Add(time.Hour))
	foreign := *old
	foreign.Serial = "ZZZZ-ZZZZ-ZZZZ-ZZZZ"
	notIssued, _, _ := transfer.Sign(key, &foreign, "srv1", testNow.Add(time.Hour))
	cases := []struct {
		name    string
		receipt []byte
		want    string
	}{
		{"forged: seats edited", bytes.Replace(good, []byte(`"customer": "ООО «Ромашка»"`), []byte(`"customer": "Other"`), 1), "changed after the server signed it"},
		{"forged: time edited", bytes.Replace(good, []byte(`"removed": "`), []byte(`"removed": "1`), 1), "malformed"},
		{"another server's key", fromOther, "comes from another server"},
		{"serial never issued", notIssued, "never issued"},
		{"not a receipt", []byte(`{"format":"x"}`), "malformed"},
		{"duplicate member", bytes.Replace(good, []byte(`{`), []byte(`{"serial":"A",`), 1), "malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := is.Transfer(c.receipt, newServerRequest(t), testNow.Add(2*time.Hour))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	// None of them was recorded: the good receipt still works.
	if _, err := is.Transfer(good, newServerRequest(t), testNow.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
}

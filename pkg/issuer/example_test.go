package issuer_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/airseal/airseal/pkg/issuer"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
)

// A vendor's portal issues a license bound to the machine in a customer's
// request: Prepare shows what will be bound before the key is used, Issue
// signs and records it, and the customer's verifier accepts it.
func Example() {
	dir, _ := os.MkdirTemp("", "issuer")
	defer os.RemoveAll(dir)
	key, _ := keys.NewPrivateKey(bytes.Repeat([]byte{1}, 32)) // in production: keys.Open(NAME.key, passphrase)
	is := &issuer.Issuer{Key: key, Ledger: &issuer.Ledger{Path: filepath.Join(dir, "vendor.ledger")}}

	data, _ := os.ReadFile("testdata/request.json") // from 'hwid request' on the customer's machine
	req, err := issuer.ParseRequest(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	d, err := issuer.Prepare(issuer.Order{Request: req, Serial: "7k3m-q9tx-4hzp-2w8r", Seats: 5}, now)
	if err != nil {
		fmt.Println(err) // a *issuer.FieldError naming the field
		return
	}
	fmt.Println("binding:", d.Binding)
	for _, c := range d.Binding.Components {
		fmt.Printf("  %s weight %d\n", c.Name, c.Weight)
	}
	out, err := is.Issue(d, issuer.IssueOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	rec, _, _ := is.Ledger.Find(out.License.Serial)
	fmt.Println("recorded:", rec.Serial, rec.Customer, rec.Seats)

	l, err := license.Verify(out.Armored, license.VerifyOptions{Keyring: keys.NewKeyring(key.Public()), Now: now})
	fmt.Println("verifies:", l.Serial, err)
	// Output:
	// binding: need 8 of 11 (3 may change)
	//   system_uuid weight 3
	//   cpu weight 1
	//   mac weight 2
	//   mac weight 2
	//   disk_serial weight 1
	//   disk_serial weight 1
	//   machine_id weight 1
	// recorded: 7K3M-Q9TX-4HZP-2W8R Example Corp 5
	// verifies: 7K3M-Q9TX-4HZP-2W8R <nil>
}

// Revoking continues the ledger's newest list; each ledger record holds
// only the serials it adds.
func ExampleIssuer_Revoke() {
	dir, _ := os.MkdirTemp("", "issuer")
	defer os.RemoveAll(dir)
	key, _ := keys.NewPrivateKey(bytes.Repeat([]byte{1}, 32))
	is := &issuer.Issuer{Key: key, Ledger: &issuer.Ledger{Path: filepath.Join(dir, "vendor.ledger")}}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

	is.Revoke(issuer.RevokeOptions{Serials: []string{"AAAA-0000-0000-0001"}, Now: now})
	r, err := is.Revoke(issuer.RevokeOptions{Serials: []string{"bbbb000000000002"}, Now: now})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("list", r.List.Sequence, r.List.Serials)
	fmt.Println("added", r.Added, "never issued", r.NotIssued)
	// Output:
	// list 2 [AAAA-0000-0000-0001 BBBB-0000-0000-0002]
	// added [BBBB-0000-0000-0002] never issued [BBBB-0000-0000-0002]
}

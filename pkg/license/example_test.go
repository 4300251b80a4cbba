package license_test

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
)

// vendorKey stands in for the vendor's private key; real keys come from
// keys.LoadPrivate.
func vendorKey() *keys.PrivateKey {
	k, _ := keys.NewPrivateKey(bytes.Repeat([]byte{7}, 32))
	return k
}

func ExampleLicense_Sign() {
	issued := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	updates := issued.AddDate(1, 0, 0)
	l := &license.License{
		Serial:       "7K3M-Q9TX-4HZP-2W8R",
		Product:      "Acme Writer",
		Kind:         license.KindMain,
		Customer:     license.Customer{Name: "Example LLC", TaxID: "7707083893"},
		IssuedAt:     issued,
		NotBefore:    issued,
		UpdatesUntil: &updates,
		Seats:        5,
		Features:     []license.Feature{{Name: "export", Value: 1, IsBool: true}, {Name: "max_documents", Value: 1000}},
		Comment:      "Example LLC, accounting",
	}
	if err := l.Sign(vendorKey()); err != nil {
		fmt.Println(err)
		return
	}
	file, _ := l.Armor()
	fmt.Println(string(file[:bytes.IndexByte(file, '\n')]))
	code, _ := l.Code()
	fmt.Println(code[:5])
	// Output:
	// unsigned comment: Example LLC, accounting
	// ASL1-
}

func ExampleVerify() {
	issued := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	l := &license.License{
		Serial: "7K3M-Q9TX-4HZP-2W8R", Product: "Acme Writer", Kind: license.KindMain,
		Customer: license.Customer{Name: "Example LLC"}, IssuedAt: issued, NotBefore: issued, Seats: 5,
		Features: []license.Feature{{Name: "max_documents", Value: 1000}},
	}
	l.Sign(vendorKey())
	file, _ := l.Armor()

	// In the product: the trusted keyring is compiled in, the machine comes
	// from hwid.Collect.
	ring := keys.NewKeyring(vendorKey().Public())
	got, err := license.Verify(file, license.VerifyOptions{
		Keyring: ring,
		Now:     time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		Product: "Acme Writer",
	})
	fmt.Println(got.Customer.Name, got.Seats, err)

	_, err = license.Verify(file, license.VerifyOptions{Keyring: ring, Now: time.Now(), Product: "Acme Reader"})
	fmt.Println(errors.Is(err, license.ErrWrongProduct))
	// Output:
	// Example LLC 5 <nil>
	// true
}

func ExampleEntitle() {
	// No license at all: the product's built-in demo limits apply.
	_, err := license.Verify([]byte("not a license"), license.VerifyOptions{Now: time.Now()})
	e := license.Entitle(nil, err, []license.Feature{{Name: "lines_per_document", Value: 3}})
	n, _ := e.Limit("lines_per_document")
	fmt.Println(e.Demo, n)
	// Output:
	// true 3
}

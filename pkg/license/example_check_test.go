package license_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
)

// exampleLicense signs a perpetual license for Acme Writer issued on
// 2026-01-15.
func exampleLicense() []byte {
	issued := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	l := &license.License{Serial: "7K3M-Q9TX-4HZP-2W8R", Product: "Acme Writer", Kind: license.KindMain,
		Customer: license.Customer{Name: "Example LLC"}, IssuedAt: issued, NotBefore: issued, Seats: 5}
	l.Sign(vendorKey())
	file, _ := l.Armor()
	return file
}

// An unbound license, checked without clock state.
func ExampleCheck() {
	res, err := license.Check(exampleLicense(), license.CheckOptions{
		Keyring: keys.NewKeyring(vendorKey().Public()),
		Now:     time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		Product: "Acme Writer",
	})
	fmt.Println(res.License.Customer.Name, err)
	// Output:
	// Example LLC <nil>
}

// A check with clock state: a run remembers the newest time seen, and a
// later run with the clock set back a week is refused. A license bound to
// a machine is checked the same way, with Facts reading the machine
// (usually hwid.Collect for the license's product).
func ExampleCheck_clockState() {
	dir, _ := os.MkdirTemp("", "airseal-example")
	defer os.RemoveAll(dir)
	opts := license.CheckOptions{
		Keyring: keys.NewKeyring(vendorKey().Public()),
		Now:     time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		State:   license.StateFile{Path: filepath.Join(dir, "verify.state")},
		Facts: func(product string) (*license.Machine, error) {
			return nil, errors.New("not called: the license is not bound")
		},
	}
	_, err := license.Check(exampleLicense(), opts)
	fmt.Println(err)
	opts.Now = opts.Now.AddDate(0, 0, -7)
	_, err = license.Check(exampleLicense(), opts)
	fmt.Println(errors.Is(err, license.ErrClockRollback))
	// Output:
	// <nil>
	// true
}

// A check against the installed release: its product must be the
// license's, and its signed release date is checked against the update
// subscription.
func ExampleCheck_installed() {
	_, err := license.Check(exampleLicense(), license.CheckOptions{
		Keyring:   keys.NewKeyring(vendorKey().Public()),
		Now:       time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		Installed: &license.Installed{Product: "Acme Studio", Version: "3.0.0", ReleaseDate: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
	})
	fmt.Println(errors.Is(err, license.ErrWrongProduct))
	// Output:
	// true
}

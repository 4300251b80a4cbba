package tokenbench

import (
	"fmt"
	"testing"

	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
)

// licenseList returns a signed, opened license revocation list of n serials
// as 'issue revoke' writes it.
func licenseList(b *testing.B, n int) *license.RevocationList {
	serials := make([]string, n)
	for i := range serials {
		serials[i] = fmt.Sprintf("%04X-%04X-0000-0000", i/65536, i%65536)
	}
	k := key(b)
	rl := (*license.RevocationList)(nil).Next(serials, now)
	if err := rl.Sign(k); err != nil {
		b.Fatal(err)
	}
	data, err := rl.Armor()
	if err != nil {
		b.Fatal(err)
	}
	l, err := license.OpenRevocations(data, keys.NewKeyring(k.Public()))
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// BenchmarkLicenseRevoked1 and BenchmarkLicenseRevoked200k are a pair: the
// revocation lookup of a license check against a list of 1 serial and of
// 200,000 (issue 8 item 12: more than 65,536 serials, verification cost
// bounded: a binary search, about 18 comparisons). run.sh revlist prints
// the ratio of their medians.
func BenchmarkLicenseRevoked1(b *testing.B) { benchLicenseRevoked(b, 1) }

// BenchmarkLicenseRevoked200k: see BenchmarkLicenseRevoked1.
func BenchmarkLicenseRevoked200k(b *testing.B) { benchLicenseRevoked(b, 200_000) }

func benchLicenseRevoked(b *testing.B, n int) {
	l := licenseList(b, n)
	for b.Loop() {
		if l.Contains("0009-0000-0000-0000") {
			b.Fatal("listed")
		}
	}
}

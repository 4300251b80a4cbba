// Package licensebench measures license verification against a bare
// Ed25519 verification in the same run. Run it with bench/license/run.sh.
package licensebench

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/fingerprint"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
)

var issued = time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)

func fixture(b *testing.B, bound bool) (*keys.PrivateKey, *license.License) {
	k, err := keys.NewPrivateKey(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		b.Fatal(err)
	}
	u := issued.AddDate(1, 0, 0)
	l := &license.License{
		Serial: "7K3M-Q9TX-4HZP-2W8R", Product: "Acme Writer", Edition: "pro", Kind: license.KindMain,
		Customer: license.Customer{Name: "Example LLC", TaxID: "7707083893/770701001"},
		IssuedAt: issued, NotBefore: issued, UpdatesUntil: &u, Seats: 25,
		DemoLimits: []license.Feature{{Name: "lines_per_document", Value: 3}},
	}
	for i := range 20 {
		l.Features = append(l.Features, license.Feature{Name: fmt.Sprintf("feature_%02d", i), Value: int64(i % 2), IsBool: i%3 != 0})
	}
	if bound {
		fp := fingerprint.Fingerprint{Need: 4}
		for _, n := range []string{"system_uuid", "board_serial", "disk_serial", "mac", "cpu", "machine_id"} {
			fp.Components = append(fp.Components, fingerprint.Component{Name: n, Weight: 1, Hash: fingerprint.HashValue("Acme Writer", n, n+"-value")})
		}
		l.Machine = &fp
	}
	if err := l.Sign(k); err != nil {
		b.Fatal(err)
	}
	return k, l
}

// BenchmarkEd25519Verify is the baseline: one bare ed25519.Verify of a
// message the size of the license's signed message.
func BenchmarkEd25519Verify(b *testing.B) {
	k, l := fixture(b, false)
	p, _ := l.MarshalPayload()
	msg := append([]byte(license.SignaturePrefix), p...)
	pub := k.Public().Bytes()
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pub, msg, l.Signature) {
			b.Fatal("bad signature")
		}
	}
}

func benchVerify(b *testing.B, bound bool, encode func(*license.License) []byte) {
	k, l := fixture(b, bound)
	in := encode(l)
	opts := license.VerifyOptions{Keyring: keys.NewKeyring(k.Public()), Now: issued.AddDate(0, 2, 0), Product: "Acme Writer"}
	if bound {
		opts.Machine = &license.Machine{Components: l.Machine.Components, RootRead: true, Virtualization: "none"}
	}
	if _, err := license.Verify(in, opts); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := license.Verify(in, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func raw(l *license.License) []byte     { r, _ := l.Raw(); return r }
func armored(l *license.License) []byte { a, _ := l.Armor(); return a }
func code(l *license.License) []byte    { c, _ := l.Code(); return []byte(c) }

// BenchmarkVerifyRaw is license.Verify of the raw binary license with 20 features.
func BenchmarkVerifyRaw(b *testing.B) { benchVerify(b, false, raw) }

// BenchmarkVerifyFile is license.Verify of the armored file with 20 features.
func BenchmarkVerifyFile(b *testing.B) { benchVerify(b, false, armored) }

// BenchmarkVerifyCode is license.Verify of the typed code with 20 features.
func BenchmarkVerifyCode(b *testing.B) { benchVerify(b, false, code) }

// BenchmarkVerifyFileBound adds a six-component machine binding and match.
func BenchmarkVerifyFileBound(b *testing.B) { benchVerify(b, true, armored) }

package license

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/fingerprint"
	"github.com/airseal/airseal/pkg/keys"
)

// testKey derives a deterministic key from a one-byte seed. Test keys are
// never written to disk.
func testKey(t testing.TB, seed byte) *keys.PrivateKey {
	t.Helper()
	k, err := keys.NewPrivateKey(bytes.Repeat([]byte{seed}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const testProduct = "Acme Writer"

var (
	tIssued  = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	tUpdates = time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)
	tNow     = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

func tp(t time.Time) *time.Time { return &t }

// machineValues are the fake hardware facts of the test machine.
var machineValues = []struct {
	name, value string
	weight      int
	root        bool
}{
	{"system_uuid", "4c4c4544-0042-3510-8052-b4c04f4d3232", 2, true},
	{"board_serial", "CN7016352P0123", 2, true},
	{"disk_serial", "S3Z9NB0K123456A", 1, false},
	{"mac", "52:54:00:12:34:56", 1, false},
	{"cpu", "GenuineIntel 6 85 Intel(R) Xeon(R) Gold 6230", 1, false},
	{"machine_id", "b0c3e2a1d4f5461a9c8e7f6a5b4c3d2e", 1, false},
}

// testMachine returns the test machine's components for product, with the
// named components' values changed.
func testMachine(product string, changed ...string) []fingerprint.Component {
	var cs []fingerprint.Component
	for _, v := range machineValues {
		val := v.value
		for _, c := range changed {
			if c == v.name {
				val += "-changed"
			}
		}
		cs = append(cs, fingerprint.Component{Name: v.name, Weight: v.weight, NeedsRoot: v.root,
			Hash: fingerprint.HashValue(product, v.name, val)})
	}
	return cs
}

// sampleLicense returns an unsigned license with n features, bound to the
// test machine when bound is true.
func sampleLicense(n int, bound bool) *License {
	l := &License{
		Serial:       "7K3M-Q9TX-4HZP-2W8R",
		Product:      testProduct,
		Edition:      "pro",
		Kind:         KindMain,
		Customer:     Customer{Name: "ООО «Ромашка»", TaxID: "7707083893/770701001"},
		IssuedAt:     tIssued,
		NotBefore:    tIssued,
		UpdatesUntil: tp(tUpdates),
		Seats:        5,
		DemoLimits:   []Feature{{Name: "lines_per_document", Value: 3}},
	}
	for i := range n {
		if i%2 == 0 {
			l.Features = append(l.Features, Feature{Name: fmt.Sprintf("feature_%02d", i), Value: 1, IsBool: true})
		} else {
			l.Features = append(l.Features, Feature{Name: fmt.Sprintf("feature_%02d", i), Value: int64(i * 100)})
		}
	}
	if bound {
		l.Machine = &fingerprint.Fingerprint{Components: testMachine(testProduct), Need: 6}
	}
	return l
}

func signed(t testing.TB, l *License, k *keys.PrivateKey) *License {
	t.Helper()
	if err := l.Sign(k); err != nil {
		t.Fatal(err)
	}
	return l
}

func mustArmor(t testing.TB, l *License) []byte {
	t.Helper()
	b, err := l.Armor()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustRaw(t testing.TB, l *License) []byte {
	t.Helper()
	b, err := l.Raw()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustCode(t testing.TB, l *License) string {
	t.Helper()
	c, err := l.Code()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func liveMachine(changed ...string) *Machine {
	return &Machine{Components: testMachine(testProduct, changed...), RootRead: true, Virtualization: "none"}
}

func baseOpts(k *keys.PrivateKey) VerifyOptions {
	return VerifyOptions{Keyring: keys.NewKeyring(k.Public()), Now: tNow, Product: testProduct, Machine: liveMachine()}
}

// exitCode is the exit code the spec's vectors name for an error (the
// table itself lives in cmd/verify; this copy checks the vectors):
// 0 for nil, 10..18 for the sentinels, 1 for anything else.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrBadSignature):
		return 10
	case errors.Is(err, ErrUnknownKey):
		return 11
	case errors.Is(err, ErrWrongMachine):
		return 12
	case errors.Is(err, ErrExpired), errors.Is(err, ErrNotYetValid):
		return 13
	case errors.Is(err, ErrRevoked):
		return 14
	case errors.Is(err, ErrClockRollback):
		return 15
	case errors.Is(err, ErrVirtualMachine):
		return 16
	case errors.Is(err, ErrUpdatesExpired):
		return 17
	case errors.Is(err, ErrWrongProduct):
		return 18
	}
	return 1
}

package transfer

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/license"
)

func FuzzParse(f *testing.F) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	sl := &license.ServerLicense{License: license.License{Serial: "SRV1", Product: "p"},
		Nodes: []license.Node{{Name: "n", ResponseKey: key.Public().(ed25519.PublicKey)}}}
	good, _, err := Sign(key, sl, "n", time.Unix(1800000000, 0))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"format":"airseal transfer receipt v1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			return
		}
		// A parsed receipt re-encodes and parses to the same receipt, and
		// verifies only if it is the signed one.
		b, _ := json.Marshal(r)
		r2, err := Parse(b)
		if err != nil || !same(r, r2) {
			t.Fatalf("round trip: %v", err)
		}
		if r.Verify(sl) == nil && !bytes.Equal(bytes.TrimSpace(data), bytes.TrimSpace(good)) {
			g, _ := Parse(good)
			if !same(g, r) {
				t.Fatalf("a different receipt verified: %+v", r)
			}
		}
	})
}

// same compares receipts, times by instant.
func same(a, b *Receipt) bool {
	x, y := *a, *b
	x.Removed, y.Removed = time.Time{}, time.Time{}
	return x == y && a.Removed.Equal(b.Removed)
}

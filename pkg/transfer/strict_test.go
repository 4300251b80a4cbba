package transfer

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/license"
)

// TestParseRefusesCaseVariants (issue 10): a signed receipt whose member
// is named in another case ("Serial" for "serial") or given twice is
// refused, not read the way encoding/json happens to read it.
func TestParseRefusesCaseVariants(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	sl := &license.ServerLicense{License: license.License{Serial: "SRV1", Product: "p"},
		Nodes: []license.Node{{Name: "n", ResponseKey: key.Public().(ed25519.PublicKey)}}}
	good, _, err := Sign(key, sl, "n", time.Unix(1800000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(good); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(good, []byte(`"serial": "SRV1"`)) {
		t.Fatalf("no serial member in %s", good)
	}
	for _, bad := range [][]byte{
		bytes.Replace(good, []byte(`"serial":`), []byte(`"Serial":`), 1),
		bytes.Replace(good, []byte(`"serial": "SRV1"`), []byte(`"serial": "SRV1", "serial": "OTHER"`), 1),
		bytes.Replace(good, []byte(`"serial": "SRV1"`), []byte(`"serial": "SRV1", "SERIAL": "OTHER"`), 1),
	} {
		if _, err := Parse(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

package license

import (
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/keys"
)

// The example in docs/spec/license-v1.md is real: its file verifies with
// the test key of seed 01×32, and its signature is the one printed.
func TestSpecExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/spec/license-v1.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i := strings.Index(s, "unsigned comment: Example LLC, Acme Writer\n-----BEGIN")
	j := strings.Index(s[i:], "-----END AIRSEAL LICENSE-----\n")
	if i < 0 || j < 0 {
		t.Fatal("no example file in the spec")
	}
	file := s[i : i+j+len("-----END AIRSEAL LICENSE-----\n")]
	k := testKey(t, 1)
	if !strings.Contains(s, "key ID `"+string(k.ID())+"`") {
		t.Errorf("spec does not name key ID %s", k.ID())
	}
	l, err := Verify([]byte(file), VerifyOptions{Keyring: keys.NewKeyring(k.Public()), Now: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatalf("spec example: %v", err)
	}
	if l.Serial != "7K3M-Q9TX-4HZP-2W8R" || l.Customer.TaxID != "7707083893" || l.Seats != 5 || len(l.Features) != 2 {
		t.Errorf("spec example decodes to %+v", l)
	}
	if !strings.Contains(s, "`"+hex.EncodeToString(l.Signature)+"`") {
		t.Errorf("spec does not print the example's signature %x", l.Signature)
	}
	p, _ := l.MarshalPayload()
	if !strings.Contains(s, "00000000  "+strings.Join(splitHex(p[:8]), " ")) {
		t.Errorf("spec hex dump does not start with the payload's bytes % x", p[:8])
	}
}

func splitHex(b []byte) []string {
	out := make([]string, len(b))
	for i, c := range b {
		out[i] = hex.EncodeToString([]byte{c})
	}
	return out
}

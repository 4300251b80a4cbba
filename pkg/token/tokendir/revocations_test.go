package tokendir

import (
	"errors"
	"fmt"
	"testing"

	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/pkg/token"
)

// bigEntries returns n jti-like and n serial-like entries.
func bigEntries(n int) (jtis, serials []string) {
	for i := range n {
		jtis = append(jtis, fmt.Sprintf("jti%019d", i))
		serials = append(serials, fmt.Sprintf("%04X-%04X-%04X-%04X", i>>16, i&0xffff, 0x7A3C, i%9973))
	}
	return jtis, serials
}

// A customer can revoke at least 100,000 jtis and 100,000 serials: the list
// has its own size limit, not the 8 KiB token limit (issue 8 item 10).
func TestRevocationListHundredThousand(t *testing.T) {
	d := newTestDir(t)
	s, err := d.Signer([]byte("test passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	jtis, serials := bigEntries(100_000)
	if _, err := d.Revoke(s, jtis, serials); err != nil {
		t.Fatalf("Revoke 100,000 + 100,000: %v", err)
	}
	// A further revoke reads the big list back, so it keeps working.
	l, err := d.Revoke(s, []string{"one-more"}, nil)
	if err != nil {
		t.Fatalf("Revoke after a big list: %v", err)
	}
	if len(l.JTIs) != 100_001 || len(l.LicenseSerials) != 100_000 || l.Seq != 2 {
		t.Fatalf("list #%d has %d jtis and %d serials", l.Seq, len(l.JTIs), len(l.LicenseSerials))
	}
	ring, st, err := d.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Revocations(ring, st.Issuer)
	if err != nil {
		t.Fatalf("Revocations: %v", err)
	}
	r := testRequest()
	r.LicenseSerial = serials[77_777]
	tok, _ := mustMint(t, s, r)
	v := &token.Verifier{Keys: ring, Issuer: st.Issuer, Audience: testAud, Revocations: got}
	if _, err := v.Verify(tok, testNow); !errors.Is(err, token.ErrRevoked) {
		t.Fatalf("token bound to a revoked serial: %v", err)
	}
	if !got.HasJTI(jtis[99_999]) || got.HasJTI("jti-not-listed") {
		t.Error("HasJTI wrong on the big list")
	}
}

// The directory reads a list with the limit the pure package signs to.
func TestRevocationLimitsAgree(t *testing.T) {
	if token.MaxRevocationListSize != fileio.LimitRevocations {
		t.Fatalf("token.MaxRevocationListSize %d, fileio.LimitRevocations %d", token.MaxRevocationListSize, fileio.LimitRevocations)
	}
}

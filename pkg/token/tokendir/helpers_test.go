package tokendir

import (
	"bytes"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/token"
)

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const (
	testIssuer = "https://auth.portal.local"
	testAud    = "https://portal.local/rest/"
)

// testKey derives a deterministic key from a one-byte seed. No private key
// file is ever committed.
func testKey(t testing.TB, b byte) *keys.PrivateKey {
	t.Helper()
	k, err := keys.NewPrivateKey(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testSigner(t testing.TB, b byte) *token.Signer {
	return token.NewSigner(testIssuer, testKey(t, b))
}

func testRequest() token.Request {
	return token.Request{Subject: "1", Audience: testAud, ClientID: "local.itgrix.1", Scope: "telephony,crm user", TTL: token.DefaultTTL, Now: testNow}
}

func mustMint(t testing.TB, s *token.Signer, r token.Request) (string, *token.Claims) {
	t.Helper()
	tok, c, err := s.Mint(r)
	if err != nil {
		t.Fatal(err)
	}
	return tok, c
}

// newTestDir initialises a token directory with cheap key sealing.
func newTestDir(t testing.TB) *Dir {
	t.Helper()
	d := &Dir{Path: t.TempDir(), Seal: &keys.SealOptions{LogN: 10}}
	if _, err := d.Init(testIssuer, []byte("test passphrase")); err != nil {
		t.Fatal(err)
	}
	return d
}

func testVerifier(ks ...*keys.PrivateKey) *token.Verifier {
	ring := keys.NewKeyring()
	for _, k := range ks {
		ring.Add(k.Public())
	}
	return &token.Verifier{Keys: ring, Issuer: testIssuer, Audience: testAud}
}

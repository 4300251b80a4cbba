package token

import (
	"bytes"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/keys"
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

// countingReader yields 0, 1, 2, ... for deterministic jti values.
type countingReader struct{ n byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

func testSigner(t testing.TB, b byte) *Signer {
	s := NewSigner(testIssuer, testKey(t, b))
	s.rand = &countingReader{}
	return s
}

func testRequest() Request {
	return Request{Subject: "1", Audience: testAud, ClientID: "local.itgrix.1", Scope: "telephony,crm user", TTL: DefaultTTL, Now: testNow}
}

func mustMint(t testing.TB, s *Signer, r Request) (string, *Claims) {
	t.Helper()
	tok, c, err := s.Mint(r)
	if err != nil {
		t.Fatal(err)
	}
	return tok, c
}

func testVerifier(ks ...*keys.PrivateKey) *Verifier {
	ring := keys.NewKeyring()
	for _, k := range ks {
		ring.Add(k.Public())
	}
	return &Verifier{Keys: ring, Issuer: testIssuer, Audience: testAud}
}

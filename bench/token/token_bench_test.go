// Package tokenbench measures pkg/token against bare Ed25519 in the same
// run: verify must cost at most 1.25x ed25519.Verify and mint (without the
// ledger write) at most 1.5x ed25519.Sign. go-jose is measured alongside for
// comparison. Run: go test -bench . -count 5 ./bench/token/ (see run.sh).
package tokenbench

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/token"
)

var (
	now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	req = token.Request{Subject: "1", Audience: "https://portal.local/rest/", ClientID: "local.itgrix.1",
		Scope: "telephony crm user", Now: now}
)

func key(b *testing.B) *keys.PrivateKey {
	k, err := keys.NewPrivateKey(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		b.Fatal(err)
	}
	return k
}

func minted(b *testing.B) (*keys.PrivateKey, string) {
	k := key(b)
	tok, _, err := token.NewSigner("https://auth.portal.local", k).Mint(req)
	if err != nil {
		b.Fatal(err)
	}
	return k, tok
}

// BenchmarkEd25519Verify is the baseline for BenchmarkVerify: a bare
// signature check over a message the size of a token's signing input.
func BenchmarkEd25519Verify(b *testing.B) {
	k, tok := minted(b)
	i := bytes.LastIndexByte([]byte(tok), '.')
	msg := []byte(tok[:i])
	sig := ed25519.Sign(k.Ed25519(), msg)
	pub := k.Public().Bytes()
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("bad")
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	k, tok := minted(b)
	v := &token.Verifier{Keys: keys.NewKeyring(k.Public()), Issuer: "https://auth.portal.local", Audience: req.Audience}
	for b.Loop() {
		if _, err := v.Verify(tok, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyGoJose is the same check with go-jose, for comparison.
func BenchmarkVerifyGoJose(b *testing.B) {
	k, tok := minted(b)
	pub := ed25519.PublicKey(k.Public().Bytes())
	for b.Loop() {
		t, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA})
		if err != nil {
			b.Fatal(err)
		}
		var c jwt.Claims
		if err := t.Claims(pub, &c); err != nil {
			b.Fatal(err)
		}
		if err := c.ValidateWithLeeway(jwt.Expected{AnyAudience: jwt.Audience{req.Audience}, Time: now}, 300*time.Second); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEd25519Sign is the baseline for BenchmarkMint.
func BenchmarkEd25519Sign(b *testing.B) {
	k, tok := minted(b)
	i := bytes.LastIndexByte([]byte(tok), '.')
	msg := []byte(tok[:i])
	priv := k.Ed25519()
	for b.Loop() {
		ed25519.Sign(priv, msg)
	}
}

func BenchmarkMint(b *testing.B) {
	s := token.NewSigner("https://auth.portal.local", key(b))
	for b.Loop() {
		if _, _, err := s.Mint(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMintGoJose signs the same claims with go-jose, for comparison.
func BenchmarkMintGoJose(b *testing.B) {
	k := key(b)
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: k.Ed25519()},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", string(k.ID())))
	if err != nil {
		b.Fatal(err)
	}
	s := token.NewSigner("https://auth.portal.local", k)
	_, c, _ := s.Mint(req)
	for b.Loop() {
		if _, err := jwt.Signed(sig).Claims(c).Serialize(); err != nil {
			b.Fatal(err)
		}
	}
}

// revokedVerifier returns a verifier whose revocation list holds n jtis and
// n license serials (none of them the benchmarked token's).
func revokedVerifier(b *testing.B, n int) (*token.Verifier, string) {
	k, tok := minted(b)
	jtis := make([]string, n)
	serials := make([]string, n)
	for i := range n {
		jtis[i] = fmt.Sprintf("jti%019d", i)
		serials[i] = fmt.Sprintf("%04X-%04X-7A3C-%04X", i>>16, i&0xffff, i%9973)
	}
	l, _ := (*token.RevocationList)(nil).Next("https://auth.portal.local", jtis, serials, now)
	return &token.Verifier{Keys: keys.NewKeyring(k.Public()), Issuer: "https://auth.portal.local",
		Audience: req.Audience, Revocations: l}, tok
}

// BenchmarkVerifyRevoked0 and BenchmarkVerifyRevoked100k are a pair: the
// same verification with an empty revocation list and with one of 100,000
// jtis and 100,000 serials (issue 8 item 10: the cost must not grow with
// the list). run.sh revlist prints the ratio of their medians.
func BenchmarkVerifyRevoked0(b *testing.B) { benchRevoked(b, 0) }

// BenchmarkVerifyRevoked100k: see BenchmarkVerifyRevoked0.
func BenchmarkVerifyRevoked100k(b *testing.B) { benchRevoked(b, 100_000) }

func benchRevoked(b *testing.B, n int) {
	v, tok := revokedVerifier(b, n)
	for b.Loop() {
		if _, err := v.Verify(tok, now); err != nil {
			b.Fatal(err)
		}
	}
}

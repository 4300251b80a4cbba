package tokenserver

import (
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/token"
	"github.com/airseal/airseal/pkg/token/tokendir"
)

const (
	testIssuer = "https://auth.portal.local"
	testAud    = "https://portal.local/rest/"
)

var testPass = []byte("test passphrase")

func testRequest() token.Request {
	return token.Request{Subject: "1", Audience: testAud, ClientID: "local.itgrix.1", Scope: "telephony,crm user", TTL: token.DefaultTTL, Now: time.Now()}
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
func newTestDir(t testing.TB) *tokendir.Dir {
	t.Helper()
	d := &tokendir.Dir{Path: t.TempDir(), Seal: &keys.SealOptions{LogN: 10}}
	if _, err := d.Init(testIssuer, testPass); err != nil {
		t.Fatal(err)
	}
	return d
}

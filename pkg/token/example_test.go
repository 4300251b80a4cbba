package token_test

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/token"
)

func Example() {
	// The issuer's key; real keys come from Dir.Signer (sealed on disk).
	k, _ := keys.NewPrivateKey(bytes.Repeat([]byte{1}, 32))
	s := token.NewSigner("https://auth.portal.local", k)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tok, _, err := s.Mint(token.Request{
		Subject: "1", Audience: "https://portal.local/rest/", ClientID: "local.itgrix.1",
		Scope: "telephony,crm", TTL: 3650 * 24 * time.Hour, Now: now,
	})
	if err != nil {
		panic(err)
	}

	// A resource server trusts the issuer's public keys (e.g. from its JWKS).
	v := &token.Verifier{Keys: keys.NewKeyring(k.Public()), Issuer: "https://auth.portal.local", Audience: "https://portal.local/rest/"}
	c, err := v.Verify(tok, now)
	fmt.Println(c.Subject, c.Scope, err)

	_, err = v.Verify(tok, now.Add(3651*24*time.Hour))
	fmt.Println(errors.Is(err, token.ErrExpired))
	// Output:
	// 1 telephony crm <nil>
	// true
}

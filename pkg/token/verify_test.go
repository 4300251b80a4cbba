package token

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestMintVerify(t *testing.T) {
	k := testKey(t, 1)
	s := testSigner(t, 1)
	tok, c := mustMint(t, s, testRequest())
	if c.Scope != "telephony crm user" {
		t.Errorf("scope not normalised: %q", c.Scope)
	}
	got, err := testVerifier(k).Verify(tok, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != c.ID || got.Subject != "1" || got.ExpiresAt != testNow.Add(DefaultTTL).Unix() || got.ClientID != "local.itgrix.1" {
		t.Errorf("claims = %+v, want %+v", got, c)
	}
	if len(tok) > 600 {
		t.Errorf("token is %d bytes, want at most 600", len(tok))
	}
}

// vector is the golden vector in testdata/vector-v1.json.
type vector struct {
	SeedByte byte    `json:"seed_byte"`
	Now      int64   `json:"now"`
	Request  Request `json:"request"`
	Token    string  `json:"token"`
	JWKS     json.RawMessage
}

func TestGoldenVector(t *testing.T) {
	s := testSigner(t, 7)
	r := testRequest()
	r.LicenseSerial = "7Q2M4K9T1XZ3B8PD"
	r.MemberID = "a223c6b3710f85df22e9377d6c4f7553"
	tok, _ := mustMint(t, s, r)
	jwks, err := MarshalJWKS(testVerifier(testKey(t, 7)).Keys)
	if err != nil {
		t.Fatal(err)
	}
	v := vector{SeedByte: 7, Now: testNow.Unix(), Request: r, Token: tok, JWKS: jwks}
	const path = "testdata/vector-v1.json"
	if *update {
		b, _ := json.MarshalIndent(v, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want vector
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if want.Token != tok {
		t.Errorf("minted token differs from the golden vector (run with -update if the format changed on purpose)\n got %s\nwant %s", tok, want.Token)
	}
	ring, err := ParseJWKS(want.JWKS)
	if err != nil {
		t.Fatal(err)
	}
	c, err := (&Verifier{Keys: ring, Audience: testAud}).Verify(want.Token, time.Unix(want.Now, 0))
	if err != nil {
		t.Fatal(err)
	}
	if c.LicenseSerial != r.LicenseSerial || c.MemberID != r.MemberID {
		t.Errorf("claims %+v lost the license serial or member_id", c)
	}
}

// forge builds a compact JWS with an arbitrary header, payload and
// signature function.
func forge(header, payload string, sign func(input []byte) []byte) string {
	in := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	return in + "." + b64.EncodeToString(sign([]byte(in)))
}

func TestRejections(t *testing.T) {
	k := testKey(t, 1)
	other := testKey(t, 2)
	s := testSigner(t, 1)
	good, claims := mustMint(t, s, testRequest())
	kid := string(k.ID())
	payload, _ := json.Marshal(claims)
	edSign := func(in []byte) []byte { return ed25519.Sign(k.Ed25519(), in) }
	hdr := func(alg, typ string, extra string) string {
		return `{"alg":"` + alg + `","kid":"` + kid + `","typ":"` + typ + `"` + extra + `}`
	}
	pub := k.Public().Bytes()
	jwksPub, _ := MarshalJWKS(testVerifier(k).Keys)
	hmacWith := func(key []byte) func([]byte) []byte {
		return func(in []byte) []byte { m := hmac.New(sha256.New, key); m.Write(in); return m.Sum(nil) }
	}
	mint := func(mod func(r *Request)) string {
		r := testRequest()
		mod(&r)
		tok, _ := mustMint(t, s, r)
		return tok
	}
	revoked, _ := (*RevocationList)(nil).Next(testIssuer, []string{claims.ID}, []string{"LIC-1"}, testNow)
	grantRevoked, _ := (*RevocationList)(nil).Next(testIssuer, []string{"GRANT-1"}, nil, testNow)

	tests := []struct {
		name   string
		tok    string
		now    time.Time
		mod    func(v *Verifier)
		reason Reason
		is     error
	}{
		{"alg none", forge(hdr("none", "at+jwt", ""), string(payload), func([]byte) []byte { return nil }), testNow, nil, ReasonBadHeader, ErrMalformed},
		{"alg None", forge(hdr("None", "at+jwt", ""), string(payload), func([]byte) []byte { return nil }), testNow, nil, ReasonBadHeader, ErrMalformed},
		{"HS256 keyed with the raw public key", forge(hdr("HS256", "at+jwt", ""), string(payload), hmacWith(pub)), testNow, nil, ReasonBadHeader, ErrMalformed},
		{"HS256 keyed with the JWKS", forge(hdr("HS256", "at+jwt", ""), string(payload), hmacWith(jwksPub)), testNow, nil, ReasonBadHeader, ErrMalformed},
		{"RS256", forge(hdr("RS256", "at+jwt", ""), string(payload), edSign), testNow, nil, ReasonBadHeader, ErrMalformed},
		{"Ed25519 alg name", forge(hdr("Ed25519", "at+jwt", ""), string(payload), edSign), testNow, nil, ReasonBadHeader, ErrMalformed},
		{"unknown crit", forge(hdr("EdDSA", "at+jwt", `,"crit":["exp"],"exp":1`), string(payload), edSign), testNow, nil, ReasonBadHeader, ErrMalformed},
		{"empty crit", forge(hdr("EdDSA", "at+jwt", `,"crit":[]`), string(payload), edSign), testNow, nil, ReasonBadHeader, ErrMalformed},
		{"embedded jwk", forge(hdr("EdDSA", "at+jwt", `,"jwk":{}`), string(payload), edSign), testNow, nil, ReasonBadHeader, ErrMalformed},
		{"jku", forge(hdr("EdDSA", "at+jwt", `,"jku":"https://evil/"`), string(payload), edSign), testNow, nil, ReasonBadHeader, ErrMalformed},
		{"typ JWT", forge(hdr("EdDSA", "JWT", ""), string(payload), edSign), testNow, nil, ReasonBadHeader, ErrMalformed},
		{"typ revocation list", forge(hdr("EdDSA", TypeRevocationList, ""), string(payload), edSign), testNow, nil, ReasonBadHeader, ErrMalformed},
		{"upper-case ALG key", forge(`{"ALG":"EdDSA","kid":"`+kid+`","typ":"at+jwt"}`, string(payload), edSign), testNow, nil, ReasonBadHeader, ErrMalformed},
		{"header not an object", forge(`[1]`, string(payload), edSign), testNow, nil, ReasonBadHeader, ErrMalformed},
		{"no kid", forge(`{"alg":"EdDSA","typ":"at+jwt"}`, string(payload), edSign), testNow, nil, ReasonBadHeader, ErrMalformed},
		{"wrong kid", func() string { tok, _ := mustMint(t, testSigner(t, 2), testRequest()); return tok }(), testNow, nil, ReasonUnknownKey, ErrUnknownKey},
		{"kid of a trusted key, signed by another", forge(hdr("EdDSA", "at+jwt", ""), string(payload), func(in []byte) []byte { return ed25519.Sign(other.Ed25519(), in) }), testNow, nil, ReasonBadSignature, ErrBadSignature},
		{"wrong audience", good, testNow, func(v *Verifier) { v.Audience = "https://other.local/rest/" }, ReasonWrongAudience, ErrWrongAudience},
		{"wrong issuer", good, testNow, func(v *Verifier) { v.Issuer = "https://evil" }, ReasonWrongIssuer, ErrWrongIssuer},
		{"expired", good, testNow.Add(DefaultTTL + DefaultLeeway + time.Second), nil, ReasonExpired, ErrExpired},
		{"expired, no leeway", mint(func(r *Request) { r.TTL = time.Hour }), testNow.Add(time.Hour + time.Second), func(v *Verifier) { v.Leeway = -1 }, ReasonExpired, ErrExpired},
		{"not yet valid", good, testNow.Add(-DefaultLeeway - time.Second), nil, ReasonNotYetValid, ErrNotYetValid},
		{"not yet valid, wider leeway ok", good, testNow.Add(-DefaultLeeway - time.Second), func(v *Verifier) { v.Leeway = time.Hour }, "", nil},
		{"expired within leeway ok", mint(func(r *Request) { r.TTL = time.Hour }), testNow.Add(time.Hour + DefaultLeeway), nil, "", nil},
		{"revoked jti", good, testNow, func(v *Verifier) { v.Revocations = revoked }, ReasonRevoked, ErrRevoked},
		{"revoked license", mint(func(r *Request) { r.LicenseSerial = "LIC-1" }), testNow, func(v *Verifier) { v.Revocations = revoked }, ReasonRevoked, ErrRevoked},
		{"revoked grant", mint(func(r *Request) { r.Grant = "GRANT-1" }), testNow, func(v *Verifier) { v.Revocations = grantRevoked }, ReasonRevoked, ErrRevoked},
		{"other jti not revoked", mint(func(r *Request) {}), testNow, func(v *Verifier) { v.Revocations = revoked }, "", nil},
		{"oversized", good + strings.Repeat("A", MaxTokenSize), testNow, nil, ReasonMalformed, ErrMalformed},
		{"oversized but signed", forge(hdr("EdDSA", "at+jwt", ""), `{"pad":"`+strings.Repeat("x", MaxTokenSize)+`"}`, edSign), testNow, nil, ReasonMalformed, ErrMalformed},
		{"two parts", good[:strings.LastIndexByte(good, '.')], testNow, nil, ReasonMalformed, ErrMalformed},
		{"four parts", good + ".x", testNow, nil, ReasonMalformed, ErrMalformed},
		{"padding in signature", good + "==", testNow, nil, ReasonMalformed, ErrMalformed},
		{"empty", "", testNow, nil, ReasonMalformed, ErrMalformed},
		{"claims not JSON", forge(hdr("EdDSA", "at+jwt", ""), `not json`, edSign), testNow, nil, ReasonMalformed, ErrMalformed},
		{"missing jti", forge(hdr("EdDSA", "at+jwt", ""), strings.Replace(string(payload), `"jti"`, `"xjti"`, 1), edSign), testNow, nil, ReasonMissingClaim, ErrMalformed},
		{"missing client_id", forge(hdr("EdDSA", "at+jwt", ""), strings.Replace(string(payload), `"client_id"`, `"x"`, 1), edSign), testNow, nil, ReasonMissingClaim, ErrMalformed},
		{"aud array", forge(hdr("EdDSA", "at+jwt", ""), strings.Replace(string(payload), `"aud":"`+testAud+`"`, `"aud":["x","`+testAud+`"]`, 1), edSign), testNow, nil, "", nil},
		{"application/at+jwt", forge(hdr("EdDSA", "application/at+jwt", ""), string(payload), edSign), testNow, nil, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := testVerifier(k)
			if tc.mod != nil {
				tc.mod(v)
			}
			_, err := v.Verify(tc.tok, tc.now)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var ve *Error
			if !errors.As(err, &ve) {
				t.Fatalf("want *Error with reason %s, got %v", tc.reason, err)
			}
			if ve.Reason != tc.reason || !errors.Is(err, tc.is) {
				t.Fatalf("reason %s (%v), want %s matching %v", ve.Reason, err, tc.reason, tc.is)
			}
		})
	}
}

func TestTamperEveryByte(t *testing.T) {
	k := testKey(t, 1)
	s := testSigner(t, 1)
	tok, _ := mustMint(t, s, testRequest())
	v := testVerifier(k)
	if _, err := v.Verify(tok, testNow); err != nil {
		t.Fatal(err)
	}
	// Every character of the encoded token, replaced by other base64url
	// characters and by a dot.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
	for i := range len(tok) {
		for j := 0; j < len(alphabet); j += 7 {
			c := alphabet[(strings.IndexByte(alphabet, tok[i])+1+j)%len(alphabet)]
			if c == tok[i] {
				continue
			}
			bad := tok[:i] + string(c) + tok[i+1:]
			if _, err := v.Verify(bad, testNow); err == nil {
				t.Fatalf("token with byte %d changed to %q still verifies", i, c)
			}
		}
	}
	// Every byte of the decoded payload, re-encoded properly: only the
	// signature can catch it.
	parts := strings.Split(tok, ".")
	payload, _ := b64.DecodeString(parts[1])
	for i := range payload {
		p := append([]byte(nil), payload...)
		p[i] ^= 0x01
		bad := parts[0] + "." + b64.EncodeToString(p) + "." + parts[2]
		_, err := v.Verify(bad, testNow)
		if !errors.Is(err, ErrBadSignature) {
			t.Fatalf("payload byte %d flipped: got %v, want bad signature", i, err)
		}
	}
}

func TestTTLCap(t *testing.T) {
	s := testSigner(t, 1)
	r := testRequest()
	r.TTL = MaxTTL
	if _, _, err := s.Mint(r); err != nil {
		t.Fatalf("3653 days must be allowed: %v", err)
	}
	r.TTL = MaxTTL + time.Second
	if _, _, err := s.Mint(r); !errors.Is(err, ErrTTLTooLong) {
		t.Fatalf("above the cap: got %v, want ErrTTLTooLong", err)
	}
	r.TTL = 0
	_, c := mustMint(t, s, r)
	if c.ExpiresAt-c.IssuedAt != int64(DefaultTTL/time.Second) {
		t.Errorf("default TTL: exp-iat = %d", c.ExpiresAt-c.IssuedAt)
	}
	for _, bad := range []Request{{Audience: testAud, ClientID: "c"}, {Subject: "s", ClientID: "c"}, {Subject: "s", Audience: testAud}} {
		if _, _, err := s.Mint(bad); err == nil {
			t.Errorf("Mint(%+v) without a required field succeeded", bad)
		}
	}
}

// TestGoJoseInterop checks that go-jose accepts our tokens and that we
// accept go-jose's EdDSA tokens with the same header.
func TestGoJoseInterop(t *testing.T) {
	k := testKey(t, 3)
	s := testSigner(t, 3)
	tok, c := mustMint(t, s, testRequest())
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var std jwt.Claims
	if err := parsed.Claims(k.Public().Bytes(), &std); err != nil {
		t.Fatalf("go-jose rejects our signature: %v", err)
	}
	if std.ID != c.ID || std.Issuer != testIssuer {
		t.Errorf("go-jose read %+v", std)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: testIssuer, AnyAudience: jwt.Audience{testAud}, Time: testNow}, 0); err != nil {
		t.Errorf("go-jose validation: %v", err)
	}

	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: k.Ed25519()},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", string(k.ID())))
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := jwt.Signed(sig).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testVerifier(k).Verify(theirs, testNow); err != nil {
		t.Fatalf("we reject go-jose's token %s: %v", theirs, err)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"87600h": 87600 * time.Hour, "3650d": 3650 * 24 * time.Hour, "15m": 15 * time.Minute, "0d": 0} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "10y", "d", "-1d", "1.5d", "abc"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", in)
		}
	}
}

func TestNormalizeScope(t *testing.T) {
	for in, want := range map[string]string{"a,b c": "a b c", " a  a,b ": "a b", "": "", ",,": ""} {
		if got := NormalizeScope(in); got != want {
			t.Errorf("NormalizeScope(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMintRefusesOversizedToken: claims that would make a token above
// MaxTokenSize are refused at creation, naming the limit (issue 13 item 5).
func TestMintRefusesOversizedToken(t *testing.T) {
	r := testRequest()
	r.Audience = "https://" + strings.Repeat("a", 100<<10)
	_, _, err := testSigner(t, 1).Mint(r)
	if !errors.Is(err, ErrTokenTooLarge) || !strings.Contains(err.Error(), "8192") {
		t.Fatalf("err = %v, want ErrTokenTooLarge naming 8192", err)
	}
}

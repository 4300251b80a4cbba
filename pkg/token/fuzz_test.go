package token

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/keys"
)

func vectorToken(f *testing.F) string {
	b, err := os.ReadFile("testdata/vector-v1.json")
	if err != nil {
		f.Fatal(err)
	}
	var v vector
	if err := json.Unmarshal(b, &v); err != nil {
		f.Fatal(err)
	}
	return v.Token
}

// FuzzVerify: the token parser never panics, every failure is an *Error
// with a known reason, and anything accepted re-verifies to the same claims.
func FuzzVerify(f *testing.F) {
	f.Add(vectorToken(f))
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("....")
	k := testKey(f, 7)
	v := &Verifier{Keys: keys.NewKeyring(k.Public()), Audience: testAud}
	now := testNow
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(tok, now)
		if err != nil {
			var ve *Error
			if !errors.As(err, &ve) || reasonErr[ve.Reason] == nil {
				t.Fatalf("error %v is not a known *Error", err)
			}
			return
		}
		if c.ID == "" || !c.Audience.Contains(testAud) {
			t.Fatalf("accepted claims without jti or audience: %+v", c)
		}
	})
}

// FuzzParseParams: request bodies never panic and either parse with no
// repeated parameter or give an invalid_request 400.
func FuzzParseParams(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", []byte("grant_type=client_credentials&scope=a+b"))
	f.Add("application/x-www-form-urlencoded; charset=UTF-8", []byte("a=1&a=2"))
	f.Add("application/json", []byte(`{"grant_type":"refresh_token","refresh_token":"x"}`))
	f.Add("application/json", []byte(`{"a":`))
	f.Add("text/plain", []byte("x"))
	f.Add("application/x-www-form-urlencoded", []byte("a%22%5C%C3%A9=1&a%22%5C%C3%A9=2"))
	f.Add("", []byte(""))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		v, e := ParseParams(ct, body)
		if e != nil {
			if e.Status != 400 || e.Code != "invalid_request" {
				t.Fatalf("error %+v", e)
			}
			for _, c := range []byte(e.Description) {
				if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
					t.Fatalf("error_description %q has %q, outside RFC 6749 section 5.2", e.Description, c)
				}
			}
			return
		}
		for k, x := range v {
			if len(x) != 1 {
				t.Fatalf("parameter %q repeated: %v", k, x)
			}
		}
	})
}

// FuzzParseBasicAuth: never panics; what it accepts, encoded again as
// RFC 6749 §2.3.1 says (form-encode id and secret, then Basic), parses back
// to the same id and secret.
func FuzzParseBasicAuth(f *testing.F) {
	f.Add("Basic bG9jYWwuaXRncml4LjE6c2VjcmV0")
	f.Add("basic Og==")
	f.Add("Bearer x")
	f.Add("Basic %%%")
	f.Add("Basic YSUzQWI6YyUzQWQ=") // a%3Ab:c%3Ad
	f.Fuzz(func(t *testing.T, h string) {
		id, secret, ok := ParseBasicAuth(h)
		if !ok {
			return
		}
		again := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
		id2, secret2, ok := ParseBasicAuth(again)
		if !ok || id2 != id || secret2 != secret {
			t.Fatalf("%q parsed as (%q, %q), re-encoded %q parsed as (%q, %q, %v)", h, id, secret, again, id2, secret2, ok)
		}
	})
}

// FuzzParseRevocations: revocation lists from disk never panic and
// anything accepted has a sequence number.
func FuzzParseRevocations(f *testing.F) {
	s := testSigner(f, 7)
	l, _ := (*RevocationList)(nil).Next(testIssuer, []string{"a"}, []string{"L"}, time.Unix(0, 0))
	good, _ := s.SignRevocations(l)
	f.Add([]byte(good))
	f.Add([]byte("x.y.z"))
	ring := keys.NewKeyring(testKey(f, 7).Public())
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseRevocations(ring, data, "")
		if err == nil && l.Seq == 0 {
			t.Fatal("accepted a list with seq 0")
		}
	})
}

// FuzzParseJWKS: JWK sets never panic and accepted keys carry their own ID.
func FuzzParseJWKS(f *testing.F) {
	b, _ := MarshalJWKS(keys.NewKeyring(testKey(f, 1).Public()))
	f.Add(b)
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ring, err := ParseJWKS(data)
		if err != nil {
			return
		}
		for _, id := range ring.IDs() {
			if k, _ := ring.Get(id); k.ID() != id {
				t.Fatal("key under another ID")
			}
		}
	})
}

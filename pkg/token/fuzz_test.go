package token

import (
	"encoding/json"
	"errors"
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

package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestClaimsRefuseCaseVariants (issue 10): a signed token whose claims
// name a member twice or in another case ("EXP" beside "exp": Go keeps
// the last, most JWT libraries match exactly) is refused as malformed;
// a claim this package does not know is still accepted (RFC 7519).
func TestClaimsRefuseCaseVariants(t *testing.T) {
	s := testSigner(t, 1)
	v := testVerifier(testKey(t, 1))
	tok, _ := mustMint(t, s, testRequest())
	parts := strings.Split(tok, ".")
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	resign := func(p []byte) string {
		t.Helper()
		out, err := s.sign(s.atHeader, json.RawMessage(p))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if _, err := v.Verify(resign(payload), testNow); err != nil {
		t.Fatalf("re-signed unchanged claims: %v", err)
	}
	for _, bad := range [][]byte{
		bytes.Replace(payload, []byte(`"exp":`), []byte(`"EXP":1,"exp":`), 1),
		bytes.Replace(payload, []byte(`"exp":`), []byte(`"Exp":`), 1),
		bytes.Replace(payload, []byte(`"sub":`), []byte(`"sub":"2","sub":`), 1),
	} {
		if bytes.Equal(bad, payload) {
			t.Fatalf("no change made to %s", payload)
		}
		_, err := v.Verify(resign(bad), testNow)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want malformed", bad, err)
		}
	}
	extra := bytes.Replace(payload, []byte(`{`), []byte(`{"x_vendor_note":"hi",`), 1)
	if _, err := v.Verify(resign(extra), testNow); err != nil {
		t.Errorf("unknown claim refused: %v", err)
	}
}

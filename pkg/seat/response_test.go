package seat

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"testing"
)

func testKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
}

func testResponse() Response {
	return Response{QueryID: "q-0123456789abcdef", Method: "POST", Path: "/api/sessions", Status: 201,
		Time: "2026-12-01T22:25:00Z", Body: []byte(`{"ID":"L-1"}`)}
}

// TestResponseMessageGolden pins the signed message layout of
// seat-protocol-v1.md byte for byte.
func TestResponseMessageGolden(t *testing.T) {
	want := "airseal seat response v1\x00" +
		"\x00\x00\x00\x12q-0123456789abcdef" +
		"\x00\x00\x00\x04POST" +
		"\x00\x00\x00\x0d/api/sessions" +
		"\x00\x00\x00\x03201" +
		"\x00\x00\x00\x142026-12-01T22:25:00Z" +
		"\x00\x00\x00\x0c{\"ID\":\"L-1\"}"
	if got := string(testResponse().Message()); got != want {
		t.Fatalf("message:\n got %q\nwant %q", got, want)
	}
}

// TestResponseSignatureGolden pins the signature for a fixed key (Ed25519 is
// deterministic), so a change in the message layout cannot go unnoticed.
func TestResponseSignatureGolden(t *testing.T) {
	key := testKey()
	sig := testResponse().Sign(key)
	if err := testResponse().Verify(key.Public().(ed25519.PublicKey), sig); err != nil {
		t.Fatal(err)
	}
	if got, want := ResponseKeyID(key.Public().(ed25519.PublicKey)), goldenKeyID; got != want {
		t.Errorf("key ID = %s, want %s", got, want)
	}
	if got := hex.EncodeToString(sig); got != goldenSig {
		t.Errorf("signature = %s, want %s", got, goldenSig)
	}
}

// TestResponseVerifyRefusesChanges: every field is covered; changing any of
// them, or using another key, fails verification.
func TestResponseVerifyRefusesChanges(t *testing.T) {
	key := testKey()
	pub := key.Public().(ed25519.PublicKey)
	sig := testResponse().Sign(key)
	changes := map[string]func(*Response){
		"query ID": func(r *Response) { r.QueryID = "q-replayed-000000" },
		"method":   func(r *Response) { r.Method = "GET" },
		"path":     func(r *Response) { r.Path = "/api/sessions/x" },
		"status":   func(r *Response) { r.Status = 200 },
		"time":     func(r *Response) { r.Time = "2026-12-01T22:25:01Z" },
		"body":     func(r *Response) { r.Body = []byte(`{"ID":"L-2"}`) },
		// Moving a byte across a field boundary must not keep the signature.
		"boundary": func(r *Response) { r.QueryID += "P"; r.Method = "OST" },
	}
	for name, change := range changes {
		r := testResponse()
		change(&r)
		if err := r.Verify(pub, sig); !errors.Is(err, ErrBadResponseSignature) {
			t.Errorf("%s changed: err = %v, want ErrBadResponseSignature", name, err)
		}
	}
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, ed25519.SeedSize))
	if err := testResponse().Verify(other.Public().(ed25519.PublicKey), sig); !errors.Is(err, ErrBadResponseSignature) {
		t.Errorf("other key: err = %v", err)
	}
	if err := testResponse().Verify(pub[:31], sig); !errors.Is(err, ErrBadResponseSignature) {
		t.Errorf("short key: err = %v", err)
	}
}

// Golden values for testKey and testResponse (regenerate only with a
// protocol version change).
const (
	goldenKeyID = "a1f01e1c48f4f550"
	goldenSig   = "776749e9061b4ebcfffd6999e263b3526be68e4e585a9c5b10752277edbe96821c053cd1a471fc9ec71d5f84eb96dab6baa98ef49325f75e83486cee0d83580a"
)

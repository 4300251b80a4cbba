package license

import (
	"bytes"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/fingerprint"
	"github.com/airseal/airseal/pkg/hwid"
)

// FuzzDecodeServer feeds arbitrary bytes to the v2 decoder (all
// encodings). Whatever it accepts must re-encode to the very same raw bytes.
func FuzzDecodeServer(f *testing.F) {
	k := testKey(f, 1)
	for _, names := range [][]string{{"srv1"}, {"a", "b", "c"}} {
		s := sampleServer(names...)
		if err := s.Sign(k); err != nil {
			f.Fatal(err)
		}
		raw, _ := s.Raw()
		arm, _ := s.Armor()
		code, _ := s.Code()
		f.Add(raw)
		f.Add(arm)
		f.Add([]byte(code))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := DecodeServer(in)
		if err != nil {
			if s != nil {
				t.Fatal("license returned with an error")
			}
			return
		}
		raw, err := s.Raw()
		if err != nil {
			t.Fatalf("decoded license does not re-encode: %v", err)
		}
		payload, sig, _, _ := splitRaw(in)
		if !bytes.Equal(raw, append(bytes.Clone(payload), sig...)) {
			t.Fatal("re-encoding differs from the input")
		}
	})
}

func sampleServerRequest() *ServerRequest {
	return &ServerRequest{
		Request: hwid.Request{
			Format: hwid.RequestFormat, Version: 1, Product: testProduct,
			Fingerprint:    fingerprint.Fingerprint{Components: testMachine(testProduct), Need: 6},
			Virtualization: hwid.Verdict{Type: hwid.TypeNone, Technology: "none", Evidence: []string{}},
			Hostname:       "srv1", OS: "linux", Nonce: "00112233445566778899aabbccddeeff",
			Created: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
		},
		Node: "srv1", ResponseKey: responsePub(0x40),
	}
}

func TestServerRequestRoundTrip(t *testing.T) {
	b, err := sampleServerRequest().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseServerRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := r.Marshal()
	if !bytes.Equal(b, b2) {
		t.Fatalf("round trip differs:\n%s\n%s", b, b2)
	}
	if _, err := hwid.ParseRequest(b); err == nil {
		t.Fatal("the v1 request parser accepted a server request; it would be issued as a client license")
	}
	if _, err := r.Code(); err == nil {
		t.Fatal("a server request must not have a typed code (it would lose the key)")
	}
	for _, tc := range []struct{ name, from, to string }{
		{"bad node", `"node": "srv1"`, `"node": "SRV 1"`},
		{"short key", `"response_key": "`, `"response_key": "AAAA`},
		{"unknown field", `"node":`, `"extra": 1, "node":`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := bytes.Replace(b, []byte(tc.from), []byte(tc.to), 1)
			if bytes.Equal(bad, b) {
				t.Fatal("edit did not apply")
			}
			if _, err := ParseServerRequest(bad); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// FuzzServerRequest: whatever ParseServerRequest accepts marshals to bytes
// that parse to the same request and marshal to the same bytes again.
func FuzzServerRequest(f *testing.F) {
	b, err := sampleServerRequest().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := ParseServerRequest(in)
		if err != nil {
			return
		}
		m1, err := r.Marshal()
		if err != nil {
			t.Fatalf("accepted request does not marshal: %v", err)
		}
		r2, err := ParseServerRequest(m1)
		if err != nil {
			t.Fatalf("marshalled request does not parse: %v", err)
		}
		m2, _ := r2.Marshal()
		if !bytes.Equal(m1, m2) {
			t.Fatal("marshal is not stable")
		}
	})
}

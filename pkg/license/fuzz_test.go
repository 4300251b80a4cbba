package license

import (
	"bytes"
	"testing"

	"github.com/airseal/airseal/internal/typedcode"
	"github.com/airseal/airseal/pkg/keys"
)

func fuzzSeeds(f *testing.F) (*keys.PrivateKey, [][]byte) {
	k := testKey(f, 1)
	var seeds [][]byte
	for _, l := range []*License{sampleLicense(20, true), sampleLicense(0, false)} {
		signed(f, l, k)
		l.Comment = "seed"
		seeds = append(seeds, mustArmor(f, l), mustRaw(f, l), []byte(mustCode(f, l)))
	}
	return k, seeds
}

// FuzzDecode feeds arbitrary bytes to the license parser (all encodings).
// Whatever it accepts must re-encode to the very same raw bytes.
func FuzzDecode(f *testing.F) {
	k, seeds := fuzzSeeds(f)
	for _, s := range seeds {
		f.Add(s)
	}
	ring := keys.NewKeyring(k.Public())
	f.Fuzz(func(t *testing.T, in []byte) {
		l, err := Decode(in)
		if err != nil {
			if l != nil {
				t.Fatal("license returned with an error")
			}
			return
		}
		raw, err := l.Raw()
		if err != nil {
			t.Fatalf("decoded license does not re-encode: %v", err)
		}
		payload, sig, _, err := splitRaw(in)
		if err != nil || !bytes.Equal(raw, append(bytes.Clone(payload), sig...)) {
			t.Fatalf("decoded license re-encodes differently")
		}
		// Verify must not panic either.
		Verify(in, VerifyOptions{Keyring: ring, Now: tNow, Machine: liveMachine()})
	})
}

// FuzzCode feeds arbitrary text to the typed-code decoder.
func FuzzCode(f *testing.F) {
	_, seeds := fuzzSeeds(f)
	f.Add("ASL1-")
	f.Add("ASL1-0000")
	f.Add(" asl1 0000\n")
	f.Add("ASL10000")
	f.Add("ASL")
	for _, s := range seeds {
		if Detect(s) == EncodingCode {
			f.Add(string(s))
		}
	}
	f.Fuzz(func(t *testing.T, code string) {
		// Detect takes for a code exactly what the tools' one test does.
		if got, want := Detect([]byte(code)) == EncodingCode, typedcode.LooksLike(code, CodePrefix); got != want {
			t.Fatalf("Detect(%q) is code: %v, typedcode.LooksLike = %v", code, got, want)
		}
		l, err := Decode([]byte(code))
		if err != nil || Detect([]byte(code)) != EncodingCode {
			return
		}
		again, err := l.Code()
		if err != nil {
			t.Fatal(err)
		}
		l2, err := Decode([]byte(again))
		if err != nil {
			t.Fatalf("re-encoded code does not decode: %v", err)
		}
		r1, _ := l.Raw()
		r2, _ := l2.Raw()
		if !bytes.Equal(r1, r2) {
			t.Fatal("code round trip changed the license")
		}
	})
}

// FuzzRevocations feeds arbitrary bytes to the revocation list parser.
func FuzzRevocations(f *testing.F) {
	k := testKey(f, 1)
	rl := (*RevocationList)(nil).Next([]string{"AAAA-BBBB-CCCC-DDDD", "7K3M-Q9TX-4HZP-2W8R"}, tIssued)
	if err := rl.Sign(k); err != nil {
		f.Fatal(err)
	}
	a, _ := rl.Armor()
	f.Add(a)
	f.Add([]byte("-----BEGIN AIRSEAL REVOCATION LIST-----\n-----END AIRSEAL REVOCATION LIST-----\n"))
	ring := keys.NewKeyring(k.Public())
	f.Fuzz(func(t *testing.T, in []byte) {
		l, err := DecodeRevocations(in)
		if err != nil {
			return
		}
		out, err := l.Armor()
		if err != nil {
			t.Fatalf("decoded list does not re-encode: %v", err)
		}
		l2, err := DecodeRevocations(out)
		if err != nil || l2.Sequence != l.Sequence || len(l2.Serials) != len(l.Serials) {
			t.Fatalf("round trip: %v", err)
		}
		OpenRevocations(in, ring)
	})
}

package typedcode

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for n := 0; n < 70; n++ {
		data := bytes.Repeat([]byte{byte(n * 7)}, n)
		for i := range data {
			data[i] ^= byte(i * 13)
		}
		code := Encode("ASL1", data)
		got, err := Decode("ASL1", code)
		if err != nil {
			t.Fatalf("len %d: %v (code %s)", n, err, code)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("len %d: got %x want %x", n, got, data)
		}
		// Forgiving input: lower case, no dashes, spaces and look-alikes.
		loose := strings.ToLower(strings.ReplaceAll(code, "-", " "))
		loose = strings.ReplaceAll(loose, "0", "o")
		loose = strings.ReplaceAll(loose, "1", "l")
		loose = "ASL1-" + loose[5:]
		if got, err := Decode("ASL1", loose); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("len %d: loose form %q: %v", n, loose, err)
		}
	}
}

// Every single-character substitution is caught and located in its group.
func TestEverySubstitutionLocated(t *testing.T) {
	code := Encode("ASR1", []byte("a license request with some bytes in it"))
	for i := len("ASR1-"); i < len(code); i++ {
		if code[i] == '-' {
			continue
		}
		group := strings.Count(code[:i], "-")
		for _, c := range alphabet {
			if value[byte(c)] == value[code[i]] {
				continue
			}
			bad := code[:i] + string(c) + code[i+1:]
			_, err := Decode("ASR1", bad)
			var te *TypoError
			if !errors.As(err, &te) {
				t.Fatalf("position %d changed to %c: got %v, want a TypoError", i, c, err)
			}
			if te.Group != group {
				t.Fatalf("position %d: located in group %d, want %d", i, te.Group, group)
			}
		}
	}
}

func TestAdjacentSwapCaught(t *testing.T) {
	code := Encode("ASR1", []byte("swap me around please"))
	for i := len("ASR1-"); i+1 < len(code); i++ {
		if code[i] == '-' || code[i+1] == '-' || code[i] == code[i+1] {
			continue
		}
		b := []byte(code)
		b[i], b[i+1] = b[i+1], b[i]
		if _, err := Decode("ASR1", string(b)); err == nil {
			t.Fatalf("swap at %d not caught", i)
		}
	}
}

func TestGroupErrors(t *testing.T) {
	code := Encode("ASL1", []byte("0123456789abcdefghij"))
	groups := strings.Split(code, "-")
	// Swap two whole groups: each group check includes its position.
	g := append([]string(nil), groups...)
	g[1], g[2] = g[2], g[1]
	if _, err := Decode("ASL1", strings.Join(g, "-")); err == nil {
		t.Fatal("swapped groups accepted")
	}
	// Drop the last group.
	if _, err := Decode("ASL1", strings.Join(groups[:len(groups)-1], "-")); err == nil {
		t.Fatal("truncated code accepted")
	}
	if _, err := Decode("ASR1", code); err == nil || !strings.Contains(err.Error(), "ASR1-") {
		t.Fatalf("wrong prefix: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode("ASL1", []byte("seed")))
	f.Add("ASL1-")
	f.Add("ASL1-0000")
	f.Fuzz(func(t *testing.T, s string) {
		data, err := Decode("ASL1", s)
		if err != nil {
			return
		}
		again, err := Decode("ASL1", Encode("ASL1", data))
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("re-encode of %x failed: %v", data, err)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	code := Encode("ASL1", bytes.Repeat([]byte("license!"), 40))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode("ASL1", code); err != nil {
			b.Fatal(err)
		}
	}
}

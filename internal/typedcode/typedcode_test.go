package typedcode

import (
	"bytes"
	"errors"
	"os"
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
		if len(code) != Len("ASL1", n) {
			t.Fatalf("len %d: code is %d characters, Len says %d", n, len(code), Len("ASL1", n))
		}
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

// Issue 8 item 15: a code with its dashes removed, moved, doubled, or
// replaced by white space, in lower case, decodes to the same bytes, and
// LooksLike tells it from a file name.
func TestDashesAndWhiteSpaceAnywhere(t *testing.T) {
	data := []byte("a license with a few bytes")
	code := Encode("ASL1", data)
	bare := strings.ReplaceAll(code, "-", "")
	var moved strings.Builder
	moved.WriteString("asl1")
	for i, c := range strings.ToLower(bare[len("ASL1"):]) {
		moved.WriteRune(c)
		if i%3 == 2 {
			moved.WriteString(" -\t")
		}
	}
	forms := map[string]string{
		"no dashes":       bare,
		"lower case":      strings.ToLower(bare),
		"dashes moved":    moved.String(),
		"doubled dashes":  strings.ReplaceAll(code, "-", "--"),
		"line breaks":     strings.ReplaceAll(code, "-", "\n"),
		"surrounding ws":  "  \n" + code + "\r\n",
		"dash then space": strings.ReplaceAll(code, "-", "- "),
	}
	for name, s := range forms {
		got, err := Decode("ASL1", s)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s %q: %v", name, s, err)
		}
		if !LooksLike(s, "ASL1") {
			t.Errorf("%s %q: LooksLike = false", name, s)
		}
		if LooksLike(s, "ASR1") {
			t.Errorf("%s %q: LooksLike with another prefix = true", name, s)
		}
	}
	for _, notCode := range []string{"", "ASL1", "ASL1-", "ASL1.lic", "asl1-license.txt", "./ASL1", "ASL1_2026", "license.lic", "ASL1/x", "ASL1-ABCU"} {
		if LooksLike(notCode, "ASL1") {
			t.Errorf("LooksLike(%q) = true", notCode)
		}
	}
}

// every code character in its canonical spelling.
func canonical() []byte { return []byte(alphabet) }

// Issue 8 item 14: every single substitution at every position (data and
// check characters, in every group including the short last one) is caught
// and located in its group.
func TestEverySubstitutionLocated(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 5, 39} { // last groups of every length
		code := Encode("ASR1", bytes.Repeat([]byte("request!"), 5)[:n])
		for i := len("ASR1-"); i < len(code); i++ {
			if code[i] == '-' {
				continue
			}
			group := strings.Count(code[:i], "-")
			for _, c := range canonical() {
				if value[c] == value[code[i]] {
					continue
				}
				bad := code[:i] + string(c) + code[i+1:]
				_, err := Decode("ASR1", bad)
				var te *TypoError
				if !errors.As(err, &te) {
					t.Fatalf("len %d: position %d changed to %c: got %v, want a TypoError", n, i, c, err)
				}
				if te.Group != group {
					t.Fatalf("len %d: position %d: located in group %d, want %d", n, i, te.Group, group)
				}
			}
		}
	}
}

// Issue 8 item 14: every transposition of two adjacent different characters
// within a group (check character included) is caught and located.
func TestEveryAdjacentSwapLocated(t *testing.T) {
	code := Encode("ASR1", []byte("swap me around please"))
	for i := len("ASR1-"); i+1 < len(code); i++ {
		if code[i] == '-' || code[i+1] == '-' || code[i] == code[i+1] {
			continue
		}
		group := strings.Count(code[:i], "-")
		b := []byte(code)
		b[i], b[i+1] = b[i+1], b[i]
		_, err := Decode("ASR1", string(b))
		var te *TypoError
		if !errors.As(err, &te) || te.Group != group {
			t.Fatalf("swap at %d: got %v, want a typo in group %d", i, err, group)
		}
	}
}

// The group check alone, exhaustively: for every group position below 64,
// every group length 1..4 and every pair of values, a swap of two adjacent
// different digits, and every substitution, changes the check. This covers
// 0<->Z, which Luhn mod 32 missed.
func TestGroupCheckExhaustive(t *testing.T) {
	for _, index := range append(seq(64), 32767) {
		for length := 2; length <= GroupData+1; length++ {
			for pos := 0; pos+1 < length; pos++ {
				for x := 0; x < 32; x++ {
					for y := 0; y < 32; y++ {
						if x == y {
							continue
						}
						// The group: data digits then check digit, zeros
						// elsewhere; swap x,y at pos,pos+1.
						data := make([]int, length-1)
						full := func(a, b int) (int, []int) {
							d := append([]int(nil), data...)
							ext := append(d, 0)
							ext[pos], ext[pos+1] = a, b
							if pos+1 == length-1 { // the pair includes the check digit
								return ext[pos+1], ext[:length-1]
							}
							return -1, ext[:length-1]
						}
						checkA, dA := full(x, y)
						checkB, dB := full(y, x)
						if checkA < 0 {
							if checkChar(index, dA) == checkChar(index, dB) {
								t.Fatalf("group %d length %d: swap of %c%c at %d not seen", index, length, alphabet[x], alphabet[y], pos)
							}
						} else if (checkChar(index, dA) == checkA) && (checkChar(index, dB) == checkB) {
							t.Fatalf("group %d length %d: swap of %c%c with the check digit not seen", index, length, alphabet[x], alphabet[y])
						}
					}
				}
			}
		}
	}
	// Every single substitution, exhaustively: at every position of every
	// group length (data digits and the check digit), every original value
	// x and every other value y, for the first 64 group numbers and the
	// last one the position digits distinguish.
	for _, index := range append(seq(64), 32767) {
		for length := 2; length <= GroupData+1; length++ {
			for pos := 0; pos < length; pos++ {
				for x := 0; x < 32; x++ {
					data := make([]int, length-1)
					if pos < length-1 {
						data[pos] = x
					}
					check := checkChar(index, data)
					if pos == length-1 && x != check {
						continue // the check digit's original value is the check
					}
					for y := 0; y < 32; y++ {
						if y == x {
							continue
						}
						if pos == length-1 {
							if y == check {
								t.Fatalf("group %d length %d: check digit %c typed as %c accepted", index, length, alphabet[x], alphabet[y])
							}
							continue
						}
						bad := append([]int(nil), data...)
						bad[pos] = y
						if checkChar(index, bad) == check {
							t.Fatalf("group %d length %d: %c typed as %c at %d not seen", index, length, alphabet[x], alphabet[y], pos)
						}
					}
				}
			}
		}
	}
	// The old check missed 0<->Z; the new one does not.
	if legacyCheckChar(0, []int{0, 31}) != legacyCheckChar(0, []int{31, 0}) {
		t.Fatal("the legacy check was expected to miss 0<->Z (the reason for the change)")
	}
	if checkChar(0, []int{0, 31}) == checkChar(0, []int{31, 0}) {
		t.Fatal("0<->Z missed")
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// The worked example of docs/spec/typedcode-v1.md, computed by hand there.
func TestSpecExample(t *testing.T) {
	if got := Encode("ASL1", []byte("Hi")); got != specExample {
		t.Fatalf("Encode(ASL1, \"Hi\") = %s, the spec says %s", got, specExample)
	}
	if got := checkChar(0, []int{9, 1, 20, 20}); got != 27 {
		t.Fatalf("check of group 0 = %d", got)
	}
	for _, loose := range []string{"asl1 91mmv t5re7 1r1", "ASL191MMVT5RE71R1"} {
		if got, err := Decode("ASL1", loose); err != nil || string(got) != "Hi" {
			t.Errorf("%s: %q %v", loose, got, err)
		}
	}
	var te *TypoError
	if _, err := Decode("ASL1", "ASL1-91MMV-5TRE7-1R1"); !errors.As(err, &te) || te.Group != 2 {
		t.Errorf("the spec's swap example: %v", err)
	}
}

const specExample = "ASL1-91MMV-T5RE7-1R1"

// Codes written by airseal 1.0 (Luhn mod 32 group checks) still decode.
func TestLegacyCodes(t *testing.T) {
	for _, c := range []struct{ code, data string }{
		// Written by airseal 1.0's Encode.
		{legacyExample, "a license request with some bytes in it"},
	} {
		got, err := Decode("ASR1", c.code)
		if err != nil || string(got) != c.data {
			t.Fatalf("legacy %s: %q, %v", c.code, got, err)
		}
	}
	// The 1.0 golden license code of pkg/license decodes to the bytes of
	// today's code for the same license.
	data, err := Decode("ASL1", legacyLicense)
	if err != nil {
		t.Fatalf("1.0 license code: %v", err)
	}
	if Encode("ASL1", data) != currentLicense {
		t.Fatal("the 1.0 license code decodes to other bytes than today's code")
	}
	// A typo in a legacy code is located by the legacy check.
	bad := []byte(legacyExample)
	i := len("ASR1-") + 6*4 + 2 // group 5
	bad[i] = alphabet[(value[bad[i]]+1)%32]
	var te *TypoError
	if _, err := Decode("ASR1", string(bad)); !errors.As(err, &te) || te.Group != 5 {
		t.Fatalf("typo in a legacy code: %v, want group 5", err)
	}
}

const legacyExample = "ASR1-C4G6G-RTB30-CNQ70-6S90R-E9JQQ-2XB54-EDT2E-0XV9A-EHM27-0WVFW-DNJJX-0RKSK-EHJQP-6839V-DRG6A-JX382-RE92Y-0F"

// legacyLicense is pkg/license/testdata/golden/valid-unbound.code as airseal
// 1.0 wrote it; currentLicense is the same license as written today.
const (
	legacyLicense  = "ASL1-04V0X-5HEEC-4608W-KXGKN-60R3M-0C1D3-64RK7-2C9DN-68S3V-4CHD7-6CSKE-6CRBY-85HPR-TS90G-AXS6T-JX358-E81QH-0WKFK-0401H-KM4YW-T2FDG-17H0N-RANXQ-186GS-QV8B3-SM5G5-T64D7-1EPGN-P31BM-P51QN-6WR36-EC1R9-6CW3Z-JCSFW-6WVKT-0DSG5-64R3B-0CD0G-YPHCZ-P1N04-YPHCV-P1G21-G31TZ-BPG6N-0M1GW-MSK51-C5T75-AWK51-BWR3W-0001T-19K68-ARBM9-ENS6R-AQSG1-640WB-G08A4-CSJPG-2X3N1-E9JND-YC1JC-000G5-24KCF-D5Q68-AWTZ4-E1JQD-4QV46-DXHQJ-AVB52-DST0W-21J4P-8E5XE-NSNS0-QFNKX-DG3YY-BHRX9-V9VRF-M5Q57-J8ZD9-PG7KX-WKGQY-GK0Z7-0XK37-VZBVX-EJEDW-A8PCD-TC96C-5V12G-B630N-G5SEY-69X2J-WMMRZ-RGH9B-X0S47-5D8GV-GKXGC-1PAMY-RMH0B"
	currentLicense = "ASL1-04V06-5HEE2-46085-KXGKD-60R3J-0C1D0-64RKR-2C9DA-68S35-4CHDS-6CSKF-6CRBV-85HP7-TS90Q-AXS6P-JX35B-E81Q4-0WKFW-0401Q-KM4YN-T2FD1-17H08-RANX6-186G6-QV8BG-SM5GV-T64DY-1EPG0-P31BB-P51Q6-6WR3M-EC1R9-6CW3K-JCSFX-6WVKM-0DSGC-64R3X-0CD05-YPHCN-P1N05-YPHC6-P1G26-G31TD-BPG6E-0M1G3-MSK5B-C5T73-AWK5T-BWR33-0001Q-19K62-ARBMM-ENS61-AQSGQ-640WS-G08AQ-CSJPY-2X3ND-E9JN3-YC1JE-000GC-24KCJ-D5Q6T-AWTZG-E1JQE-4QV4S-DXHQ6-AVB5F-DST0Z-21J42-8E5XA-NSNS7-QFNK1-DG3YK-BHRXY-V9VRE-M5Q5V-J8ZD3-PG7KE-WKGQW-GK0ZM-0XK3R-VZBVH-EJEDS-A8PCB-TC961-5V12C-B630D-G5SEM-69X2M-WMMR4-RGH9X-X0S4Q-5D8GF-GKXG2-1PAM9-RMH0R"
)

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
	f.Add(legacyExample)
	f.Fuzz(func(t *testing.T, s string) {
		data, err := Decode("ASL1", s)
		if err != nil {
			return
		}
		if !LooksLike(s, "ASL1") {
			t.Fatalf("%q decodes but LooksLike is false", s)
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

// Issue 8 item 15: Normalize is the one test and the canonical spelling;
// separators count nowhere, not even inside the prefix, and word
// processors' dashes and no-break spaces are separators too.
func TestNormalize(t *testing.T) {
	data := []byte("normalise me")
	code := Encode("ASL1", data)
	bare := strings.ReplaceAll(code, "-", "")
	for _, s := range []string{
		code,
		bare,
		strings.ToLower(bare),
		"AS-L1" + bare[4:],
		"A S L 1 " + strings.Join(strings.Split(bare[4:], ""), " "),
		strings.ReplaceAll(code, "-", "\u2013"),     // en dash
		strings.ReplaceAll(code, "-", "\u00a0"),     // no-break space
		strings.ReplaceAll(code, "-", "\u2011\r\n"), // non-breaking hyphen, CRLF
		"ASL1" + strings.ReplaceAll(strings.ReplaceAll(code[4:], "0", "O"), "1", "l"),
	} {
		got, ok := Normalize(s, "ASL1")
		if !ok || got != code {
			t.Errorf("Normalize(%q) = %q, %v; want %q", s, got, ok, code)
		}
		if d, err := Decode("ASL1", s); err != nil || !bytes.Equal(d, data) {
			t.Errorf("Decode(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "ASL1", " - ", "ASL1-\n", "ASR1" + bare[4:], "ASL1 é", "{\"format\":1}", "ASL1-0U"} {
		if got, ok := Normalize(s, "ASL1"); ok {
			t.Errorf("Normalize(%q) = %q, true", s, got)
		}
	}
}

// IsArg: a code-shaped argument is a code unless a file of that name
// exists.
func TestIsArg(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	code := strings.ReplaceAll(Encode("ASL1", []byte("x")), "-", "")
	if !IsArg(code, "ASL1") || !IsArg(strings.ToLower(code), "ASL1") {
		t.Fatal("a code without dashes taken for a file name")
	}
	if IsArg("license.lic", "ASL1") || IsArg("./ASL1-ABC", "ASL1") {
		t.Fatal("a file name taken for a code")
	}
	if !IsArg("asl1-license", "ASL1") {
		t.Fatal("asl1-license is code-shaped")
	}
	if err := os.WriteFile("asl1-license", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if IsArg("asl1-license", "ASL1") {
		t.Fatal("an existing file taken for a code")
	}
}

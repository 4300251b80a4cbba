package safetext

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want string // substring of the error, "" for accepted
	}{
		{"Acme Writer", ""},
		{"ООО «Ромашка»", ""},
		{"株式会社", ""},
		{"", ""},
		{"a\tb", "control character U+0009"},
		{"a\x7fb", "control character U+007F"},
		{"a\u009b31mb", "control character U+009B"},
		{"a\u0085b", "control character U+0085"},
		{"evil\u202Etxt.exe", "bidirectional formatting character U+202E"},
		{"x\u2066y", "bidirectional formatting character U+2066"},
		{"x\u200Fy", "bidirectional formatting character U+200F"},
		{"\xff", "not valid UTF-8"},
		{strings.Repeat("a", MaxLen), ""},
		{strings.Repeat("a", MaxLen+1), "at most 256"},
	} {
		err := Check("product", tc.s)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: unexpected error %v", tc.s, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "product: ")):
			t.Errorf("%q: got %v, want an error containing %q", tc.s, err, tc.want)
		}
	}
}

// The spec's list of forbidden characters (docs/spec/request-v1.md, "Text
// fields"), code point by code point: exactly these are refused.
func TestForbiddenListExact(t *testing.T) {
	forbidden := map[rune]bool{0x061C: true, 0x200E: true, 0x200F: true}
	for r := rune(0); r <= 0x1F; r++ {
		forbidden[r] = true
	}
	forbidden[0x7F] = true
	for r := rune(0x80); r <= 0x9F; r++ {
		forbidden[r] = true
	}
	for r := rune(0x202A); r <= 0x202E; r++ {
		forbidden[r] = true
	}
	for r := rune(0x2066); r <= 0x2069; r++ {
		forbidden[r] = true
	}
	for r := rune(0); r <= 0x10FFFF; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue // not encodable in UTF-8
		}
		err := Check("f", "a"+string(r)+"b")
		if (err != nil) != forbidden[r] {
			t.Fatalf("%U: Check = %v, the list says forbidden=%v", r, err, forbidden[r])
		}
	}
}

func TestClean(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Acme Writer", "Acme Writer"},
		{"a\x1b[2Jb", `a\x1b[2Jb`},
		{"a\xffb", `a\xffb`},
		{"a\u0085b", `a\x85b`},
		{"evil\u202Etxt", `evil\u202etxt`},
		{"tab\there", `tab\x09here`},
	} {
		got := Clean(tc.in)
		if got != tc.want {
			t.Errorf("Clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if err := Check("f", got); err != nil {
			t.Errorf("Clean(%q) = %q fails Check: %v", tc.in, got, err)
		}
	}
	long := Clean(strings.Repeat("\x1b", MaxLen))
	if len(long) > MaxLen || !strings.HasSuffix(long, "...") || Check("f", long) != nil {
		t.Errorf("long input: %d bytes %q", len(long), long[len(long)-8:])
	}
	if got := Clean(strings.Repeat("я", 200)); Check("f", got) != nil {
		t.Errorf("cut inside a character: %q", got[len(got)-6:])
	}
}

func FuzzClean(f *testing.F) {
	f.Add("a\x1b\xff\u202e")
	f.Fuzz(func(t *testing.T, s string) {
		if err := Check("f", Clean(s)); err != nil {
			t.Fatalf("Clean(%q) = %q: %v", s, Clean(s), err)
		}
	})
}

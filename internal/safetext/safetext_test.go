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

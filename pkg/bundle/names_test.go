package bundle

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// Product names and license serials follow pkg/license's rules, so that any
// license's product can be named by a bundle; versions, used in paths, stay
// restricted.
func TestNameRules(t *testing.T) {
	for _, tc := range []struct {
		product, serial, version string
		want                     string // "" = accepted, else part of the error
	}{
		{"Acme Writer", "ACME 2026/7", "1.0.0", ""},
		{"Пишущая машинка", "#42", "1.0.0", ""},
		{strings.Repeat("p", MaxTextSize), "s", "1.0.0", ""},
		{strings.Repeat("p", MaxTextSize+1), "s", "1.0.0", `product "` + strings.Repeat("p", MaxTextSize+1) + `": 257 bytes, at most 256`},
		{"", "s", "1.0.0", "product must not be empty"},
		{"Acme\tWriter", "s", "1.0.0", `product "Acme\tWriter": contains control character U+0009`},
		{"Acme\x7f", "s", "1.0.0", "control character U+007F"},
		{"Acme", "a\nb", "1.0.0", `revoked_licenses[0]: revoked_licenses "a\nb": contains control character U+000A`},
		{"Acme", "s", "1.0 beta", `version "1.0 beta": character ' ' not allowed`},
		{"Acme", "s", "../x", `version "../x" must not start with '.'`},
	} {
		m := &Manifest{Format: FormatName, Product: tc.product, Version: tc.version, ReleaseDate: testDate,
			RevokedLicenses: []string{tc.serial}}
		err := m.validateRelease()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q/%q/%q: refused: %v", tc.product, tc.serial, tc.version, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrMalformed)):
			t.Errorf("%q/%q/%q: got %v, want ErrMalformed with %q", tc.product, tc.serial, tc.version, err, tc.want)
		}
	}
}

// Pack refuses a bad option before it reads or writes any payload: here
// the output directory does not exist, and the error is still the option.
func TestPackChecksOptionsFirst(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	makeTree(t, src, "1.0.0", 1000)
	_, err := Pack(PackOptions{Key: testKey(t, 1), Product: "Acme\x01", Version: "1.0.0", ReleaseDate: testDate, Dir: src,
		Output: filepath.Join(dir, "missing", "x.bundle")})
	if !errors.Is(err, ErrMalformed) || err.Error() != `pack: product "Acme\x01": contains control character U+0001` {
		t.Fatalf("Pack with a bad product: %v", err)
	}
}

// Issue 8 item 8: pack refuses file names and link targets with control or
// bidirectional formatting characters, or invalid UTF-8, naming the file
// with its characters escaped; the reader refuses the same (TestRefusals).
func TestPackRefusesControlCharacters(t *testing.T) {
	key := testKey(t, 1)
	for _, c := range []struct{ name, link, want string }{
		{name: "a\x1b[2Jb", want: `control character U+001B`},
		{name: "a\x7fb", want: `control character U+007F`},
		{name: "a\u0085b", want: `control character U+0085`},
		{name: "a\u009bb", want: `control character U+009B`},
		{name: "gnp.\u202eexe", want: `bidirectional formatting character U+202E`},
		{name: "a\xffb", want: `not valid UTF-8`},
		{name: "tab\there", want: `control character U+0009`},
		{name: "lnk", link: "x\x1b]0;owned\x07", want: `target "x\x1b]0;owned\a" contains control character U+001B`},
	} {
		dir := t.TempDir()
		src := filepath.Join(dir, "src")
		os.MkdirAll(src, 0o755)
		var err error
		if c.link != "" {
			err = os.Symlink(c.link, filepath.Join(src, c.name))
		} else {
			err = os.WriteFile(filepath.Join(src, c.name), []byte("x"), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
		_, err = Pack(PackOptions{Key: key, Product: "acme", Version: "1.0.0", Dir: src, Output: filepath.Join(dir, "out.bundle")})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("pack %q -> %q: %v, want %q", c.name, c.link, err, c.want)
			continue
		}
		if strings.ContainsAny(err.Error(), "\x1b\x7f\u0085\u009b\u202e\t") || !utf8.ValidString(err.Error()) {
			t.Errorf("pack %q: the error carries the raw character: %q", c.name, err)
		}
		if _, serr := os.Stat(filepath.Join(dir, "out.bundle")); serr == nil {
			t.Errorf("pack %q wrote a bundle", c.name)
		}
	}
}

package bundle

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/airseal/airseal/pkg/keys"
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

// Serials revoked by a bundle are stored and read back exactly, even with
// spaces or a leading '#'.
func TestRevokedLicensesExact(t *testing.T) {
	dir := t.TempDir()
	serials := []string{"#42", " lead and trail ", "ACME 2026/7"}
	tg, err := OpenTarget(dir, TargetOptions{Lock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := tg.addRevocations(&Manifest{RevokedLicenses: serials}); err != nil {
		t.Fatal(err)
	}
	if err := tg.addRevocations(&Manifest{RevokedLicenses: []string{"#42", "new"}}); err != nil {
		t.Fatal(err)
	}
	got, err := RevokedLicenses(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(serials, "new"); !slices.Equal(got, want) {
		t.Fatalf("RevokedLicenses = %q, want %q", got, want)
	}
}

// A revoked-keys file that cannot be read is an error, never an empty list.
func TestTrustFailsClosed(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, trustDir), 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, trustDir, revokedKeys)
	if err := os.WriteFile(p, []byte("not-a-key-id\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Trust(dir, nil); err == nil || !strings.Contains(err.Error(), p+": entry 1") {
		t.Fatalf("Trust with a garbled revocation list: %v, want an error naming %s", err, p)
	}
}

// Reinstalling the version that is the previous release (after a rollback)
// with a failing pre-switch hook leaves that previous release in place, and
// so does a crash after it was moved aside.
func TestReinstallPreviousKeepsIt(t *testing.T) {
	dir := t.TempDir()
	key := testKey(t, 1)
	ring := keys.NewKeyring(key.Public())
	target := filepath.Join(dir, "target")
	apply := func(version string, hooks []Hook) error {
		t.Helper()
		src := filepath.Join(dir, "src-"+version+fmt.Sprint(len(hooks)))
		os.MkdirAll(src, 0o755)
		os.WriteFile(filepath.Join(src, "hook.sh"), []byte("#!/bin/sh\nexit 3\n"), 0o755)
		out := src + ".bundle"
		pack(t, key, src, out, version, func(o *PackOptions) { o.Hooks = hooks })
		_, err := Apply([]string{out}, ApplyOptions{Target: target, Keyring: ring, HookOutput: io.Discard})
		return err
	}
	for _, v := range []string{"1.0.0", "2.0.0"} {
		if err := apply(v, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Rollback(target, ring); err != nil {
		t.Fatal(err)
	}
	err := apply("2.0.0", []Hook{{Phase: PhasePreSwitch, Path: "hook.sh", Timeout: 5}})
	if !errors.Is(err, ErrHook) {
		t.Fatalf("failing pre-switch hook: %v", err)
	}
	st, err := TargetStatus(target, ring)
	if err != nil || st.Previous == nil || st.Previous.Version != "2.0.0" {
		t.Fatalf("after a failed reinstall of the previous release: %+v, %v", st, err)
	}
	// Crash after moving it aside: the next apply puts it back first.
	rel := filepath.Join(target, releasesDir)
	if err := os.Rename(filepath.Join(rel, "2.0.0"), filepath.Join(rel, ".trash-2.0.0")); err != nil {
		t.Fatal(err)
	}
	err = apply("1.0.0", nil)
	if !errors.Is(err, ErrVersion) {
		t.Fatalf("applying the installed version: %v", err)
	}
	if _, err := os.Stat(filepath.Join(rel, ".trash-2.0.0")); err != nil {
		t.Fatalf("a refused apply touched the target: %v", err)
	}
	if err := apply("1.5.0", []Hook{{Phase: PhasePreSwitch, Path: "hook.sh", Timeout: 5}}); !errors.Is(err, ErrHook) {
		t.Fatalf("1.5.0 with failing hook: %v", err)
	}
	if m, err := Rollback(target, ring); err != nil || m.Version != "2.0.0" {
		t.Fatalf("rollback after the interrupted reinstall: %v %v", m, err)
	}
	// A previous release that no longer verifies is reported, not hidden.
	hp := filepath.Join(rel, "1.0.0", headerFile)
	h, err := os.ReadFile(hp)
	if err != nil {
		t.Fatal(err)
	}
	h[100] ^= 1 // in the signature
	os.Chmod(hp, 0o644)
	if err := os.WriteFile(hp, h, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err = TargetStatus(target, ring)
	if err != nil || st.Previous != nil || !strings.Contains(st.PreviousError, "bad signature") {
		t.Fatalf("status with a damaged previous release: %+v, %v", st, err)
	}
}

// ApplyOptions.Pin records the signer in the target's trust store; a key
// from Keyring is not recorded.
func TestPinSigner(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	makeTree(t, src, "1.0.0", 1000)
	vendor, builtin := testKey(t, 1), testKey(t, 2)
	a := filepath.Join(dir, "a.bundle")
	pack(t, vendor, src, a, "1.0.0", nil)
	b := filepath.Join(dir, "b.bundle")
	pack(t, builtin, src, b, "1.0.0", nil)
	target := filepath.Join(dir, "t")
	if _, err := Installed(target, nil); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Installed on an empty target: %v", err)
	}
	res, err := Apply([]string{a}, ApplyOptions{Target: target, Keyring: keys.NewKeyring(builtin.Public()), Pin: keys.NewKeyring(vendor.Public())})
	if err != nil || res.PinnedKey != vendor.ID() {
		t.Fatalf("Apply: %v, pinned %q", err, res.PinnedKey)
	}
	if m, err := Installed(target, nil); err != nil || m.Version != "1.0.0" {
		t.Fatalf("Installed without the key after pinning: %v %v", m, err)
	}
	t2 := filepath.Join(dir, "t2")
	res, err = Apply([]string{b}, ApplyOptions{Target: t2, Keyring: keys.NewKeyring(builtin.Public()), Pin: keys.NewKeyring(builtin.Public(), vendor.Public())})
	if err != nil || res.PinnedKey != "" {
		t.Fatalf("Apply with a built-in signer: %v, pinned %q", err, res.PinnedKey)
	}
	if _, err := os.Stat(filepath.Join(t2, trustDir)); err == nil {
		t.Fatal("a built-in signer was recorded in the trust store")
	}
}

// The free space is checked from the signed sizes before anything is
// written; a held lock refuses a second apply at once.
func TestNoSpaceAndBusy(t *testing.T) {
	dir := t.TempDir()
	ring := keys.NewKeyring(testKey(t, 1).Public())
	huge := simpleSpec(t, "1.0.0")
	huge.mod = func(m *Manifest) {
		m.Files[1].Size = 1 << 49 // 512 TiB, signed
		m.Payload.TarSize = 1<<49 + 8192
	}
	p := filepath.Join(dir, "huge.bundle")
	os.WriteFile(p, huge.build(t), 0o644)
	target := filepath.Join(dir, "t")
	res, err := Apply([]string{p}, ApplyOptions{Target: target, Keyring: ring})
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "the release needs 5629499534") || res == nil || res.Plan.SpaceFree <= 0 {
		t.Fatalf("apply of a 512 TiB release: %v", err)
	}
	if _, err := os.Stat(target); err == nil {
		t.Fatal("a refused apply created the target")
	}

	ok := filepath.Join(dir, "ok.bundle")
	os.WriteFile(ok, simpleSpec(t, "1.0.0").build(t), 0o644)
	os.MkdirAll(target, 0o755)
	unlock, err := lockTarget(target)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply([]string{ok}, ApplyOptions{Target: target, Keyring: ring}); !errors.Is(err, ErrBusy) {
		t.Fatalf("apply while locked: %v", err)
	}
	unlock()
	if _, err := Apply([]string{ok}, ApplyOptions{Target: target, Keyring: ring}); err != nil {
		t.Fatalf("apply after unlock: %v", err)
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

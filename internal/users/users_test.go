package users

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airseal/airseal/internal/fileio"
)

func TestFirstLoginMustChange(t *testing.T) {
	s := NewMemory()
	pw, err := InitAdmin(s, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Login(s, "admin", "admin"); err == nil || errors.Is(err, ErrMustChange) {
		t.Fatalf("admin/admin accepted: %v", err)
	}
	u, err := Login(s, "admin", pw)
	if !errors.Is(err, ErrMustChange) || u.Role != Admin || u.Hash != "" {
		t.Fatalf("first login: %v %+v", err, u)
	}
	if err := Passwd(s, "admin", pw); err == nil {
		t.Fatal("reusing one-time password accepted")
	}
	if err := Passwd(s, "admin", "a-new-long-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := Login(s, "admin", "a-new-long-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := Login(s, "admin", pw); err == nil {
		t.Fatal("old password still works")
	}
}

func TestVerifyBounds(t *testing.T) {
	if _, err := Verify("$argon2id$v=19$m=99999999,t=3,p=2$c2FsdHNhbHQ$"+strings.Repeat("A", 43), "x"); err == nil {
		t.Fatal("huge memory parameter accepted")
	}
	if _, err := Verify("plain", "x"); err == nil {
		t.Fatal("non-PHC accepted")
	}
}

func TestFileStoreAndRoles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "users.json")
	f, err := OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := InitAdmin(f, "root"); err != nil {
		t.Fatal(err)
	}
	if err := Add(f, "scanner1", Device, "0123456789ab"); err != nil {
		t.Fatal(err)
	}
	if err := Add(f, "bad name", Viewer, "0123456789ab"); err == nil {
		t.Fatal("bad name accepted")
	}
	if err := Add(f, "v", Role("root"), "0123456789ab"); err == nil {
		t.Fatal("bad role accepted")
	}
	if err := Remove(f, "root"); err == nil {
		t.Fatal("last admin removed")
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	g, err := OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	us, _ := g.List()
	if len(us) != 2 || us[0].Name != "root" || !us[0].MustChange || us[1].Role != Device {
		t.Fatalf("reloaded %+v", us)
	}
	if err := Remove(g, "scanner1"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Get("scanner1"); !errors.Is(err, ErrNotFound) {
		t.Fatal("not removed")
	}
}

// TestRandomPasswordRejectsBiasedBytes feeds bytes at and above 224 (the
// largest multiple of 56 in a byte): they must be skipped, not folded onto
// the first characters of the alphabet.
func TestRandomPasswordRejectsBiasedBytes(t *testing.T) {
	src := make([]byte, 0, 64)
	for i := 0; i < 32; i++ {
		src = append(src, byte(224+i%32)) // all rejected
	}
	for i := 0; i < 32; i++ {
		src = append(src, byte(i)) // accepted: alphabet[0..31]
	}
	pw, err := randomPassword(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if want := passwordAlphabet[:passwordLen]; pw != want {
		t.Fatalf("password %q, want %q (biased bytes were used)", pw, want)
	}
	if _, err := randomPassword(bytes.NewReader(src[:40])); err == nil {
		t.Fatal("short random source accepted")
	}
}

// TestRandomPasswordUniform checks every character of the alphabet can
// appear and the length and alphabet are right.
func TestRandomPasswordUniform(t *testing.T) {
	seen := map[rune]int{}
	for i := 0; i < 200; i++ {
		pw, err := RandomPassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != passwordLen {
			t.Fatalf("length %d", len(pw))
		}
		for _, r := range pw {
			if !strings.ContainsRune(passwordAlphabet, r) {
				t.Fatalf("character %q outside the alphabet", r)
			}
			seen[r]++
		}
	}
	// 4000 draws over 56 characters: each expected ~71 times; a character
	// never drawn has probability about 56·(55/56)^4000 ≈ 1e-29.
	if len(seen) != len(passwordAlphabet) {
		t.Fatalf("only %d of %d characters seen", len(seen), len(passwordAlphabet))
	}
}

func TestOpenFileBounded(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "users.json")
	if err := os.WriteFile(big, bytes.Repeat([]byte(" "), LimitFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	var tl *fileio.TooLargeError
	if _, err := OpenFile(big); !errors.As(err, &tl) || tl.Limit != LimitFile {
		t.Fatalf("oversize users file: %v", err)
	}
	if _, err := OpenFile(dir); !errors.Is(err, fileio.ErrNotRegular) {
		t.Fatalf("directory: %v", err)
	}
	if _, err := OpenFile("-"); err == nil {
		t.Fatal(`"-" accepted as a store`)
	}
	f, err := OpenFile(filepath.Join(dir, "missing.json"))
	if err != nil {
		t.Fatal(err)
	}
	if us, _ := f.List(); len(us) != 0 {
		t.Fatalf("missing file not empty: %v", us)
	}
}

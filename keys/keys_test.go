package keys

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	pkeys "github.com/airseal/airseal/pkg/keys"
)

// checkDir compares a keyring with the *.pub files of a directory and
// returns the problems: a .pub that does not load or is missing from the
// keyring, or a keyring with more keys than the directory has .pub files.
// It also returns how many .pub files it checked.
func checkDir(dir string, ring *pkeys.Keyring) (problems []string, checked int) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return []string{err.Error()}, 0
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".pub") {
			continue
		}
		checked++
		k, err := pkeys.LoadPublic(filepath.Join(dir, e.Name()))
		if err != nil {
			problems = append(problems, e.Name()+": "+err.Error())
			continue
		}
		if _, ok := ring.Get(k.ID()); !ok {
			problems = append(problems, e.Name()+" (key "+string(k.ID())+") is not in the keyring")
		}
	}
	if ring.Len() != checked {
		problems = append(problems, "the keyring has a different number of keys than the directory has .pub files")
	}
	return problems, checked
}

// Every *.pub file in this directory is in the embedded keyring, and
// nothing else is. (This repository ships no key, so the loop may check
// nothing here; TestCheckDirFixture runs the same check on a fixture.)
func TestKeyringMatchesDirectory(t *testing.T) {
	ring, err := Keyring()
	if err != nil {
		t.Fatal(err)
	}
	problems, _ := checkDir(".", ring)
	for _, p := range problems {
		t.Error("keys/" + p)
	}
}

// Issue 9 item 8: the directory check really runs, on a fixture with a
// test-only public key read through the same code as the embedded files,
// and it fails when the keyring and the directory disagree.
func TestCheckDirFixture(t *testing.T) {
	const dir = "testdata/keys"
	ring, err := keyringFrom(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	problems, checked := checkDir(dir, ring)
	if checked == 0 {
		t.Fatal("the fixture has no .pub file: the check loop did not run")
	}
	if len(problems) > 0 {
		t.Errorf("fixture: %v", problems)
	}
	if ring.Len() != 1 {
		t.Errorf("fixture keyring has %d keys, want 1", ring.Len())
	}
	// A keyring that lacks the fixture's key is caught.
	if problems, _ := checkDir(dir, pkeys.NewKeyring()); len(problems) == 0 {
		t.Error("an empty keyring passed the check against a directory with a key")
	}
}

// Issue 8 item 7: only README.md and *.pub files are compiled in.
func TestEmbedsOnlyPublicKeys(t *testing.T) {
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		if p != "README.md" && !strings.HasSuffix(p, ".pub") {
			t.Errorf("keys/%s is compiled into the binaries: only README.md and *.pub may be", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The embed pattern: the names it takes, checked with the same glob, and a
// sealed private key beside a public one stays out of the keyring's files.
func TestEmbedPattern(t *testing.T) {
	const pattern = "*[.p][mu][db]" // as in the go:embed line of keys.go
	src, err := os.ReadFile("keys.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(src, []byte("//go:embed "+pattern+"\n")) {
		t.Fatalf("keys.go does not embed %q", pattern)
	}
	for name, want := range map[string]bool{
		"README.md": true, "acme.pub": true, "acme-2027.pub": true,
		"acme.key": false, "acme.pub.key": false, "acme.key.bak": false, "acme.sealed": false,
		"acme.pub~": false, "keys.go": false, "keys_test.go": false, "passphrase.txt": false,
	} {
		if got, _ := filepath.Match(pattern, name); got != want {
			t.Errorf("pattern matches %s: %v, want %v", name, got, want)
		}
	}
}

// A private key named like a public one makes Keyring fail loudly.
func TestPrivateKeyNamedPub(t *testing.T) {
	k, err := pkeys.NewPrivateKey(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := k.Seal([]byte("passphrase"), &pkeys.SealOptions{LogN: 10})
	if err != nil {
		t.Fatal(err)
	}
	_, err = keyringFrom(fstest.MapFS{"acme.pub": {Data: sealed}})
	if err == nil || !strings.Contains(err.Error(), "PRIVATE key") {
		t.Fatalf("a private key as acme.pub: %v", err)
	}
}

// No private key may sit in this directory, committed or not, whatever
// its name. (issue keygen -o keys/acme would leave acme.key here.)
func TestNoPrivateKeys(t *testing.T) {
	problems := privateKeysIn(".")
	for _, p := range problems {
		t.Errorf("keys/%s is a private key: move it out of the repository (keep it offline); only NAME.pub belongs here", p)
	}
	// The scan finds a sealed key.
	dir := t.TempDir()
	k, _ := pkeys.NewPrivateKey(bytes.Repeat([]byte{2}, 32))
	sealed, _ := k.Seal([]byte("passphrase"), &pkeys.SealOptions{LogN: 10})
	os.WriteFile(filepath.Join(dir, "acme.key"), sealed, 0o600)
	os.WriteFile(filepath.Join(dir, "acme.pub"), k.Public().MarshalPublic(), 0o644)
	if got := privateKeysIn(dir); len(got) != 1 || got[0] != "acme.key" {
		t.Errorf("scan of a directory with acme.key found %v", got)
	}
}

func privateKeysIn(dir string) []string {
	var found []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err == nil && pkeys.IsPrivate(data) {
			found = append(found, e.Name())
		}
	}
	return found
}

// docs/spec/keys-v1.md, "Common rules": writers separate fields with one
// space; a public key line is read with fields split on runs of spaces and
// tabs; the private key header must use single spaces (it is the AEAD's
// associated data, compared as written).
func TestFieldSeparatorRules(t *testing.T) {
	const line = "airseal-public-key-v1 3602c5ce218089f6 iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w="
	for _, in := range []string{
		line,
		strings.ReplaceAll(line, " ", "  "),
		strings.ReplaceAll(line, " ", "\t"),
		"  " + line + " \r",
	} {
		if _, err := pkeys.ParsePublic([]byte(in + "\n")); err != nil {
			t.Errorf("public line %q: %v", in, err)
		}
	}
	k, _ := pkeys.NewPrivateKey(bytes.Repeat([]byte{1}, 32))
	if got := string(k.Public().MarshalPublic()); !strings.Contains(got, "\n"+line+"\n") {
		t.Errorf("writer does not use single spaces:\n%s", got)
	}
	sealed, _ := k.Seal([]byte("pw"), &pkeys.SealOptions{LogN: 10})
	if _, err := pkeys.Open(sealed, []byte("pw")); err != nil {
		t.Fatal(err)
	}
	// One rule for both files: runs of spaces and tabs separate fields; a
	// re-spaced private key header still opens (its canonical form is the
	// authenticated data), other white space is not a separator.
	respace := func(old, new string) []byte {
		lines := strings.SplitN(string(sealed), "\n", 4)
		for i, l := range lines {
			if strings.HasPrefix(l, "airseal-private-key-v1 ") {
				lines[i] = strings.Replace(l, " scrypt ", old+"scrypt"+new, 1)
			}
		}
		return []byte(strings.Join(lines, "\n"))
	}
	if _, err := pkeys.Open(respace("  ", "\t"), []byte("pw")); err != nil {
		t.Errorf("a private key header with a double space and a tab: %v", err)
	}
	if _, err := pkeys.Open(respace("\u00a0", " "), []byte("pw")); err == nil {
		t.Error("a private key header with a no-break space was opened")
	}
	if _, err := pkeys.ParsePublic([]byte(strings.Replace(line, " ", "\u0085", 1) + "\n")); err == nil {
		t.Error("U+0085 taken for a field separator")
	}
}

package installed

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/bundle"
	"github.com/airseal/airseal/pkg/install"
	"github.com/airseal/airseal/pkg/keys"
)

// apply packs a one-file release signed by k and applies it to target.
func apply(t *testing.T, k *keys.PrivateKey, target, version string, date time.Time, revoked ...string) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o755)
	os.WriteFile(filepath.Join(src, "README"), []byte("release "+version+"\n"), 0o644)
	out := filepath.Join(dir, "release.bundle")
	if _, err := bundle.Pack(bundle.PackOptions{Key: k, Product: "Acme Writer", Version: version, ReleaseDate: date,
		Dir: src, Output: out, RevokedLicenses: revoked}); err != nil {
		t.Fatal(err)
	}
	if _, err := install.Apply([]string{out}, install.ApplyOptions{Target: target, Keyring: keys.NewKeyring(k.Public())}); err != nil {
		t.Fatal(err)
	}
}

func testKey(t *testing.T, b byte) *keys.PrivateKey {
	k, err := keys.NewPrivateKey(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Read agrees with install.Installed and install.RevokedLicenses, the full
// implementation of the format.
func TestReadAgreesWithBundle(t *testing.T) {
	k := testKey(t, 1)
	target := t.TempDir()
	date := time.Date(2029, 6, 1, 0, 0, 0, 0, time.UTC)
	apply(t, k, target, "2.4.0", date, "AAAA-0000-0000-0002")
	apply(t, k, target, "2.5.0", date.AddDate(0, 1, 0), "AAAA-0000-0000-0003")
	ring := keys.NewKeyring(k.Public())
	got, err := Read(target, ring)
	if err != nil {
		t.Fatal(err)
	}
	m, err := install.Installed(target, ring)
	if err != nil {
		t.Fatal(err)
	}
	serials, err := install.RevokedLicenses(target)
	if err != nil {
		t.Fatal(err)
	}
	want := append(serials, m.RevokedLicenses...)
	if got.Product != m.Product || got.Version != m.Version || !got.ReleaseDate.Equal(m.ReleaseDate) ||
		strings.Join(got.RevokedLicenses, ",") != strings.Join(want, ",") {
		t.Fatalf("Read = %+v; bundle says %s %s %s revoked %v", got, m.Product, m.Version, m.ReleaseDate, want)
	}
	if !strings.Contains(strings.Join(got.RevokedLicenses, ","), "AAAA-0000-0000-0002") {
		t.Errorf("revoked serials %v lack the first release's", got.RevokedLicenses)
	}
	// An untrusted key and a missing target.
	if _, err := Read(target, keys.NewKeyring(testKey(t, 2).Public())); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("untrusted key: err = %v", err)
	}
	if _, err := Read(t.TempDir(), ring); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("empty target: err = %v", err)
	}
}

// A header changed after signing, a FIFO, a device and an oversized file in
// the target are refused, promptly.
func TestReadRefuses(t *testing.T) {
	k := testKey(t, 1)
	ring := keys.NewKeyring(k.Public())
	target := t.TempDir()
	apply(t, k, target, "2.4.0", time.Date(2029, 6, 1, 0, 0, 0, 0, time.UTC))
	hp := filepath.Join(target, "current", ".airseal", "header")
	orig, err := os.ReadFile(hp)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(orig, []byte("2.4.0"), []byte("9.4.0"), 1)
	os.Chmod(hp, 0o644)
	os.Chmod(filepath.Dir(hp), 0o755)
	must(t, os.WriteFile(hp, edited, 0o644))
	if _, err := Read(target, ring); !errors.Is(err, ErrBadSignature) {
		t.Errorf("edited header: err = %v, want ErrBadSignature", err)
	}
	must(t, os.Remove(hp))
	must(t, syscall.Mkfifo(hp, 0o600))
	readSoon(t, "FIFO header", target, ring, "not a regular file")
	must(t, os.Remove(hp))
	must(t, os.Symlink("/dev/zero", hp))
	readSoon(t, "/dev/zero header", target, ring, "not a regular file")
	must(t, os.Remove(hp))
	f, err := os.Create(hp)
	must(t, err)
	must(t, f.Truncate(HeaderLimit+1))
	f.Close()
	readSoon(t, "oversized header", target, ring, "16 MiB limit")
	must(t, os.WriteFile(hp, orig, 0o644))
	lp := filepath.Join(target, "trust", "revoked-licenses")
	os.MkdirAll(filepath.Dir(lp), 0o755)
	os.Remove(lp)
	must(t, syscall.Mkfifo(lp, 0o600))
	readSoon(t, "FIFO revoked-licenses", target, ring, "not a regular file")
}

func readSoon(t *testing.T, name, target string, ring *keys.Keyring, want string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { _, err := Read(target, ring); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want ErrTooLarge naming %q", name, err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: Read blocked", name)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

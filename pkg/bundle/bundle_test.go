package bundle

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/keys"
)

// testKey derives a deterministic signing key; no private key file is ever
// committed.
func testKey(t testing.TB, n byte) *keys.PrivateKey {
	t.Helper()
	k, err := keys.NewPrivateKey(bytes.Repeat([]byte{n}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var testDate = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// makeTree writes a small release: text, a binary blob, an executable, a
// read-only file, a nested directory with an unusual mode and a symlink.
func makeTree(t testing.TB, dir, version string, blob int) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "share/doc"), 0o750))
	must(os.WriteFile(filepath.Join(dir, "VERSION"), []byte(version+"\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "bin/app"), []byte("#!/bin/sh\necho app "+version+"\n"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "share/doc/README"), bytes.Repeat([]byte("airseal release notes "+version+"\n"), 2000), 0o444))
	r := rand.New(rand.NewPCG(uint64(len(version)), uint64(blob)))
	b := make([]byte, blob)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	must(os.WriteFile(filepath.Join(dir, "share/data.bin"), b, 0o600))
	must(os.Symlink("bin/app", filepath.Join(dir, "app")))
	must(os.WriteFile(filepath.Join(dir, "empty"), nil, 0o640))
}

func pack(t testing.TB, key *keys.PrivateKey, src, out, version string, mod func(*PackOptions)) *PackResult {
	t.Helper()
	o := PackOptions{Key: key, Product: "demo", Version: version, ReleaseDate: testDate, Dir: src, Output: out}
	if mod != nil {
		mod(&o)
	}
	res, err := Pack(o)
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	return res
}

func TestPackReproducible(t *testing.T) {
	dir := t.TempDir()
	key := testKey(t, 1)
	src := filepath.Join(dir, "src")
	makeTree(t, src, "2.0.0", 3<<20)
	a, b := filepath.Join(dir, "a.bundle"), filepath.Join(dir, "b.bundle")
	pack(t, key, src, a, "2.0.0", func(o *PackOptions) { o.Concurrency = 1 })
	pack(t, key, src, b, "2.0.0", func(o *PackOptions) { o.Concurrency = 3 })
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) {
		t.Fatal("packing the same tree twice gave different bytes")
	}
}

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.0.0", "1.0.0", 0}, {"1.0", "1.0.0", 0}, {"1.10.0", "1.9.9", 1}, {"1.0.0-rc1", "1.0.0", -1},
		{"1.0.0-rc2", "1.0.0-rc10", 1}, {"1.0.0-1", "1.0.0-alpha", -1}, {"2.0.0+build5", "2.0.0", 0},
		{"0.9", "1.0", -1}, {"1.0.01", "1.0.1", 0},
	} {
		if got := CompareVersions(c.a, c.b); got != c.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := CompareVersions(c.b, c.a); got != -c.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
}

package install

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/airseal/airseal/pkg/bundle"
	"github.com/airseal/airseal/pkg/keys"
)

// The helpers below are pkg/bundle's test helpers (bundle_test.go,
// craft_test.go), for building the bundles these tests install.

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

func pack(t testing.TB, key *keys.PrivateKey, src, out, version string, mod func(*bundle.PackOptions)) *bundle.PackResult {
	t.Helper()
	o := bundle.PackOptions{Key: key, Product: "demo", Version: version, ReleaseDate: testDate, Dir: src, Output: out}
	if mod != nil {
		mod(&o)
	}
	res, err := bundle.Pack(o)
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	return res
}

// treeDigest describes a tree (paths, types, modes, link targets, content
// hashes), ignoring the .airseal metadata directory.
func treeDigest(t testing.TB, dir string) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == bundle.MetaDir {
			return fs.SkipDir
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v", rel, fi.Mode())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			fmt.Fprintf(&b, " -> %s", l)
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x", sha256.Sum256(data))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// tarEntry is one raw tar entry of a crafted payload.
type tarEntry struct {
	hdr  tar.Header
	body []byte
}

// craftSpec describes a hand-made bundle, to produce what bundle.Pack refuses to
// write: hostile paths, links, devices, bombs.
type craftSpec struct {
	key       *keys.PrivateKey
	product   string
	version   string
	files     []bundle.File // manifest entries; SHA256 filled from entries when empty
	entries   []tarEntry    // tar payload
	tarExtra  []byte        // appended after the tar end-of-archive (bombs)
	rawZstd   []byte        // payload used as is instead of compressing the tar
	chunkSize int64
	mod       func(m *bundle.Manifest) // last change before signing
}

func fileEntry(p string, mode bundle.Mode, body string) (bundle.File, tarEntry) {
	f := bundle.File{Path: p, Type: bundle.TypeFile, Mode: mode, Size: int64(len(body))}
	sum := sha256.Sum256([]byte(body))
	f.SHA256 = hex.EncodeToString(sum[:])
	return f, tarEntry{hdr: tar.Header{Name: p, Typeflag: tar.TypeReg, Mode: int64(mode), Size: int64(len(body)), Format: tar.FormatPAX}, body: []byte(body)}
}

func dirEntry(p string, mode bundle.Mode) (bundle.File, tarEntry) {
	return bundle.File{Path: p, Type: bundle.TypeDir, Mode: mode}, tarEntry{hdr: tar.Header{Name: p + "/", Typeflag: tar.TypeDir, Mode: int64(mode), Format: tar.FormatPAX}}
}

func linkEntry(p, target string) (bundle.File, tarEntry) {
	return bundle.File{Path: p, Type: bundle.TypeSymlink, Mode: 0o777, Target: target},
		tarEntry{hdr: tar.Header{Name: p, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777, Format: tar.FormatPAX}}
}

// simpleSpec is a valid release: a directory, two files and a link.
func simpleSpec(t testing.TB, version string) *craftSpec {
	s := &craftSpec{key: testKey(t, 1), product: "demo", version: version}
	for _, fe := range []func() (bundle.File, tarEntry){
		func() (bundle.File, tarEntry) { return dirEntry("bin", 0o755) },
		func() (bundle.File, tarEntry) { return fileEntry("bin/app", 0o755, "#!/bin/sh\necho "+version+"\n") },
		func() (bundle.File, tarEntry) { return fileEntry("VERSION", 0o644, version+"\n") },
		func() (bundle.File, tarEntry) { return linkEntry("app", "bin/app") },
	} {
		f, e := fe()
		s.files = append(s.files, f)
		s.entries = append(s.entries, e)
	}
	return s
}

// build returns the bundle bytes (one volume).
func (s *craftSpec) build(t testing.TB) []byte {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, e := range s.entries {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	tarSize := int64(tb.Len())
	tb.Write(s.tarExtra)
	z := s.rawZstd
	if z == nil {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		z = enc.EncodeAll(tb.Bytes(), nil)
	}
	cs := s.chunkSize
	if cs == 0 {
		cs = bundle.MinChunkSize
	}
	m := &bundle.Manifest{Format: bundle.FormatName, Product: s.product, Version: s.version, ReleaseDate: testDate, Files: s.files,
		Payload: bundle.Payload{Compression: "zstd", TarSize: tarSize, Size: int64(len(z)), ChunkSize: cs, Volumes: 1}}
	for off := int64(0); off < int64(len(z)); off += cs {
		sum := sha256.Sum256(z[off:min(off+cs, int64(len(z)))])
		m.Payload.Chunks = append(m.Payload.Chunks, hex.EncodeToString(sum[:]))
	}
	m.Payload.ChunksPerVolume = len(m.Payload.Chunks)
	if s.mod != nil {
		s.mod(m)
	}
	mj, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	// The signature covers the context string and the manifest
	// (docs/spec/bundle-v1.md).
	h := &bundle.Header{VolumeCount: 1, KeyID: s.key.ID(), Manifest: mj, Area: int64(len(mj))}
	h.Signature = s.key.Sign(append([]byte("airseal-bundle-v1\x00"), mj...))
	return append(h.Marshal(), z...)
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

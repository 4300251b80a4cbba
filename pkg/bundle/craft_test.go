package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/airseal/airseal/pkg/keys"
)

// tarEntry is one raw tar entry of a crafted payload.
type tarEntry struct {
	hdr  tar.Header
	body []byte
}

// craftSpec describes a hand-made bundle, to produce what Pack refuses to
// write: hostile paths, links, devices, bombs.
type craftSpec struct {
	key       *keys.PrivateKey
	product   string
	version   string
	files     []File     // manifest entries; SHA256 filled from entries when empty
	entries   []tarEntry // tar payload
	tarExtra  []byte     // appended after the tar end-of-archive (bombs)
	rawZstd   []byte     // payload used as is instead of compressing the tar
	chunkSize int64
	mod       func(m *Manifest) // last change before signing
}

func fileEntry(p string, mode Mode, body string) (File, tarEntry) {
	f := File{Path: p, Type: TypeFile, Mode: mode, Size: int64(len(body))}
	sum := sha256.Sum256([]byte(body))
	f.SHA256 = hex.EncodeToString(sum[:])
	return f, tarEntry{hdr: tar.Header{Name: p, Typeflag: tar.TypeReg, Mode: int64(mode), Size: int64(len(body)), Format: tar.FormatPAX}, body: []byte(body)}
}

func dirEntry(p string, mode Mode) (File, tarEntry) {
	return File{Path: p, Type: TypeDir, Mode: mode}, tarEntry{hdr: tar.Header{Name: p + "/", Typeflag: tar.TypeDir, Mode: int64(mode), Format: tar.FormatPAX}}
}

func linkEntry(p, target string) (File, tarEntry) {
	return File{Path: p, Type: TypeSymlink, Mode: 0o777, Target: target},
		tarEntry{hdr: tar.Header{Name: p, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777, Format: tar.FormatPAX}}
}

// simpleSpec is a valid release: a directory, two files and a link.
func simpleSpec(t testing.TB, version string) *craftSpec {
	s := &craftSpec{key: testKey(t, 1), product: "demo", version: version}
	for _, fe := range []func() (File, tarEntry){
		func() (File, tarEntry) { return dirEntry("bin", 0o755) },
		func() (File, tarEntry) { return fileEntry("bin/app", 0o755, "#!/bin/sh\necho "+version+"\n") },
		func() (File, tarEntry) { return fileEntry("VERSION", 0o644, version+"\n") },
		func() (File, tarEntry) { return linkEntry("app", "bin/app") },
	} {
		f, e := fe()
		s.files = append(s.files, f)
		s.entries = append(s.entries, e)
	}
	return s
}

func (s *craftSpec) add(f File, e tarEntry) *craftSpec {
	s.files = append(s.files, f)
	s.entries = append(s.entries, e)
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
		cs = MinChunkSize
	}
	m := &Manifest{Format: FormatName, Product: s.product, Version: s.version, ReleaseDate: testDate, Files: s.files,
		Payload: Payload{Compression: "zstd", TarSize: tarSize, Size: int64(len(z)), ChunkSize: cs, Volumes: 1}}
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
	h := &Header{VolumeCount: 1, KeyID: s.key.ID(), Manifest: mj, Area: int64(len(mj))}
	h.Signature = s.key.Sign(signedMessage(mj))
	return append(h.Marshal(), z...)
}

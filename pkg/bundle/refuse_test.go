package bundle

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airseal/airseal/pkg/keys"
)

var update = flag.Bool("update", false, "rewrite testdata/crafted")

// windowBomb is a zstd frame that declares a 128 MiB window and holds raw.
func windowBomb(raw []byte) []byte {
	out := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 17 << 3}
	for len(raw) > 0 {
		n := min(len(raw), 100<<10)
		hdr := uint32(n) << 3
		if n == len(raw) {
			hdr |= 1 // last block
		}
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], hdr)
		out = append(out, b[:3]...)
		out = append(out, raw[:n]...)
		raw = raw[n:]
	}
	return out
}

func tarOf(t testing.TB, s *craftSpec) []byte {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, e := range s.entries {
		h := e.hdr
		tw.WriteHeader(&h)
		tw.Write(e.body)
	}
	tw.Close()
	return tb.Bytes()
}

// multiChunk is a valid bundle with several 64 KiB chunks.
func multiChunk(t testing.TB) []byte {
	s := simpleSpec(t, "2.0.0")
	r := rand.New(rand.NewPCG(7, 7))
	b := make([]byte, 300<<10)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return s.add(fileEntry("data.bin", 0o644, string(b))).build(t)
}

func flip(b []byte, off int) []byte {
	c := bytes.Clone(b)
	c[off] ^= 0x40
	return c
}

// refusal is one crafted bundle and what verify/apply must say about it.
type refusal struct {
	name string
	make func(t testing.TB) []byte
	want error
	msg  string
}

func refusals() []refusal {
	spec := func(t testing.TB) *craftSpec { return simpleSpec(t, "2.0.0") }
	payloadStart := func(b []byte) int { return PreambleSize + int(binary.BigEndian.Uint32(b[36:40])) }
	return []refusal{
		{"traversal", func(t testing.TB) []byte { return spec(t).add(fileEntry("../evil", 0o644, "x")).build(t) }, ErrUnsafe, `"../evil" contains ".."`},
		{"traversal-nested", func(t testing.TB) []byte { return spec(t).add(fileEntry("bin/../../evil", 0o644, "x")).build(t) }, ErrUnsafe, "is not clean"},
		{"absolute", func(t testing.TB) []byte { return spec(t).add(fileEntry("/etc/cron.d/evil", 0o644, "x")).build(t) }, ErrUnsafe, "is absolute"},
		{"symlink-escape", func(t testing.TB) []byte { return spec(t).add(linkEntry("bin/etc", "../../etc")).build(t) }, ErrUnsafe, "outside the release"},
		{"symlink-absolute", func(t testing.TB) []byte { return spec(t).add(linkEntry("shadow", "/etc/shadow")).build(t) }, ErrUnsafe, "absolute path"},
		{"symlink-through-link", func(t testing.TB) []byte {
			return spec(t).add(linkEntry("x", ".")).add(linkEntry("y", "x/..")).build(t)
		}, ErrUnsafe, "'..' only as leading steps"},
		{"write-through-link", func(t testing.TB) []byte {
			return spec(t).add(linkEntry("lnk", "bin")).add(fileEntry("lnk/evil", 0o644, "x")).build(t)
		}, ErrUnsafe, `its parent "lnk" is not a directory`},
		{"hardlink-type", func(t testing.TB) []byte {
			f, e := fileEntry("hl", 0o644, "")
			f.Type = "hardlink"
			return spec(t).add(f, e).build(t)
		}, ErrUnsafe, `type "hardlink" is not allowed`},
		{"hardlink-tar", func(t testing.TB) []byte {
			f, _ := fileEntry("hl", 0o644, "")
			e := tarEntry{hdr: tar.Header{Name: "hl", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd", Format: tar.FormatPAX}}
			return spec(t).add(f, e).build(t)
		}, ErrUnsafe, "is a hard link"},
		{"device-type", func(t testing.TB) []byte {
			f, e := fileEntry("sda", 0o644, "")
			f.Type = "block"
			return spec(t).add(f, e).build(t)
		}, ErrUnsafe, `type "block" is not allowed`},
		// Issue 8 item 8: file names and link targets that would repaint
		// a terminal (inspect prints them) are refused by the reader.
		{"escape-path", func(t testing.TB) []byte {
			return spec(t).add(fileEntry("bin/a\x1b[2J\x1b[Hsignature: verified", 0o644, "x")).build(t)
		}, ErrUnsafe, `contains control character U+001B`},
		{"escape-link", func(t testing.TB) []byte {
			return spec(t).add(linkEntry("lnk", "bin\x1b]0;owned\x07")).build(t)
		}, ErrUnsafe, `target "bin\x1b]0;owned\a" contains control character U+001B`},
		{"c1-path", func(t testing.TB) []byte { return spec(t).add(fileEntry("a\u009b2Jb", 0o644, "x")).build(t) }, ErrUnsafe, "control character U+009B"},
		{"del-path", func(t testing.TB) []byte { return spec(t).add(fileEntry("a\x7fb", 0o644, "x")).build(t) }, ErrUnsafe, "control character U+007F"},
		{"bidi-path", func(t testing.TB) []byte { return spec(t).add(fileEntry("bin/gnp.\u202eexe", 0o644, "x")).build(t) }, ErrUnsafe, "bidirectional formatting character U+202E"},
		{"device-tar", func(t testing.TB) []byte {
			f, _ := fileEntry("null", 0o666, "")
			e := tarEntry{hdr: tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666, Format: tar.FormatPAX}}
			return spec(t).add(f, e).build(t)
		}, ErrUnsafe, "device"},
		{"setuid", func(t testing.TB) []byte { return spec(t).add(fileEntry("su", 0o4755, "x")).build(t) }, ErrUnsafe, "setuid"},
		{"reserved-meta", func(t testing.TB) []byte {
			return spec(t).add(dirEntry(".airseal", 0o755)).add(fileEntry(".airseal/header", 0o644, "x")).build(t)
		}, ErrUnsafe, "reserved"},
		{"case-collision", func(t testing.TB) []byte { return spec(t).add(fileEntry("version", 0o644, "x")).build(t) }, ErrUnsafe, "differ only in case"},
		{"bomb-size", func(t testing.TB) []byte {
			s := spec(t)
			s.tarExtra = make([]byte, 64<<20)
			return s.build(t)
		}, ErrUnsafe, "decompression bomb"},
		{"bomb-window", func(t testing.TB) []byte {
			s := spec(t)
			s.rawZstd = windowBomb(tarOf(t, s))
			return s.build(t)
		}, ErrUnsafe, "window"},
		{"entry-mismatch", func(t testing.TB) []byte {
			s := spec(t)
			s.entries[2].hdr.Name = "../VERSION"
			return s.build(t)
		}, ErrUnsafe, `payload entry "../VERSION" does not match manifest entry "VERSION"`},
		{"extra-entry", func(t testing.TB) []byte {
			s := spec(t)
			_, e := fileEntry("../../root/.ssh/authorized_keys", 0o600, "ssh-ed25519 AAAA")
			s.entries = append(s.entries, e)
			return s.build(t)
		}, ErrUnsafe, "not in the manifest"},
		{"content-mismatch", func(t testing.TB) []byte {
			s := spec(t)
			s.entries[2].body = []byte("9.9.9\n")
			return s.build(t)
		}, ErrDamaged, "VERSION: content SHA-256"},
		{"truncated", func(t testing.TB) []byte { b := multiChunk(t); return b[:len(b)-1000] }, ErrDamaged, "is damaged: truncated"},
		{"truncated-header", func(t testing.TB) []byte { return spec(t).build(t)[:300] }, ErrMalformed, "file truncated"},
		{"trailing-data", func(t testing.TB) []byte { return append(spec(t).build(t), "junk"...) }, ErrDamaged, "4 bytes after the last chunk"},
		{"flip-magic", func(t testing.TB) []byte { return flip(spec(t).build(t), 2) }, ErrMalformed, "magic"},
		{"flip-manifest", func(t testing.TB) []byte { return flip(spec(t).build(t), PreambleSize+40) }, ErrBadSignature, "signature does not verify"},
		{"flip-signature", func(t testing.TB) []byte { return flip(spec(t).build(t), 64+10) }, ErrBadSignature, "signature does not verify"},
		{"flip-keyid", func(t testing.TB) []byte {
			b := spec(t).build(t)
			b[16] = map[bool]byte{true: '0', false: '1'}[b[16] != '0']
			return b
		}, ErrUnknownKey, "is not trusted"},
		{"flip-payload-first", func(t testing.TB) []byte { b := multiChunk(t); return flip(b, payloadStart(b)+5) }, ErrDamaged, "chunk 1 of 5"},
		{"flip-payload-middle", func(t testing.TB) []byte { b := multiChunk(t); return flip(b, payloadStart(b)+2*MinChunkSize+77) }, ErrDamaged, "chunk 3 of 5"},
		{"flip-payload-last", func(t testing.TB) []byte { b := multiChunk(t); return flip(b, len(b)-3) }, ErrDamaged, "chunk 5 of 5"},
		{"wrong-key", func(t testing.TB) []byte {
			s := spec(t)
			s.key = testKey(t, 2)
			return s.build(t)
		}, ErrUnknownKey, "is not trusted"},
	}
}

func TestRefusals(t *testing.T) {
	ring := keys.NewKeyring(testKey(t, 1).Public())
	dir := t.TempDir()
	for _, c := range refusals() {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name+".bundle")
			if err := os.WriteFile(p, c.make(t), 0o644); err != nil {
				t.Fatal(err)
			}
			// verify refuses it (pkg/install's TestApplyRefusesCrafted
			// checks that apply does too, with the same error).
			b, err := Open([]string{p}, ring, nil)
			if err == nil {
				_, err = b.Verify(VerifyOptions{})
				b.Close()
			}
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("verify: got %v\nwant %v containing %q", err, c.want, c.msg)
			}
			if _, err := os.Lstat(filepath.Join(dir, "evil")); err == nil {
				t.Fatal("a file was written outside the target")
			}
		})
	}
}

// TestCraftedGolden keeps testdata/crafted (used by cmd/bundle's scripts)
// identical to what the refusal table produces. Run with -update to rewrite.
func TestCraftedGolden(t *testing.T) {
	dir := filepath.Join("testdata", "crafted")
	files := map[string][]byte{
		"test.pub":  testKey(t, 1).Public().MarshalPublic(),
		"other.pub": testKey(t, 2).Public().MarshalPublic(),
	}
	for _, c := range refusals() {
		if c.name == "flip-payload-first" || c.name == "flip-payload-last" {
			continue // 300 KiB each; flip-payload-middle stands for them
		}
		files[c.name+".bundle"] = c.make(t)
	}
	for _, v := range []string{"1.0.0", "2.0.0", "3.0.0"} {
		files["demo-"+v+".bundle"] = simpleSpec(t, v).build(t)
	}
	o := simpleSpec(t, "3.0.0")
	o.product = "other"
	files["other-3.0.0.bundle"] = o.build(t)
	d := simpleSpec(t, "1.5.0")
	d.mod = func(m *Manifest) { m.Downgrade = true }
	files["demo-1.5.0-downgrade.bundle"] = d.build(t)
	f := simpleSpec(t, "3.0.0")
	f.mod = func(m *Manifest) { m.FromVersions = []string{"2.5.0"} }
	files["demo-3.0.0-from-2.5.bundle"] = f.build(t)
	if *update {
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for n, b := range files {
			if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for n, b := range files {
		got, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("testdata/crafted/%s is stale or missing (%v); run go test ./pkg/bundle -run TestCraftedGolden -update", n, err)
		}
	}
}

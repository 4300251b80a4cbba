package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/airseal/airseal/pkg/keys"
)

func crafted(f *testing.F) [][]byte {
	paths, _ := filepath.Glob(filepath.Join("testdata", "crafted", "*.bundle"))
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzReadHeader feeds arbitrary bytes to the only parser that runs before
// authentication, and to the manifest parser. A header that parses must
// marshal back to the bytes it was read from.
func FuzzReadHeader(f *testing.F) {
	for _, b := range crafted(f) {
		// Only the header matters here; large inputs slow the fuzzer down.
		f.Add(b[:min(len(b), 8<<10)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHeader(bytes.NewReader(data))
		if err != nil {
			return
		}
		if h.Area != int64(len(h.Manifest)) {
			return // padding is not kept by Marshal
		}
		if got := h.Marshal(); !bytes.Equal(got, data[:len(got)]) {
			t.Fatalf("header does not round-trip")
		}
		m, err := ParseManifest(h.Manifest)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("ParseManifest accepted what Validate refuses: %v", err)
		}
	})
}

// FuzzReader signs whatever manifest and payload the fuzzer makes, with
// chunk hashes that match, so the code behind the signature check (limits,
// zstd, tar, entry matching) is exercised. Memory must stay bounded.
func FuzzReader(f *testing.F) {
	for _, b := range crafted(f) {
		h, err := ReadHeader(bytes.NewReader(b))
		if err != nil {
			continue
		}
		f.Add(h.Manifest, b[h.PayloadOffset():])
	}
	key, _ := keys.NewPrivateKey(bytes.Repeat([]byte{9}, 32))
	ring := keys.NewKeyring(key.Public())
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, manifest, payload []byte) {
		var m Manifest
		if json.Unmarshal(manifest, &m) != nil || len(payload) == 0 {
			return
		}
		// Make the chunk list match the payload so chunks verify.
		cs := m.Payload.ChunkSize
		if cs < MinChunkSize || cs > MaxChunkSize {
			cs = MinChunkSize
		}
		m.Payload.ChunkSize, m.Payload.Size, m.Payload.Chunks = cs, int64(len(payload)), nil
		for off := int64(0); off < int64(len(payload)); off += cs {
			sum := sha256.Sum256(payload[off:min(off+cs, int64(len(payload)))])
			m.Payload.Chunks = append(m.Payload.Chunks, hex.EncodeToString(sum[:]))
		}
		m.Payload.Volumes, m.Payload.ChunksPerVolume = 1, len(m.Payload.Chunks)
		mj, err := json.Marshal(&m)
		if err != nil {
			return
		}
		h := &Header{VolumeCount: 1, KeyID: key.ID(), Manifest: mj, Area: int64(len(mj))}
		h.Signature = key.Sign(signedMessage(mj))
		p := filepath.Join(dir, "f.bundle")
		if err := os.WriteFile(p, append(h.Marshal(), payload...), 0o644); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b, err := Open([]string{p}, ring, nil)
		if err != nil {
			return
		}
		defer b.Close()
		b.Verify(VerifyOptions{})
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
			t.Fatalf("verify allocated %d MiB", grew>>20)
		}
	})
}

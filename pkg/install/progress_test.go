package install

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/airseal/airseal/pkg/keys"
)

// Apply reports progress while a large file is unpacked, not only after
// each file, and the bytes reported only grow and end at the payload size.
func TestApplyProgressWithinAFile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	const blob = 8 << 20 // one 8 MiB file: many reads
	makeTree(t, src, "1.0.0", blob)
	key := testKey(t, 1)
	out := filepath.Join(dir, "r.bundle")
	pack(t, key, src, out, "1.0.0", nil)

	type call struct {
		files int
		bytes int64
	}
	var calls []call
	_, err := Apply([]string{out}, ApplyOptions{
		Target:   filepath.Join(dir, "target"),
		Keyring:  keys.NewKeyring(key.Public()),
		Progress: func(files int, n int64) { calls = append(calls, call{files, n}) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	filepath.Walk(src, func(_ string, fi os.FileInfo, _ error) error {
		if fi.Mode().IsRegular() {
			total += fi.Size()
		}
		return nil
	})
	inBlob := 0
	for i, c := range calls {
		if i > 0 && (c.bytes < calls[i-1].bytes || c.files < calls[i-1].files) {
			t.Fatalf("progress went backwards: %+v after %+v", c, calls[i-1])
		}
		if i > 0 && c.files == calls[i-1].files && c.bytes > calls[i-1].bytes {
			inBlob++ // bytes moved within one file
		}
	}
	if inBlob < 8 {
		t.Fatalf("only %d progress reports within a file for an 8 MiB file: %+v", inBlob, calls)
	}
	if last := calls[len(calls)-1]; last.bytes != total {
		t.Fatalf("last report %d bytes, payload has %d", last.bytes, total)
	}
}

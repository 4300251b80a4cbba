package console

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadList: the IP-list editor reads its files bounded; a FIFO planted
// in the directory is refused at once instead of hanging the page, an
// oversized file is refused rather than shown cut (saving a cut list would
// drop entries), and a missing file is an empty list.
func TestReadList(t *testing.T) {
	dir := t.TempDir()
	if s, err := readList(filepath.Join(dir, "whitelist.dat")); s != "" || err != nil {
		t.Fatalf("missing file: %q, %v", s, err)
	}
	ok := filepath.Join(dir, "ok.dat")
	if err := os.WriteFile(ok, []byte("10.0.0.0/8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := readList(ok); s != "10.0.0.0/8\n" || err != nil {
		t.Fatalf("list: %q, %v", s, err)
	}
	fifo := filepath.Join(dir, "fifo.dat")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readList(fifo); err == nil || !strings.Contains(err.Error(), "a FIFO") {
		t.Fatalf("FIFO: %v", err)
	}
	big := filepath.Join(dir, "big.dat")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 64<<20); err != nil {
		t.Fatal(err)
	}
	if _, err := readList(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversized: %v", err)
	}
}

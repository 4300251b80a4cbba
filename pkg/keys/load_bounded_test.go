package keys

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// LoadPublic and LoadPrivate are library entry points given paths a
// customer controls: a FIFO is refused without blocking, an oversized file
// without being read.
func TestLoadBounded(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "k.pub")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 300<<20); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPublic(fifo); err == nil || !strings.Contains(err.Error(), "a FIFO") {
		t.Errorf("LoadPublic(FIFO) = %v", err)
	}
	if _, err := LoadPrivate(fifo, []byte("x")); err == nil || !strings.Contains(err.Error(), "a FIFO") {
		t.Errorf("LoadPrivate(FIFO) = %v", err)
	}
	if _, err := LoadPublic(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("LoadPublic(big) = %v", err)
	}
	if _, err := LoadPrivate(big, []byte("x")); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("LoadPrivate(big) = %v", err)
	}
}

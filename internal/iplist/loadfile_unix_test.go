//go:build unix

package iplist

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLoadFileRefusesFIFO: a FIFO would block os.Open until a writer
// appears; LoadFile must refuse it at once.
func TestLoadFileRefusesFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "blacklist.dat")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	done := make(chan error, 1)
	go func() { _, err := LoadFile(p); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "FIFO") {
			t.Fatalf("FIFO: %v", err)
		}
	case <-time.After(5 * time.Second):
		// Unblock the opener so the goroutine ends.
		if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("LoadFile blocked on a FIFO")
	}
}

func TestLoadFileSymlinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.dat")
	if err := os.WriteFile(target, []byte("1.2.3.4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "blacklist.dat")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	l, err := LoadFile(link)
	if err != nil || !l.Contains(netip.MustParseAddr("1.2.3.4")) {
		t.Fatalf("symlink to a regular file: %v", err)
	}
	dangling := filepath.Join(dir, "whitelist.dat")
	if err := os.Symlink(filepath.Join(dir, "gone.dat"), dangling); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(dangling); err == nil || !strings.Contains(err.Error(), "missing file") {
		t.Fatalf("dangling symlink: %v", err)
	}
	dirLink := filepath.Join(dir, "d.dat")
	if err := os.Symlink(dir, dirLink); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(dirLink); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Fatalf("symlink to a directory: %v", err)
	}
}

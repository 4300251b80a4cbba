package fileio

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ReadRegular refuses what is not a regular file before reading, without
// blocking on a FIFO nobody writes to, and bounds regular files and stdin.
func TestReadRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	f, _ := os.Create(big)
	f.Truncate(1 << 30)
	f.Close()
	ok := filepath.Join(dir, "ok")
	os.WriteFile(ok, []byte("data"), 0o600)

	for _, tc := range []struct{ path, want string }{
		{"/dev/zero", "/dev/zero: a device, not a regular file: give a key file of at most 4 KiB"},
		{fifo, "fifo: a FIFO, not a regular file: give a key file of at most 4 KiB"},
		{dir, ": a directory, not a regular file"},
	} {
		done := make(chan error, 1)
		go func() { _, err := ReadRegular(nil, tc.path, 4<<10, "key"); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want %q", tc.path, err, tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: ReadRegular blocked", tc.path)
		}
	}
	var tl *TooLargeError
	if _, err := ReadRegular(nil, big, 4<<10, "key file"); !errors.As(err, &tl) || !strings.Contains(err.Error(), "key file is larger than its 4 KiB limit") {
		t.Errorf("big: %v", err)
	}
	if _, err := ReadRegular(strings.NewReader(strings.Repeat("x", 5000)), "-", 4<<10, "key"); !errors.As(err, &tl) || !strings.Contains(err.Error(), "standard input") {
		t.Errorf("stdin over the limit: %v", err)
	}
	if b, err := ReadRegular(nil, ok, 4<<10, "key"); err != nil || string(b) != "data" {
		t.Errorf("regular file: %q %v", b, err)
	}
	if b, err := ReadRegular(strings.NewReader("in"), "-", 4<<10, "key"); err != nil || string(b) != "in" {
		t.Errorf("stdin: %q %v", b, err)
	}
}

// An output path that is a directory is refused as such, with or without
// --force, before and while writing (not as "exists, use --force").
func TestOutputDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, force := range []bool{false, true} {
		if err := CheckOutput(dir, force); !errors.Is(err, ErrIsDir) || errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "give a file name for the output") {
			t.Errorf("CheckOutput(dir, force=%v): %v", force, err)
		}
		if err := Write(nil, dir, []byte("x"), 0o644, force); !errors.Is(err, ErrIsDir) {
			t.Errorf("Write(dir, force=%v): %v", force, err)
		}
	}
	if err := CheckOutput("", false); err != nil {
		t.Errorf("no output: %v", err)
	}
}

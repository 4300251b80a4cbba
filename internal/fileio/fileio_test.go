package fileio

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadBounds(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	os.WriteFile(small, []byte("hello"), 0o644)
	big := filepath.Join(dir, "big")
	os.WriteFile(big, bytes.Repeat([]byte("x"), 2048), 0o644)

	if b, err := Read(nil, small, 1024, "license file"); err != nil || string(b) != "hello" {
		t.Fatalf("small: %q %v", b, err)
	}
	var tl *TooLargeError
	if _, err := Read(nil, big, 1024, "license file"); !errors.As(err, &tl) || !strings.Contains(err.Error(), "1 KiB limit") {
		t.Fatalf("big: %v", err)
	}
	if _, err := Read(nil, dir, 1024, "license file"); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("dir: %v", err)
	}
	start := time.Now()
	if _, err := Read(nil, "/dev/zero", 1<<20, "public key"); !errors.As(err, &tl) {
		t.Fatalf("/dev/zero: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("/dev/zero was not refused promptly")
	}
	if _, err := Read(strings.NewReader(strings.Repeat("y", 11)), "-", 10, "token"); !errors.As(err, &tl) || !strings.Contains(err.Error(), "standard input") {
		t.Fatalf("stdin: %v", err)
	}
	if b, err := Read(strings.NewReader("abc"), "-", 10, "token"); err != nil || string(b) != "abc" {
		t.Fatalf("stdin ok: %q %v", b, err)
	}
}

func TestReadFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer w.Close()
		chunk := bytes.Repeat([]byte("z"), 4096)
		for i := 0; i < 1000; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}()
	var tl *TooLargeError
	if _, err := Read(nil, fifo, 8192, "license file"); !errors.As(err, &tl) {
		t.Fatalf("fifo: %v", err)
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out")
	if err := Write(nil, p, []byte("one"), 0o600, false); err != nil {
		t.Fatal(err)
	}
	if err := Write(nil, p, []byte("two"), 0o600, false); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("second write: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "one" {
		t.Fatalf("file changed: %q", b)
	}
	if err := CheckOutput(p, false); !errors.Is(err, ErrExists) {
		t.Fatalf("CheckOutput: %v", err)
	}
	if err := Write(nil, p, []byte("two"), 0o600, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Fatalf("force: %q", b)
	}
	var out bytes.Buffer
	if err := Write(&out, "-", []byte("stdout"), 0o600, false); err != nil || out.String() != "stdout" {
		t.Fatalf("stdout: %q %v", out.String(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "-")); err == nil {
		t.Fatal("a file named - was created")
	}
}

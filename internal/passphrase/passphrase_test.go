package passphrase

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFileThenEnv(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "pass")
	os.WriteFile(f, []byte("from file\nsecond line ignored\n"), 0o600)
	env := func(string) string { return "from env" }

	p, err := Source{File: f, Getenv: env}.Read("Passphrase", false)
	if err != nil || string(p) != "from file" {
		t.Fatalf("file: got %q, %v", p, err)
	}
	p, err = Source{Getenv: env}.Read("Passphrase", false)
	if err != nil || string(p) != "from env" {
		t.Fatalf("env: got %q, %v", p, err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	if _, err := (Source{File: empty, Getenv: env}).Read("Passphrase", false); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty file: %v", err)
	}
	if _, err := (Source{File: filepath.Join(dir, "missing")}).Read("Passphrase", false); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestNoSource(t *testing.T) {
	if _, err := os.Stat("/dev/tty"); err == nil {
		if f, err := os.Open("/dev/tty"); err == nil {
			f.Close()
			t.Skip("a terminal is attached; the prompt path would be taken")
		}
	}
	_, err := Source{Getenv: func(string) string { return "" }}.Read("Passphrase", false)
	if !errors.Is(err, ErrNone) {
		t.Fatalf("got %v, want ErrNone", err)
	}
}

// --passphrase-file is read bounded: /dev/zero, a FIFO nobody writes to, a
// directory and an oversized file are refused promptly, naming the limit.
func TestFileBounded(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	f, _ := os.Create(big)
	f.Truncate(1 << 30)
	f.Close()
	for path, want := range map[string]string{
		"/dev/zero": "a device, not a regular file: give a passphrase file of at most 4 KiB",
		fifo:        "a FIFO, not a regular file",
		dir:         "a directory, not a regular file",
		big:         "passphrase file is larger than its 4 KiB limit",
	} {
		done := make(chan error, 1)
		go func() { _, err := (Source{File: path}).Read("Passphrase", false); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "--passphrase-file: ") {
				t.Errorf("%s: %v, want %q", path, err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Read blocked", path)
		}
	}
}

package passphrase

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

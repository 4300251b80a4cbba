package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/pkg/keys"
)

// runIssue runs the issue command in this process and returns its exit
// code and stderr.
func runIssue(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	root := newRoot()
	var stdout, stderr bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetIn(strings.NewReader(""))
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	return cli.Main(root), stderr.String()
}

// Every file-taking flag reads through a size bound: /dev/zero, a FIFO
// that never ends, a directory and an oversized file are each refused
// promptly, with bounded memory, naming the limit (issue 13 item 1).
func TestBoundedInputs(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AIRSEAL_PASSPHRASE", "secret")
	k, err := keys.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := k.Seal([]byte("secret"), nil)
	os.WriteFile(filepath.Join(dir, "vendor.key"), sealed, 0o600)
	os.Mkdir(filepath.Join(dir, "adir"), 0o755)

	flags := []struct {
		flag  string
		limit int64
		args  func(path string) []string
	}{
		{"--key", fileio.LimitPrivateKey, func(p string) []string {
			return []string{"license", "--key", p, "--product", "P", "--customer", "C", "--unbound", "-o", "out.lic"}
		}},
		{"--passphrase-file", fileio.LimitPassphrase, func(p string) []string {
			return []string{"license", "--key", "vendor.key", "--passphrase-file", p, "--product", "P", "--customer", "C", "--unbound", "-o", "out.lic"}
		}},
		{"--request", fileio.LimitRequest, func(p string) []string {
			return []string{"license", "--key", "vendor.key", "--request", p, "-o", "out.lic"}
		}},
		{"--list", fileio.LimitRevocations, func(p string) []string {
			return []string{"revoke", "--key", "vendor.key", "--serial", "AAAA-0000-0000-0001", "--list", p, "-o", "out.list"}
		}},
	}
	for _, f := range flags {
		big := filepath.Join(dir, "big"+strings.TrimLeft(f.flag, "-"))
		bf, _ := os.Create(big)
		bf.Truncate(f.limit + 1)
		bf.Close()
		fifo := filepath.Join(dir, "fifo"+strings.TrimLeft(f.flag, "-"))
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		w, err := os.OpenFile(fifo, os.O_RDWR, 0) // does not block; keeps the FIFO open
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			chunk := bytes.Repeat([]byte("z"), 64<<10)
			for {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}()
		for _, in := range []struct{ name, path, want string }{
			{"/dev/zero", "/dev/zero", "a device, not a regular file: give a"},
			{"FIFO", fifo, "a FIFO, not a regular file: give a"},
			{"directory", filepath.Join(dir, "adir"), "a directory, not a regular file"},
			{"oversized file", big, "limit"},
		} {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			code, stderr := runIssue(t, dir, f.args(in.path)...)
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if code != cli.ExitError || !strings.Contains(stderr, in.want) || !strings.Contains(stderr, f.flag) {
				t.Errorf("%s %s: exit %d, stderr %q; want exit 1 naming the flag and %q", f.flag, in.name, code, stderr, in.want)
			}
			if took > 5*time.Second {
				t.Errorf("%s %s: took %v", f.flag, in.name, took)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(4*f.limit+(8<<20)) {
				t.Errorf("%s %s: allocated %d bytes for a %d-byte limit", f.flag, in.name, grew, f.limit)
			}
			if _, err := os.Stat(filepath.Join(dir, "out.lic")); err == nil {
				t.Fatalf("%s %s: an output was written", f.flag, in.name)
			}
		}
		w.Close()
	}
}

package tlsfiles

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/selfsigned"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "s.crt"), filepath.Join(dir, "s.key")
	if err := selfsigned.WriteFiles(crt, key, []string{"localhost"}, time.Hour, false); err != nil {
		t.Fatal(err)
	}
	if c, err := Load(crt, key); err != nil || len(c.Certificate) == 0 {
		t.Fatalf("Load: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 2<<20); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ cert, key, want string }{
		{fifo, key, "--tls-cert: " + fifo + ": a FIFO"},
		{dir, key, "--tls-cert: " + dir + ": a directory"},
		{crt, big, "--tls-key: " + big + ": PEM private key is larger than its 1 MiB limit"},
		{key, crt, "--tls-cert " + key + ", --tls-key " + crt},
	} {
		if _, err := Load(tc.cert, tc.key); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s, %s) = %v, want %q", tc.cert, tc.key, err, tc.want)
		}
	}
}

package install

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/bundle"
	"github.com/airseal/airseal/pkg/keys"
)

// Issue 9 item 3: an apply opens the target once under its lock and reads
// its trust store and installed header exactly once (the old apply read
// the trust store up to seven times and verified the bundle twice).
func TestApplyReadsTargetOnce(t *testing.T) {
	dir := t.TempDir()
	k1, k2, k3 := testKey(t, 1), testKey(t, 2), testKey(t, 3)
	ring := keys.NewKeyring(k1.Public())
	var bundles []string
	for i, v := range []string{"1.0.0", "2.0.0"} {
		src := filepath.Join(dir, "src-"+v)
		makeTree(t, src, v, (i+1)*10<<10)
		out := filepath.Join(dir, v+".bundle")
		pack(t, k1, src, out, v, func(o *bundle.PackOptions) {
			if v == "1.0.0" {
				// Give the trust store every kind of file.
				o.TrustKeys = []*keys.PublicKey{k2.Public()}
				o.RevokedKeys = []keys.ID{k3.ID()}
				o.RevokedLicenses = []string{"L-1"}
			}
		})
		bundles = append(bundles, out)
	}
	target := filepath.Join(dir, "target")
	if _, err := Apply(bundles[:1], ApplyOptions{Target: target, Keyring: ring}); err != nil {
		t.Fatal(err)
	}
	tg, err := OpenTarget(target, TargetOptions{Keyring: ring, Lock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	b, err := tg.Open(bundles[1:])
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	res, err := tg.Apply(b, ApplyOptions{})
	if err != nil || !res.Applied {
		t.Fatalf("apply: %v %+v", err, res)
	}
	want := []string{"current/.airseal/header", "trust/keys", "trust/keys/" + string(k2.ID()) + ".pub", "trust/revoked-keys", "trust/revoked-licenses"}
	reads := tg.Reads()
	for _, p := range want {
		if reads[p] != 1 {
			t.Errorf("%s read %d times, want exactly once (all reads: %v)", p, reads[p], reads)
		}
	}
	for p, n := range reads {
		if n != 1 {
			t.Errorf("%s read %d times during one apply", p, n)
		}
	}
	if len(reads) != len(want) {
		t.Errorf("apply read %v, want only %v", reads, want)
	}
}

// The files of a target are read bounded (issue 13 item 1): a FIFO in the
// trust store is refused at once (not waited on), an oversized list or
// header is refused after at most its limit.
func TestTargetReadsBounded(t *testing.T) {
	k := testKey(t, 1)
	ring := keys.NewKeyring(k.Public())
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	makeTree(t, src, "1.0.0", 1<<10)
	out := filepath.Join(dir, "a.bundle")
	pack(t, k, src, out, "1.0.0", nil)
	fresh := func(name string) string {
		target := filepath.Join(dir, name)
		if _, err := Apply([]string{out}, ApplyOptions{Target: target, Keyring: ring}); err != nil {
			t.Fatal(err)
		}
		return target
	}
	fifo := fresh("fifo")
	os.MkdirAll(filepath.Join(fifo, trustDir), 0o755)
	if err := syscall.Mkfifo(filepath.Join(fifo, trustDir, revokedKeys), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := OpenTarget(fifo, TargetOptions{Keyring: ring}); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "a FIFO, not a regular file") {
			t.Fatalf("FIFO revoked-keys: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OpenTarget waited on a FIFO")
	}
	big := fresh("big")
	os.MkdirAll(filepath.Join(big, trustDir), 0o755)
	if err := os.WriteFile(filepath.Join(big, trustDir, revokedSerials), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Truncate(filepath.Join(big, trustDir, revokedSerials), ListLimit+1)
	if _, err := OpenTarget(big, TargetOptions{Keyring: ring}); err == nil || !strings.Contains(err.Error(), "16 MiB limit") {
		t.Fatalf("oversized revoked-licenses: %v", err)
	}
	hdr := fresh("hdr")
	hp := filepath.Join(hdr, currentLink, headerFile)
	os.Truncate(hp, HeaderLimit+1)
	if _, err := Installed(hdr, ring); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("oversized header: %v", err)
	}
}

package bundle

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/airseal/airseal/pkg/keys"
)

// TestMain lets the test binary act as "bundle apply" for the crash test:
// with BUNDLE_TEST_CHILD=apply it applies $BUNDLE_TEST_FILE to
// $BUNDLE_TEST_TARGET and exits; AIRSEAL_BUNDLE_TEST_CRASH_AT makes it
// SIGKILL itself at that numbered step.
func TestMain(m *testing.M) {
	if os.Getenv("BUNDLE_TEST_CHILD") == "apply" {
		k, _ := keys.NewPrivateKey([]byte(strings.Repeat("\x01", 32)))
		_, err := Apply([]string{os.Getenv("BUNDLE_TEST_FILE")}, ApplyOptions{Target: os.Getenv("BUNDLE_TEST_TARGET"), Keyring: keys.NewKeyring(k.Public())})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs apply many times")
	}
	dir := t.TempDir()
	key := testKey(t, 1)
	ring := keys.NewKeyring(key.Public())
	v1, v2 := filepath.Join(dir, "v1"), filepath.Join(dir, "v2")
	makeTree(t, v1, "1.0.0", 200<<10)
	makeTree(t, v2, "2.0.0", 300<<10)
	// v2 also adds and removes files.
	os.MkdirAll(filepath.Join(v2, "lib/plugins"), 0o755)
	for i := range 6 {
		os.WriteFile(filepath.Join(v2, "lib/plugins", fmt.Sprintf("p%d.so", i)), []byte(strings.Repeat("plugin ", 1000*(i+1))), 0o644)
	}
	os.Remove(filepath.Join(v1, "empty"))
	b1, b2 := filepath.Join(dir, "v1.bundle"), filepath.Join(dir, "v2.bundle")
	pack(t, key, v1, b1, "1.0.0", nil)
	pack(t, key, v2, b2, "2.0.0", nil)
	d1, d2 := treeDigest(t, v1), treeDigest(t, v2)
	base := filepath.Join(dir, "base")
	if _, err := Apply([]string{b1}, ApplyOptions{Target: base, Keyring: ring}); err != nil {
		t.Fatal(err)
	}

	crashes, sawOld, sawNew := 0, 0, 0
	for n := 1; n < 200; n++ {
		target := filepath.Join(dir, fmt.Sprintf("t%d", n))
		if out, err := exec.Command("cp", "-a", base, target).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "BUNDLE_TEST_CHILD=apply", "BUNDLE_TEST_FILE="+b2, "BUNDLE_TEST_TARGET="+target,
			fmt.Sprintf("AIRSEAL_BUNDLE_TEST_CRASH_AT=%d", n))
		out, err := cmd.CombinedOutput()
		if err == nil {
			if got := treeDigest(t, filepath.Join(target, "current")); got != d2 {
				t.Fatalf("step %d: uninterrupted apply left\n%s", n, got)
			}
			break
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("step %d: apply failed without being killed: %v\n%s", n, err, out)
		}
		crashes++
		// The target holds exactly the old or the new release...
		got := treeDigest(t, filepath.Join(target, "current"))
		m, err := Installed(target, ring)
		if err != nil {
			t.Fatalf("step %d: after the crash: %v", n, err)
		}
		switch {
		case got == d1 && m.Version == "1.0.0":
			sawOld++
		case got == d2 && m.Version == "2.0.0":
			sawNew++
		default:
			t.Fatalf("step %d: after the crash current is neither release (manifest %s):\n%s", n, m.Version, got)
		}
		// ...and a new apply completes the update (or says it is done).
		_, err = Apply([]string{b2}, ApplyOptions{Target: target, Keyring: ring})
		if err != nil && !(m.Version == "2.0.0" && errors.Is(err, ErrVersion)) {
			t.Fatalf("step %d: apply after the crash: %v", n, err)
		}
		if got := treeDigest(t, filepath.Join(target, "current")); got != d2 {
			t.Fatalf("step %d: re-apply left\n%s", n, got)
		}
		os.RemoveAll(target)
	}
	t.Logf("killed apply at %d steps: %d left the old release, %d the new", crashes, sawOld, sawNew)
	if crashes < 20 || sawOld == 0 || sawNew == 0 {
		t.Fatalf("killed at %d points (old %d, new %d); want at least 20 with both outcomes", crashes, sawOld, sawNew)
	}
}

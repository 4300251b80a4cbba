package install

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/airseal/airseal/internal/installed"
	"github.com/airseal/airseal/pkg/bundle"
	"github.com/airseal/airseal/pkg/keys"
)

// TestMain lets the test binary act as "bundle apply" for the crash tests:
// with BUNDLE_TEST_CHILD=apply it applies $BUNDLE_TEST_FILE to
// $BUNDLE_TEST_TARGET trusting the keys of seeds $BUNDLE_TEST_SEEDS
// (comma-separated, default 1) and exits; BUNDLE_TEST_CRASH_AT=N makes it
// SIGKILL itself at the Nth numbered step. Only this test binary installs
// the crash hook: the package itself never reads the environment.
func TestMain(m *testing.M) {
	if os.Getenv("BUNDLE_TEST_CHILD") == "apply" {
		if at, _ := strconv.ParseInt(os.Getenv("BUNDLE_TEST_CRASH_AT"), 10, 64); at > 0 {
			var n atomic.Int64
			crashHook = func() {
				if n.Add(1) == at {
					syscall.Kill(os.Getpid(), syscall.SIGKILL)
					select {}
				}
			}
		}
		ring := keys.NewKeyring()
		seeds := os.Getenv("BUNDLE_TEST_SEEDS")
		if seeds == "" {
			seeds = "1"
		}
		for _, s := range strings.Split(seeds, ",") {
			n, _ := strconv.Atoi(s)
			k, _ := keys.NewPrivateKey([]byte(strings.Repeat(string(rune(n)), 32)))
			ring.Add(k.Public())
		}
		_, err := Apply([]string{os.Getenv("BUNDLE_TEST_FILE")}, ApplyOptions{Target: os.Getenv("BUNDLE_TEST_TARGET"), Keyring: ring})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashApply copies base to a new target and applies bundle there in a
// child process killed at step n. It returns the target and whether the
// apply was killed (false: it completed).
func crashApply(t *testing.T, base, bundle, seeds string, n int) (string, bool) {
	t.Helper()
	target := filepath.Join(filepath.Dir(base), fmt.Sprintf("%s-t%d", filepath.Base(base), n))
	if out, err := exec.Command("cp", "-a", base, target).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "BUNDLE_TEST_CHILD=apply", "BUNDLE_TEST_FILE="+bundle, "BUNDLE_TEST_TARGET="+target,
		"BUNDLE_TEST_SEEDS="+seeds, fmt.Sprintf("BUNDLE_TEST_CRASH_AT=%d", n))
	out, err := cmd.CombinedOutput()
	if err == nil {
		return target, false
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("step %d: apply failed without being killed: %v\n%s", n, err, out)
	}
	return target, true
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
		target, killed := crashApply(t, base, b2, "1", n)
		if !killed {
			if got := treeDigest(t, filepath.Join(target, "current")); got != d2 {
				t.Fatalf("step %d: uninterrupted apply left\n%s", n, got)
			}
			break
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

// Issue 8 item 2: a key-rotation bundle killed at every step never bricks
// the target. Key A signs 0.9.0 and 1.0.0, which introduces key B; 2.0.0 is
// signed by B, introduces C and revokes A and license L-1. After each crash
// status, verify --installed (internal/installed), rollback and a new apply
// work; the revocation of A holds as soon as 2.0.0 is current, and is
// recorded in the trust store by the next locked open so that no rollback
// can undo it.
func TestCrashSafetyKeyRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs apply many times")
	}
	dir := t.TempDir()
	kA, kB, kC := testKey(t, 1), testKey(t, 2), testKey(t, 3)
	ring := keys.NewKeyring(kA.Public()) // compiled in: A only
	trees := map[string]string{}
	bundles := map[string]string{}
	for i, v := range []string{"0.9.0", "1.0.0", "2.0.0"} {
		src := filepath.Join(dir, "src-"+v)
		makeTree(t, src, v, (i+1)*100<<10)
		trees[v] = treeDigest(t, src)
		bundles[v] = filepath.Join(dir, v+".bundle")
		switch v {
		case "0.9.0":
			pack(t, kA, src, bundles[v], v, nil)
		case "1.0.0":
			pack(t, kA, src, bundles[v], v, func(o *bundle.PackOptions) { o.TrustKeys = []*keys.PublicKey{kB.Public()} })
		case "2.0.0":
			pack(t, kB, src, bundles[v], v, func(o *bundle.PackOptions) {
				o.TrustKeys = []*keys.PublicKey{kC.Public()}
				o.RevokedKeys = []keys.ID{kA.ID()}
				o.RevokedLicenses = []string{"L-1"}
			})
		}
	}
	base := filepath.Join(dir, "base")
	for _, v := range []string{"0.9.0", "1.0.0"} {
		if _, err := Apply([]string{bundles[v]}, ApplyOptions{Target: base, Keyring: ring}); err != nil {
			t.Fatal(err)
		}
	}

	crashes, sawOld, sawNew := 0, 0, 0
	for n := 1; n < 200; n++ {
		target, killed := crashApply(t, base, bundles["2.0.0"], "1", n)
		if !killed {
			if m, err := Installed(target, ring); err != nil || m.Version != "2.0.0" {
				t.Fatalf("step %d: uninterrupted apply: %v %v", n, m, err)
			}
			break
		}
		crashes++
		// status: the current release verifies, and is one of the two.
		st, err := TargetStatus(target, ring)
		if err != nil {
			t.Fatalf("step %d: status after the crash: %v", n, err)
		}
		cur := st.Current.Version
		if got := treeDigest(t, filepath.Join(target, "current")); got != trees[cur] || cur != "1.0.0" && cur != "2.0.0" {
			t.Fatalf("step %d: current is %s with tree\n%s", n, cur, got)
		}
		// verify --installed reads the same release.
		rel, err := installed.Read(target, ring)
		if err != nil || rel.Version != cur {
			t.Fatalf("step %d: verify --installed: %v %v (status says %s)", n, rel, err, cur)
		}
		_, revoked, err := Trust(target, ring)
		if err != nil {
			t.Fatal(err)
		}
		if cur == "2.0.0" {
			sawNew++
			// A is revoked and C trusted from the switch on, recorded or
			// not; L-1 is revoked too.
			full, _, _ := Trust(target, ring)
			if _, trusted := full.Get(kC.ID()); !trusted {
				t.Fatalf("step %d: 2.0.0 is current but C is not trusted", n)
			}
			if !revoked[kA.ID()] || !slices.Contains(rel.RevokedLicenses, "L-1") {
				t.Fatalf("step %d: 2.0.0 is current but A revoked=%v, revoked licenses %q", n, revoked[kA.ID()], rel.RevokedLicenses)
			}
			// Rollback to 1.0.0 (signed by the revoked A) is refused
			// cleanly and records the revocation; the target stays usable.
			if _, err := Rollback(target, ring); !errors.Is(err, bundle.ErrUnknownKey) {
				t.Fatalf("step %d: rollback to a release of a revoked key: %v", n, err)
			}
			if lines, _ := RevokedLicenses(target); !slices.Contains(lines, "L-1") {
				t.Fatalf("step %d: the locked rollback did not record L-1: %q", n, lines)
			}
		} else {
			sawOld++
			// Nothing of 2.0.0's trust changes is in force before its
			// switch: A not revoked, C not trusted.
			full, _, _ := Trust(target, ring)
			if _, trusted := full.Get(kC.ID()); revoked[kA.ID()] || trusted {
				t.Fatalf("step %d: 1.0.0 is current but A revoked=%v, C trusted=%v", n, revoked[kA.ID()], trusted)
			}
			// Rollback to 0.9.0 works, and so does rolling forward again;
			// killed between its two renames, apply leaves previous =
			// current, and rollback says there is nothing to roll back to.
			cl, _ := os.Readlink(filepath.Join(target, currentLink))
			pl, _ := os.Readlink(filepath.Join(target, previousLink))
			if cl == pl {
				if _, err := Rollback(target, ring); !errors.Is(err, ErrNoPrevious) {
					t.Fatalf("step %d: rollback with previous = current: %v", n, err)
				}
			} else {
				for _, want := range []string{"0.9.0", "1.0.0"} {
					if m, err := Rollback(target, ring); err != nil || m.Version != want {
						t.Fatalf("step %d: rollback to %s: %v %v", n, want, m, err)
					}
				}
			}
		}
		// A new apply completes the update (or says it is done).
		_, err = Apply([]string{bundles["2.0.0"]}, ApplyOptions{Target: target, Keyring: ring})
		if err != nil && !(cur == "2.0.0" && errors.Is(err, ErrVersion)) {
			t.Fatalf("step %d: apply after the crash: %v", n, err)
		}
		st, err = TargetStatus(target, ring)
		if err != nil || st.Current.Version != "2.0.0" || treeDigest(t, filepath.Join(target, "current")) != trees["2.0.0"] {
			t.Fatalf("step %d: after re-apply: %+v %v", n, st, err)
		}
		if rel, err := installed.Read(target, ring); err != nil || rel.Version != "2.0.0" {
			t.Fatalf("step %d: verify --installed after re-apply: %v %v", n, rel, err)
		}
		// Every trust change is recorded now.
		data, _ := os.ReadFile(filepath.Join(target, trustDir, revokedKeys))
		if !strings.Contains(string(data), string(kA.ID())) {
			t.Fatalf("step %d: revoked-keys after re-apply: %q", n, data)
		}
		for _, k := range []*keys.PrivateKey{kB, kC} {
			if _, err := os.Stat(filepath.Join(target, trustDir, "keys", string(k.ID())+".pub")); err != nil {
				t.Fatalf("step %d: key %s not recorded: %v", n, k.ID(), err)
			}
		}
		os.RemoveAll(target)
	}
	t.Logf("killed the rotation apply at %d steps: %d left 1.0.0, %d 2.0.0", crashes, sawOld, sawNew)
	if crashes < 15 || sawOld == 0 || sawNew == 0 {
		t.Fatalf("killed at %d points (old %d, new %d); want at least 15 with both outcomes", crashes, sawOld, sawNew)
	}
}

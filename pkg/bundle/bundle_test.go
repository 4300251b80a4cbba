package bundle

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/keys"
)

// testKey derives a deterministic signing key; no private key file is ever
// committed.
func testKey(t testing.TB, n byte) *keys.PrivateKey {
	t.Helper()
	k, err := keys.NewPrivateKey(bytes.Repeat([]byte{n}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var testDate = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// makeTree writes a small release: text, a binary blob, an executable, a
// read-only file, a nested directory with an unusual mode and a symlink.
func makeTree(t testing.TB, dir, version string, blob int) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "share/doc"), 0o750))
	must(os.WriteFile(filepath.Join(dir, "VERSION"), []byte(version+"\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "bin/app"), []byte("#!/bin/sh\necho app "+version+"\n"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "share/doc/README"), bytes.Repeat([]byte("airseal release notes "+version+"\n"), 2000), 0o444))
	r := rand.New(rand.NewPCG(uint64(len(version)), uint64(blob)))
	b := make([]byte, blob)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	must(os.WriteFile(filepath.Join(dir, "share/data.bin"), b, 0o600))
	must(os.Symlink("bin/app", filepath.Join(dir, "app")))
	must(os.WriteFile(filepath.Join(dir, "empty"), nil, 0o640))
}

func pack(t testing.TB, key *keys.PrivateKey, src, out, version string, mod func(*PackOptions)) *PackResult {
	t.Helper()
	o := PackOptions{Key: key, Product: "demo", Version: version, ReleaseDate: testDate, Dir: src, Output: out}
	if mod != nil {
		mod(&o)
	}
	res, err := Pack(o)
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	return res
}

// treeDigest describes a tree (paths, types, modes, link targets, content
// hashes), ignoring the .airseal metadata directory.
func treeDigest(t testing.TB, dir string) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == MetaDir {
			return fs.SkipDir
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v", rel, fi.Mode())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			fmt.Fprintf(&b, " -> %s", l)
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x", sha256.Sum256(data))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	key := testKey(t, 1)
	ring := keys.NewKeyring(key.Public())
	v1, v2 := filepath.Join(dir, "v1"), filepath.Join(dir, "v2")
	makeTree(t, v1, "1.0.0", 3<<20)
	makeTree(t, v2, "1.1.0", 5<<20)
	b1, b2 := filepath.Join(dir, "v1.bundle"), filepath.Join(dir, "v2.bundle")
	pack(t, key, v1, b1, "1.0.0", nil)
	res := pack(t, key, v2, b2, "1.1.0", func(o *PackOptions) { o.FromVersions = []string{"1.0.0"} })
	if len(res.Volumes) != 1 || len(res.Manifest.Payload.Chunks) < 2 {
		t.Fatalf("want one volume with several chunks, got %d volumes, %d chunks", len(res.Volumes), len(res.Manifest.Payload.Chunks))
	}

	b, err := Open([]string{b2}, ring, nil)
	if err != nil {
		t.Fatal(err)
	}
	vr, err := b.Verify(VerifyOptions{})
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !vr.Complete || vr.FilesChecked != len(res.Manifest.Files) || vr.ChunksChecked != len(res.Manifest.Payload.Chunks) {
		t.Fatalf("verify result %+v", vr)
	}

	target := filepath.Join(dir, "target")
	if _, err := Installed(target, ring); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Installed on empty target: %v, want ErrNotInstalled", err)
	}
	if _, err := Apply([]string{b1}, ApplyOptions{Target: target, Keyring: ring}); err != nil {
		t.Fatal(err)
	}
	if got, want := treeDigest(t, filepath.Join(target, "current")), treeDigest(t, v1); got != want {
		t.Fatalf("after apply v1:\n%s\nwant\n%s", got, want)
	}
	plan, err := Apply([]string{b2}, ApplyOptions{Target: target, Keyring: ring, Plan: true})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Applied || plan.Plan.From != "1.0.0" || plan.Plan.To != "1.1.0" || len(plan.Plan.Changes) == 0 {
		t.Fatalf("plan %+v", plan.Plan)
	}
	if got := treeDigest(t, filepath.Join(target, "current")); got != treeDigest(t, v1) {
		t.Fatal("--plan changed the target")
	}
	if _, err := Apply([]string{b2}, ApplyOptions{Target: target, Keyring: ring}); err != nil {
		t.Fatal(err)
	}
	if got, want := treeDigest(t, filepath.Join(target, "current")), treeDigest(t, v2); got != want {
		t.Fatalf("after apply v2:\n%s\nwant\n%s", got, want)
	}
	m, err := Installed(target, ring)
	if err != nil || m.Version != "1.1.0" || !m.ReleaseDate.Equal(testDate) {
		t.Fatalf("Installed = %v, %v", m, err)
	}
	st, err := TargetStatus(target, ring)
	if err != nil {
		t.Fatal(err)
	}
	if st.Current.Version != "1.1.0" || st.Previous == nil || st.Previous.Version != "1.0.0" {
		t.Fatalf("status %+v", st)
	}
	if _, err := Rollback(target, ring); err != nil {
		t.Fatal(err)
	}
	if got, want := treeDigest(t, filepath.Join(target, "current")), treeDigest(t, v1); got != want {
		t.Fatalf("after rollback:\n%s\nwant\n%s", got, want)
	}
	if m, _ := Installed(target, ring); m.Version != "1.0.0" {
		t.Fatalf("after rollback installed %s", m.Version)
	}
	// The rolled-back release can be applied again.
	if _, err := Apply([]string{b2}, ApplyOptions{Target: target, Keyring: ring}); err != nil {
		t.Fatal(err)
	}
	if m, _ := Installed(target, ring); m.Version != "1.1.0" {
		t.Fatalf("re-apply installed %s", m.Version)
	}
}

func TestPackReproducible(t *testing.T) {
	dir := t.TempDir()
	key := testKey(t, 1)
	src := filepath.Join(dir, "src")
	makeTree(t, src, "2.0.0", 3<<20)
	a, b := filepath.Join(dir, "a.bundle"), filepath.Join(dir, "b.bundle")
	pack(t, key, src, a, "2.0.0", func(o *PackOptions) { o.Concurrency = 1 })
	pack(t, key, src, b, "2.0.0", func(o *PackOptions) { o.Concurrency = 3 })
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) {
		t.Fatal("packing the same tree twice gave different bytes")
	}
}

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.0.0", "1.0.0", 0}, {"1.0", "1.0.0", 0}, {"1.10.0", "1.9.9", 1}, {"1.0.0-rc1", "1.0.0", -1},
		{"1.0.0-rc2", "1.0.0-rc10", 1}, {"1.0.0-1", "1.0.0-alpha", -1}, {"2.0.0+build5", "2.0.0", 0},
		{"0.9", "1.0", -1}, {"1.0.01", "1.0.1", 0},
	} {
		if got := CompareVersions(c.a, c.b); got != c.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := CompareVersions(c.b, c.a); got != -c.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
}

func TestHooks(t *testing.T) {
	dir := t.TempDir()
	key := testKey(t, 1)
	ring := keys.NewKeyring(key.Public())
	mk := func(version, script string, phase string) string {
		src := filepath.Join(dir, "src-"+version)
		os.MkdirAll(src, 0o755)
		os.WriteFile(filepath.Join(src, "hook.sh"), []byte("#!/bin/sh\n"+script+"\n"), 0o755)
		out := filepath.Join(dir, version+".bundle")
		pack(t, key, src, out, version, func(o *PackOptions) {
			o.Hooks = []Hook{{Phase: phase, Path: "hook.sh", Timeout: 1}}
		})
		return out
	}
	target := filepath.Join(dir, "target")
	var log bytes.Buffer
	if _, err := Apply([]string{mk("1.0.0", `echo "pre $AIRSEAL_VERSION in $PWD"`, PhasePreSwitch)}, ApplyOptions{Target: target, Keyring: ring, HookOutput: &log}); err != nil {
		t.Fatal(err)
	}
	if want := "pre 1.0.0 in " + filepath.Join(target, "releases", "1.0.0"); !strings.Contains(log.String(), want) {
		t.Fatalf("hook output %q, want %q", log.String(), want)
	}
	// A failing pre-switch hook: nothing is switched and the staged release is gone.
	_, err := Apply([]string{mk("2.0.0", "exit 3", PhasePreSwitch)}, ApplyOptions{Target: target, Keyring: ring, HookOutput: &log})
	if !errors.Is(err, ErrHook) || !strings.Contains(err.Error(), "pre-switch hook hook.sh: exit status 3") {
		t.Fatalf("failing hook: %v", err)
	}
	if m, _ := Installed(target, ring); m.Version != "1.0.0" {
		t.Fatalf("failing pre-switch hook switched to %s", m.Version)
	}
	if _, err := os.Stat(filepath.Join(target, "releases", "2.0.0")); err == nil {
		t.Fatal("release of a failed hook left behind")
	}
	// A hook that hangs is killed at its timeout; --no-hooks skips it.
	_, err = Apply([]string{mk("3.0.0", "sleep 30", PhasePreSwitch)}, ApplyOptions{Target: target, Keyring: ring, HookOutput: &log})
	if !errors.Is(err, ErrHook) || !strings.Contains(err.Error(), "timed out after 1 s") {
		t.Fatalf("hanging hook: %v", err)
	}
	if _, err := Apply([]string{filepath.Join(dir, "3.0.0.bundle")}, ApplyOptions{Target: target, Keyring: ring, NoHooks: true}); err != nil {
		t.Fatal(err)
	}
	// A failing post-switch hook is reported; the release stays current.
	res, err := Apply([]string{mk("4.0.0", "exit 1", PhasePostSwitch)}, ApplyOptions{Target: target, Keyring: ring, HookOutput: &log})
	if err != nil || res.PostHookErr == nil || !errors.Is(res.PostHookErr, ErrHook) || !strings.Contains(res.PostHookError, "post-switch hook hook.sh: exit status 1") {
		t.Fatalf("post-switch: %v %v", err, res)
	}
	if m, _ := Installed(target, ring); m.Version != "4.0.0" {
		t.Fatalf("after failing post-switch hook: %s", m.Version)
	}
}

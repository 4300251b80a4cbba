package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/pkg/keys"
)

// TestInstallAndUpdateScripts runs install.sh and update.sh end to end in a
// temporary prefix, every run inside a network namespace with no interfaces
// (unshare -n), to show they need no network.
func TestInstallAndUpdateScripts(t *testing.T) {
	if os.Getenv("AIRSEAL_INTEGRATION") != "1" {
		t.Skip("slow (~18 s, builds the bundle binary): set AIRSEAL_INTEGRATION=1 (test.sh's integration step does)")
	}
	if out, err := exec.Command("unshare", "-n", "true").CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: unshare -n is not permitted here (%v: %s); run as root or with user namespaces to test install.sh/update.sh offline", err, bytes.TrimSpace(out))
	}
	dir := t.TempDir()
	rel := filepath.Join(dir, "airseal-9.9.9")
	if err := os.MkdirAll(filepath.Join(rel, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(rel, "bin", "bundle"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, s := range []string{"install.sh", "update.sh"} {
		data, err := os.ReadFile(filepath.Join("..", "..", s))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(rel, s), data, 0o755)
	}
	sums := func(d string) {
		cmd := exec.Command("sh", "-c", "sha256sum bin/* install.sh update.sh > SHA256SUMS")
		cmd.Dir = d
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sha256sum: %v %s", err, out)
		}
	}
	sums(rel)

	// offline runs a shell command line in a new network namespace and
	// returns its exit code and combined output.
	offline := func(script string, env ...string) (int, string) {
		t.Helper()
		cmd := exec.Command("unshare", "-n", "sh", "-c", script)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	mustOK := func(code int, out string) string {
		t.Helper()
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		return out
	}
	treeSum := func(d string) string {
		var b strings.Builder
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, _ := os.Lstat(p)
			fmt.Fprintf(&b, "%s %v", strings.TrimPrefix(p, d), fi.Mode())
			if fi.Mode().IsRegular() {
				data, _ := os.ReadFile(p)
				fmt.Fprintf(&b, " %x", sha256.Sum256(data))
			}
			b.WriteString("\n")
			return nil
		})
		return b.String()
	}

	prefix := filepath.Join(dir, "prefix")
	os.MkdirAll(prefix, 0o755)
	os.WriteFile(filepath.Join(prefix, "mine.txt"), []byte("not airseal's"), 0o644)
	out := mustOK(offline(rel + "/install.sh --prefix " + prefix))
	if !strings.Contains(out, "installed bin/bundle") {
		t.Fatalf("install output:\n%s", out)
	}
	for _, f := range []string{"bin/bundle", "install.sh", "update.sh", "SHA256SUMS", ".airseal-installed"} {
		fi, err := os.Stat(filepath.Join(prefix, f))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".sh") || f == "bin/bundle" {
			if fi.Mode().Perm() != 0o755 {
				t.Fatalf("%s mode %v", f, fi.Mode())
			}
		}
	}
	first := treeSum(prefix)
	mustOK(offline(rel + "/install.sh --prefix " + prefix))
	if again := treeSum(prefix); again != first {
		t.Fatalf("second install changed the prefix:\n%s\nvs\n%s", again, first)
	}

	// A damaged or unlisted file stops the install before anything is copied.
	bad := filepath.Join(dir, "bad")
	exec.Command("cp", "-a", rel, bad).Run()
	f, _ := os.OpenFile(filepath.Join(bad, "bin", "bundle"), os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{0})
	f.Close()
	code, out := offline(bad + "/install.sh --prefix " + filepath.Join(dir, "p2"))
	if code != 3 || !strings.Contains(out, "install.sh: error: checksum mismatch") {
		t.Fatalf("damaged release: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "p2", "bin")); err == nil {
		t.Fatal("damaged release was partly installed")
	}
	extra := filepath.Join(dir, "extra")
	exec.Command("cp", "-a", rel, extra).Run()
	os.WriteFile(filepath.Join(extra, "bin", "evil"), []byte("#!/bin/sh\n"), 0o755)
	code, out = offline(extra + "/install.sh --prefix " + filepath.Join(dir, "p3"))
	if code != 3 || !strings.Contains(out, "bin/evil is not listed in SHA256SUMS") {
		t.Fatalf("unlisted file: exit %d\n%s", code, out)
	}

	// update.sh with bundles packed by the installed binary.
	k := testKey(1)
	sealed, _ := k.Seal([]byte("pw"), &keys.SealOptions{LogN: 10})
	os.WriteFile(filepath.Join(dir, "vendor.key"), sealed, 0o600)
	os.WriteFile(filepath.Join(dir, "vendor.pub"), k.Public().MarshalPublic(), 0o644)
	for _, v := range []string{"1.0.0", "2.0.0"} {
		src := filepath.Join(dir, "app-"+v)
		os.MkdirAll(src, 0o755)
		os.WriteFile(filepath.Join(src, "VERSION"), []byte(v+"\n"), 0o644)
		mustOK(offline(fmt.Sprintf("%s/bin/bundle pack --key %s/vendor.key --product app --version %s --release-date 2026-01-01 --from-dir %s -o %s/app-%s.bundle",
			prefix, dir, v, src, dir, v), "AIRSEAL_PASSPHRASE=pw"))
	}
	target := filepath.Join(dir, "target")
	update := fmt.Sprintf("%s/update.sh --target %s --pub %s/vendor.pub ", prefix, target, dir)
	out = mustOK(offline(update + dir + "/app-1.0.0.bundle"))
	if v, _ := os.ReadFile(filepath.Join(target, "current", "VERSION")); string(v) != "1.0.0\n" {
		t.Fatalf("after update.sh v1: %q\n%s", v, out)
	}
	// A damaged bundle: the reason, the code, and the release untouched.
	data, _ := os.ReadFile(filepath.Join(dir, "app-2.0.0.bundle"))
	damaged := bytes.Clone(data)
	damaged[len(damaged)-5] ^= 0xff
	os.WriteFile(filepath.Join(dir, "damaged.bundle"), damaged, 0o644)
	code, out = offline(update + dir + "/damaged.bundle")
	if code != cli.ExitDamaged || !strings.Contains(out, "is damaged: SHA-256 mismatch") || !strings.Contains(out, "FAILED: verify exited 20") {
		t.Fatalf("damaged bundle: exit %d\n%s", code, out)
	}
	if v, _ := os.ReadFile(filepath.Join(target, "current", "VERSION")); string(v) != "1.0.0\n" {
		t.Fatalf("damaged update changed the release: %q", v)
	}
	code, out = offline(update + dir + "/app-1.0.0.bundle")
	if code != cli.ExitVersionRefused || !strings.Contains(out, "FAILED: apply exited 23; the installed release in "+target+" is unchanged") {
		t.Fatalf("same version: exit %d\n%s", code, out)
	}
	mustOK(offline(update + dir + "/app-2.0.0.bundle"))
	if v, _ := os.ReadFile(filepath.Join(target, "current", "VERSION")); string(v) != "2.0.0\n" {
		t.Fatalf("after update.sh v2: %q", v)
	}
	logData, _ := os.ReadFile(filepath.Join(target, "update.log"))
	for _, want := range []string{"verify " + dir + "/app-2.0.0.bundle", "apply " + dir + "/app-2.0.0.bundle", "done: releases/2.0.0 is current", "FAILED: verify exited 20"} {
		if !strings.Contains(string(logData), want) {
			t.Fatalf("update.log lacks %q:\n%s", want, logData)
		}
	}

	// --uninstall removes exactly what was installed.
	mustOK(offline(prefix + "/install.sh --uninstall --prefix " + prefix))
	left, _ := os.ReadDir(prefix)
	if len(left) != 1 || left[0].Name() != "mine.txt" {
		t.Fatalf("after --uninstall the prefix holds %v", left)
	}
	if _, err := os.Stat(filepath.Join(prefix, ".airseal-installed")); err == nil {
		t.Fatal("install record left behind")
	}
}

// TestReleaseScript runs release.sh twice into temporary directories and
// checks that the archives are listed correctly in SHA256SUMS, that the two
// runs are byte-identical (reproducible build), that the tarball holds the
// release with owner 0 and the SOURCE_DATE_EPOCH time, and that the bundle
// verifies with the signing key and carries that date.
func TestReleaseScript(t *testing.T) {
	if os.Getenv("AIRSEAL_INTEGRATION") != "1" {
		t.Skip("slow (~55 s, builds every command twice): set AIRSEAL_INTEGRATION=1 (test.sh's integration step does)")
	}
	dir := t.TempDir()
	k := testKey(1)
	sealed, err := k.Seal([]byte("pw"), &keys.SealOptions{LogN: 10})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "vendor.key"), sealed, 0o600)
	os.WriteFile(filepath.Join(dir, "vendor.pub"), k.Public().MarshalPublic(), 0o644)
	const epoch = "1767225600" // 2026-01-01T00:00:00Z
	run := func(out string, args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command("../../release.sh", append([]string{"--version", "9.9.9", "--out", out}, args...)...)
		cmd.Env = append(os.Environ(), "AIRSEAL_PASSPHRASE=pw", "SOURCE_DATE_EPOCH="+epoch)
		o, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(o)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(o)
	}
	if code, out := run(filepath.Join(dir, "x")); code != 2 || !strings.Contains(out, "--key NAME.key is required") {
		t.Fatalf("release.sh without --key: exit %d\n%s", code, out)
	}
	var sums []string
	for _, d := range []string{"a", "b"} {
		out := filepath.Join(dir, d)
		if code, o := run(out, "--key", filepath.Join(dir, "vendor.key")); code != 0 {
			t.Fatalf("release.sh: exit %d\n%s", code, o)
		}
		data, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, string(data))
		check := exec.Command("sha256sum", "--check", "--strict", "SHA256SUMS")
		check.Dir = out
		if o, err := check.CombinedOutput(); err != nil {
			t.Fatalf("sha256sum -c in %s: %v\n%s", out, err, o)
		}
	}
	if sums[0] != sums[1] {
		t.Fatalf("two release.sh runs differ:\n%s\nvs\n%s", sums[0], sums[1])
	}
	for _, want := range []string{"airseal-9.9.9-", ".tar.gz\n", "  airseal-9.9.9.bundle\n"} {
		if !strings.Contains(sums[0], want) {
			t.Fatalf("SHA256SUMS lacks %q:\n%s", want, sums[0])
		}
	}
	a := filepath.Join(dir, "a")
	tarballs, _ := filepath.Glob(filepath.Join(a, "airseal-9.9.9-*.tar.gz"))
	if len(tarballs) != 1 {
		t.Fatalf("tarballs: %v", tarballs)
	}
	list, err := exec.Command("tar", "--numeric-owner", "--full-time", "-tvzf", tarballs[0]).CombinedOutput()
	if err != nil {
		t.Fatalf("tar -t: %v\n%s", err, list)
	}
	for _, want := range []string{"airseal-9.9.9/bin/bundle", "airseal-9.9.9/install.sh", "airseal-9.9.9/update.sh", "airseal-9.9.9/SHA256SUMS"} {
		if !strings.Contains(string(list), want) {
			t.Fatalf("tarball lacks %s:\n%s", want, list)
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		if !strings.Contains(l, " 0/0 ") || !strings.Contains(l, "2026-01-01 00:00:00") {
			t.Fatalf("tarball entry not owned by 0/0 at SOURCE_DATE_EPOCH: %s", l)
		}
	}
	bin := filepath.Join(a, "airseal-9.9.9", "bin", "bundle")
	o, err := exec.Command(bin, "verify", "--pub", filepath.Join(dir, "vendor.pub"), filepath.Join(a, "airseal-9.9.9.bundle")).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(o), "OK airseal 9.9.9 ") {
		t.Fatalf("bundle verify of the release bundle: %v\n%s", err, o)
	}
	o, err = exec.Command(bin, "inspect", "--pub", filepath.Join(dir, "vendor.pub"), filepath.Join(a, "airseal-9.9.9.bundle")).CombinedOutput()
	if err != nil || !strings.Contains(string(o), "release date: 2026-01-01T00:00:00Z") {
		t.Fatalf("bundle inspect of the release bundle: %v\n%s", err, o)
	}
}

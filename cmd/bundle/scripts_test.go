package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/pkg/keys"
)

// TestInstallAndUpdateScripts runs install.sh and update.sh end to end in a
// temporary prefix, every run inside a network namespace with no interfaces
// (unshare -n), to show they need no network.
func TestInstallAndUpdateScripts(t *testing.T) {
	t.Parallel()
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
	if code != cli.ExitVersionRefused || !strings.Contains(out, "FAILED: apply exited 23 (not newer than installed, or not an allowed from-version); the installed release in "+target+" is unchanged") {
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
// release with owner 0 and the SOURCE_DATE_EPOCH time, man pages and
// completions, that the bundle verifies with the signing key and carries
// that date, and that the Debian package passes lintian, installs, runs and
// purges cleanly (checkDeb). A failed run leaves no partial --out.
func TestReleaseScript(t *testing.T) {
	t.Parallel()
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
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o755)
	var env []string
	run := func(out string, args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command("../../release.sh", append([]string{"--version", "9.9.9", "--out", out}, args...)...)
		cmd.Env = append(os.Environ(), "AIRSEAL_PASSPHRASE=pw", "SOURCE_DATE_EPOCH="+epoch, "TMPDIR="+tmp)
		cmd.Env = append(cmd.Env, env...)
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
	if code, out := run(filepath.Join(dir, "x"), "--version", "1_0", "--no-bundle"); code != 2 || !strings.Contains(out, "--version 1_0 is not a Debian package version") {
		t.Fatalf("release.sh with a version dpkg refuses: exit %d\n%s", code, out)
	}
	// A failure after the build started leaves neither a partial --out nor
	// temporary files. (The go build fails at once on an unusable cache:
	// a failure costs no full build here. --out is written only by the
	// final move, so any earlier failure leaves it untouched.)
	env = []string{"GOCACHE=" + filepath.Join(dir, "vendor.pub", "cache")}
	failed := filepath.Join(dir, "failed", "dist")
	if code, out := run(failed, "--key", filepath.Join(dir, "vendor.key")); code == 0 || !strings.Contains(out, "release.sh: building") {
		t.Fatalf("release.sh with a failing build: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "failed")); !os.IsNotExist(err) {
		t.Fatalf("a failed release.sh left %s behind (%v)", failed, err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("a failed release.sh left temporary files: %v", left)
	}
	env = nil
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
	debName := "airseal_9.9.9_" + debArch(runtime.GOARCH) + ".deb"
	for _, want := range []string{"airseal-9.9.9-", ".tar.gz\n", "  airseal-9.9.9.bundle\n", "  " + debName + "\n"} {
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
	wantFiles := []string{"airseal-9.9.9/install.sh", "airseal-9.9.9/update.sh", "airseal-9.9.9/SHA256SUMS"}
	for _, c := range releaseCommands(t) {
		wantFiles = append(wantFiles, "airseal-9.9.9/bin/"+c,
			"airseal-9.9.9/share/man/man1/airseal-"+c+".1.gz",
			"airseal-9.9.9/share/bash-completion/completions/airseal-"+c,
			"airseal-9.9.9/share/zsh/vendor-completions/_airseal-"+c,
			"airseal-9.9.9/share/fish/vendor_completions.d/airseal-"+c+".fish")
	}
	for _, want := range wantFiles {
		if !strings.Contains(string(list), want+"\n") {
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
	checkDeb(t, filepath.Join(a, debName), releaseCommands(t))
}

// releaseCommands lists the programs release.sh builds: every cmd/NAME.
func releaseCommands(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

// debArch is Debian's name for a GOARCH, as release.sh maps it.
func debArch(goarch string) string {
	switch goarch {
	case "386":
		return "i386"
	case "arm":
		return "armhf"
	case "ppc64le":
		return "ppc64el"
	}
	return goarch
}

// checkDeb checks the Debian package release.sh built: its file list,
// lintian without errors or warnings, and, as root on a machine where the
// package is not installed, that dpkg -i installs it, the installed
// programs run, systemd-analyze accepts both units (airseal-token and
// airseal-license-server; each rated at most 2.0 exposure, the rating
// logged), and dpkg --purge leaves nothing behind.
func checkDeb(t *testing.T, deb string, cmds []string) {
	t.Helper()
	root := os.Geteuid() == 0
	need := func(tool string) {
		t.Helper()
		if _, err := exec.LookPath(tool); err != nil {
			if root {
				t.Fatalf("%s not installed: test.sh's tools step installs it when run as root", tool)
			}
			t.Skipf("SKIPPED the Debian package checks: %s not installed (test.sh installs it when run as root)", tool)
		}
	}
	need("dpkg-deb")
	list, err := exec.Command("dpkg-deb", "--contents", deb).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb --contents: %v\n%s", err, list)
	}
	var files []string // paths the package installs, without the leading "."
	for _, l := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 || f[1] != "root/root" {
			t.Fatalf("package entry not owned by root: %s", l)
		}
		files = append(files, strings.TrimPrefix(f[5], "."))
	}
	have := strings.Join(files, "\n") + "\n"
	want := []string{"/lib/systemd/system/airseal-token.service", "/lib/systemd/system/airseal-license-server.service",
		"/etc/default/airseal-license-server", "/opt/airseal/update.sh",
		"/usr/share/doc/airseal/copyright", "/usr/share/doc/airseal/changelog.gz"}
	for _, c := range cmds {
		want = append(want, "/opt/airseal/bin/"+c, "/usr/bin/airseal-"+c, "/usr/share/man/man1/airseal-"+c+".1.gz",
			"/usr/share/bash-completion/completions/airseal-"+c, "/usr/share/zsh/vendor-completions/_airseal-"+c,
			"/usr/share/fish/vendor_completions.d/airseal-"+c+".fish")
	}
	for _, w := range want {
		if !strings.Contains(have, w+"\n") {
			t.Fatalf("package lacks %s:\n%s", w, list)
		}
	}
	if !strings.Contains(string(list), "/usr/bin/airseal-verify -> /opt/airseal/bin/verify") {
		t.Fatalf("package lacks the /usr/bin/airseal-verify link:\n%s", list)
	}
	if o, err := exec.Command("dpkg-deb", "--info", deb, "conffiles").CombinedOutput(); err != nil || string(o) != "/etc/default/airseal-license-server\n" {
		t.Fatalf("conffiles: want /etc/default/airseal-license-server only: %v %q", err, o)
	}

	need("lintian")
	lint := exec.Command("lintian", "--fail-on", "error,warning", deb)
	o, err := lint.CombinedOutput()
	for _, l := range strings.Split(string(o), "\n") {
		if strings.HasPrefix(l, "E: ") || strings.HasPrefix(l, "W: ") {
			err = fmt.Errorf("lintian: %s", l)
		}
	}
	if err != nil {
		t.Fatalf("lintian: %v\n%s", err, o)
	}

	if !root {
		t.Skip("SKIPPED dpkg -i / --purge of the package: needs root (CI runs as root)")
	}
	if o, err := exec.Command("dpkg-query", "-W", "-f", "${Status}", "airseal").Output(); err == nil && strings.Contains(string(o), "installed") {
		t.Skipf("SKIPPED dpkg -i / --purge: airseal is installed on this machine (%s); not touching it", o)
	}
	need("systemd-analyze")
	before := systemSnapshot(t)
	dpkg := func(args ...string) string {
		t.Helper()
		o, err := exec.Command("dpkg", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, o)
		}
		return string(o)
	}
	purged := false
	t.Cleanup(func() {
		if !purged {
			exec.Command("dpkg", "--purge", "airseal").Run()
		}
	})
	dpkg("--install", deb)
	for _, c := range cmds {
		o, err := exec.Command("/usr/bin/airseal-"+c, "--version").CombinedOutput()
		if err != nil || string(o) != c+" 9.9.9\n" {
			t.Fatalf("installed airseal-%s --version: %v %q", c, err, o)
		}
	}
	for _, u := range []string{"_airseal", "_airseal-license"} {
		if o, err := exec.Command("getent", "passwd", u).Output(); err != nil || !strings.HasPrefix(string(o), u+":") {
			t.Fatalf("the %s system user was not created: %v %q", u, err, o)
		}
	}
	// Both services: the unit is sound (systemd-analyze verify also asks
	// man for its Documentation= pages) and its exposure is at most 2.0.
	for _, svc := range []struct{ unit, man string }{
		{"/lib/systemd/system/airseal-token.service", "airseal-token-serve"},
		{"/lib/systemd/system/airseal-license-server.service", "airseal-license-server-serve"},
	} {
		if o, err := exec.Command("systemd-analyze", "verify", svc.unit).CombinedOutput(); err != nil || len(bytes.TrimSpace(o)) != 0 {
			t.Fatalf("systemd-analyze verify %s: %v\n%s", svc.unit, err, o)
		}
		o, err := exec.Command("systemd-analyze", "security", "--offline=true", "--threshold=20", svc.unit).CombinedOutput()
		if err != nil {
			t.Fatalf("systemd-analyze security %s: exposure above 2.0 (%v)\n%s", svc.unit, err, o)
		}
		if m := regexp.MustCompile(`Overall exposure level for \S+: (\d+\.\d+)`).FindSubmatch(o); m != nil {
			t.Logf("systemd-analyze security %s: exposure %s", filepath.Base(svc.unit), m[1])
		}
		if _, err := exec.LookPath("man"); err == nil {
			if o, err := exec.Command("man", "-w", svc.man).CombinedOutput(); err != nil {
				t.Fatalf("man -w %s: %v %s", svc.man, err, o)
			}
		}
	}
	dpkg("--purge", "airseal")
	purged = true
	for _, f := range files {
		if _, err := os.Lstat(f); err == nil && !isSharedDir(f) {
			t.Errorf("left behind after dpkg --purge: %s", f)
		}
	}
	for _, u := range []string{"_airseal", "_airseal-license"} {
		if o, err := exec.Command("getent", "passwd", u).Output(); err == nil {
			t.Errorf("the %s user is left after dpkg --purge: %s", u, o)
		}
	}
	if after := systemSnapshot(t); after != before {
		t.Errorf("dpkg -i then --purge changed the file list:\n%s", lineDiff(before, after))
	}
}

// isSharedDir reports whether path is a directory other packages own too.
func isSharedDir(path string) bool {
	fi, err := os.Lstat(path)
	if err != nil || !fi.IsDir() {
		return false
	}
	return !strings.Contains(path, "airseal")
}

// systemSnapshot lists the paths under the directories a package can touch,
// leaving out what changes by itself (dpkg's and apt's own state, caches,
// logs, the backups of the user database).
func systemSnapshot(t *testing.T) string {
	t.Helper()
	skip := map[string]bool{"/var/lib/dpkg": true, "/var/lib/apt": true, "/var/cache": true, "/var/log": true,
		"/var/lib/systemd": true, "/var/lib/man-db": true, "/var/tmp": true, "/var/lib/postgresql": true}
	var b strings.Builder
	for _, top := range []string{"/opt", "/usr", "/lib", "/etc", "/var"} {
		filepath.WalkDir(top, func(p string, e os.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if skip[p] {
				return filepath.SkipDir
			}
			if strings.HasSuffix(p, "-") && strings.HasPrefix(p, "/etc/") || p == "/etc/ld.so.cache" {
				return nil // passwd-, group-, shadow- backups
			}
			b.WriteString(p)
			b.WriteByte('\n')
			return nil
		})
	}
	return b.String()
}

// lineDiff lists the lines only in a (-) or only in b (+).
func lineDiff(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var d strings.Builder
	for l := range ma {
		if !mb[l] {
			fmt.Fprintf(&d, "- %s\n", l)
		}
	}
	for l := range mb {
		if !ma[l] {
			fmt.Fprintf(&d, "+ %s\n", l)
		}
	}
	return d.String()
}

// runScript runs a shell command line with extra environment variables and
// returns its exit code and combined output.
func runScript(t *testing.T, dir, script string, env ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
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

// copyScript copies install.sh or update.sh from the repository into dir.
func copyScript(t *testing.T, name, dir string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// checkUsage asserts that --help printed real usage, not the script's code.
func checkUsage(t *testing.T, name, out string) {
	t.Helper()
	if !strings.HasPrefix(out, "Usage: "+name) || !strings.Contains(out, "Options:") || !strings.Contains(out, "Exit codes:") {
		t.Fatalf("%s --help is not a usage text:\n%s", name, out)
	}
	for _, code := range []string{"prog=", "set -", "#!/bin/sh", "esac"} {
		if strings.Contains(out, code) {
			t.Fatalf("%s --help prints script code (%q):\n%s", name, code, out)
		}
	}
}

// TestInstallScript checks install.sh's usage, its "unchanged" report on a
// second run, the PATH advice, --link-dir and a second --uninstall. It uses
// a release of small stand-in files, so it is fast and runs in every go test.
func TestInstallScript(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rel := filepath.Join(dir, "rel")
	for _, f := range []string{"bin/bundle", "bin/verify", "share/man/man1/airseal-verify.1.gz", "share/bash-completion/completions/airseal-verify"} {
		os.MkdirAll(filepath.Join(rel, filepath.Dir(f)), 0o755)
		mode := os.FileMode(0o644)
		if strings.HasPrefix(f, "bin/") {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(rel, f), []byte("#!/bin/sh\necho "+f+"\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	copyScript(t, "install.sh", rel)
	copyScript(t, "update.sh", rel)
	if code, out := runScript(t, rel, "sha256sum bin/* share/man/man1/* share/bash-completion/completions/* install.sh update.sh > SHA256SUMS"); code != 0 {
		t.Fatal(out)
	}
	code, out := runScript(t, dir, "rel/install.sh --help")
	if code != 0 {
		t.Fatalf("install.sh --help: exit %d\n%s", code, out)
	}
	checkUsage(t, "install.sh", out)

	prefix := filepath.Join(dir, "prefix")
	install := "rel/install.sh --prefix " + prefix
	code, out = runScript(t, dir, install, "PATH=/usr/bin:/bin")
	if code != 0 || !strings.Contains(out, "installed bin/verify") || !strings.Contains(out, "installed share/man/man1/airseal-verify.1.gz") ||
		!strings.Contains(out, "put "+prefix+"/bin on PATH") || !strings.Contains(out, "--link-dir /usr/local/bin") {
		t.Fatalf("first install: exit %d\n%s", code, out)
	}
	code, out = runScript(t, dir, install, "PATH="+prefix+"/bin:/usr/bin:/bin")
	if code != 0 || !strings.Contains(out, "unchanged bin/verify") || !strings.Contains(out, "0 files installed, 6 unchanged") ||
		strings.Contains(out, "installed bin/") || !strings.Contains(out, prefix+"/bin is on your PATH") {
		t.Fatalf("second install: exit %d\n%s", code, out)
	}

	// --link-dir links airseal-NAME, as the Debian package does in /usr/bin,
	// and never replaces a file that is not its link.
	links := filepath.Join(dir, "links")
	os.Mkdir(links, 0o755)
	os.WriteFile(filepath.Join(links, "airseal-verify"), []byte("someone else's"), 0o755)
	code, out = runScript(t, dir, install+" --link-dir "+links)
	if code != 1 || !strings.Contains(out, links+"/airseal-verify exists and is not a link to "+prefix+"/bin/verify") {
		t.Fatalf("install over a foreign file in --link-dir: exit %d\n%s", code, out)
	}
	os.Remove(filepath.Join(links, "airseal-verify"))
	code, out = runScript(t, dir, install+" --link-dir "+links, "PATH=/usr/bin:/bin")
	if code != 0 || !strings.Contains(out, "linked "+links+"/airseal-verify -> "+prefix+"/bin/verify") || !strings.Contains(out, "linked as airseal-NAME in "+links) {
		t.Fatalf("install --link-dir: exit %d\n%s", code, out)
	}
	if o, err := exec.Command(filepath.Join(links, "airseal-verify")).Output(); err != nil || string(o) != "bin/verify\n" {
		t.Fatalf("running the link: %v %q", err, o)
	}

	code, out = runScript(t, dir, install+" --uninstall")
	if code != 0 || !strings.Contains(out, "removed link "+links+"/airseal-verify") || !strings.Contains(out, "uninstalled from "+prefix) {
		t.Fatalf("--uninstall: exit %d\n%s", code, out)
	}
	if left, _ := os.ReadDir(links); len(left) != 0 {
		t.Fatalf("links left behind: %v", left)
	}
	if _, err := os.Stat(prefix); !os.IsNotExist(err) {
		t.Fatalf("prefix left behind: %v", err)
	}
	code, out = runScript(t, dir, install+" --uninstall")
	if code != 0 || !strings.Contains(out, "nothing to uninstall: no airseal installation in "+prefix) {
		t.Fatalf("second --uninstall: exit %d\n%s", code, out)
	}
}

// stubBundle is a stand-in for the bundle program: it records how it was
// called and whether its stderr is a terminal, and exits with $STUB_RC_<STEP>.
const stubBundle = `#!/bin/sh
step=$1
if [ -t 2 ]; then echo "stub: stderr is a terminal" >&2; else echo "stub: stderr is not a terminal" >&2; fi
echo "stub: $*"
eval rc=\${STUB_RC_$step:-0}
[ "$rc" = 0 ] || { echo "bundle: error: stub $step failed" >&2; exit "$rc"; }
target=""
plan=0
while [ $# -gt 0 ]; do
	case $1 in --target) target=$2; shift ;; --plan) plan=1 ;; esac
	shift
done
if [ "$step" = apply ] && [ "$plan" = 0 ]; then
	mkdir -p "$target/releases/1.0.0" && ln -sfn releases/1.0.0 "$target/current"
fi
exit 0
`

// TestUpdateScript checks update.sh around the bundle program (a stand-in
// here; TestInstallAndUpdateScripts runs the real one): usage, the target
// rules, that nothing is created when nothing changes, the log, --rollback,
// a missing bundle program, and bundle's stderr staying a terminal.
func TestUpdateScript(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tools := filepath.Join(dir, "tools")
	os.MkdirAll(filepath.Join(tools, "bin"), 0o755)
	copyScript(t, "update.sh", tools)
	if err := os.WriteFile(filepath.Join(tools, "bin", "bundle"), []byte(stubBundle), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "app.bundle"), []byte("stand-in"), 0o644)
	update := tools + "/update.sh "
	path := "PATH=/usr/bin:/bin"
	exists := func(p string) bool { _, err := os.Lstat(p); return err == nil }

	code, out := runScript(t, dir, update+"--help")
	if code != 0 {
		t.Fatalf("update.sh --help: exit %d\n%s", code, out)
	}
	checkUsage(t, "update.sh", out)

	// The target: required, a directory, never the tools' own prefix.
	code, out = runScript(t, dir, update+"app.bundle", path, "AIRSEAL_TARGET=")
	if code != 2 || !strings.Contains(out, "--target DIR is required") {
		t.Fatalf("no --target: exit %d\n%s", code, out)
	}
	os.WriteFile(filepath.Join(dir, "afile"), nil, 0o644)
	code, out = runScript(t, dir, update+"app.bundle --target afile", path)
	if code != 2 || strings.Count(out, "\n") != 2 || !strings.Contains(out, "update.sh: error: --target afile is not a directory") {
		t.Fatalf("--target a file: exit %d\n%s", code, out)
	}
	os.WriteFile(filepath.Join(tools, ".airseal-installed"), nil, 0o644)
	code, out = runScript(t, dir, update+"app.bundle --target "+tools, path)
	if code != 2 || !strings.Contains(out, "holds the airseal tools") {
		t.Fatalf("--target the tools' prefix: exit %d\n%s", code, out)
	}
	os.Remove(filepath.Join(tools, ".airseal-installed"))

	// Nothing changes: no target, no log.
	target := filepath.Join(dir, "opt", "app")
	cases := []struct {
		name, args string
		env        []string
		code       int
		want       string
	}{
		{"plan", "app.bundle --plan", nil, 0, "plan only: nothing was changed"},
		{"missing bundle", "missing.bundle", nil, 1, "bundle missing.bundle not found (or not a regular file); nothing was changed"},
		{"garbage bundle", "app.bundle", []string{"STUB_RC_verify=10"}, 10, "FAILED: verify exited 10 (not a valid license, request, token, bundle or list, or its signature does not verify); nothing was changed in " + target},
		{"apply refused", "app.bundle", []string{"STUB_RC_apply=12"}, 12, "FAILED: apply exited 12"},
		{"rollback refused", "--rollback", []string{"STUB_RC_rollback=25"}, 25, "FAILED: rollback exited 25 (nothing installed, or nothing to roll back to)"},
	}
	for _, c := range cases {
		code, out := runScript(t, dir, update+c.args+" --target "+target, append([]string{path}, c.env...)...)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Fatalf("%s: exit %d, want %d and %q:\n%s", c.name, code, c.code, c.want, out)
		}
		if exists(filepath.Join(dir, "opt")) {
			t.Fatalf("%s created the target or its parent", c.name)
		}
	}

	// The bundle program cannot be found or run: a clear message, exit 1.
	code, out = runScript(t, dir, update+"app.bundle --target "+target, path, "AIRSEAL_BUNDLE="+dir+"/nonexistent")
	if code != 1 || !strings.Contains(out, "AIRSEAL_BUNDLE="+dir+"/nonexistent is not an executable file") {
		t.Fatalf("AIRSEAL_BUNDLE missing: exit %d\n%s", code, out)
	}
	lone := filepath.Join(dir, "lone")
	os.Mkdir(lone, 0o755)
	copyScript(t, "update.sh", lone)
	code, out = runScript(t, dir, lone+"/update.sh app.bundle --target "+target, path)
	if code != 1 || !strings.Contains(out, "the bundle program was not found") || !strings.Contains(out, "AIRSEAL_BUNDLE=") {
		t.Fatalf("no bundle program: exit %d\n%s", code, out)
	}

	// A real change writes the log; a rollback is logged too.
	code, out = runScript(t, dir, update+"app.bundle --target "+target, path)
	if code != 0 || !strings.Contains(out, "stub: stderr is not a terminal") || !strings.Contains(out, "done: releases/1.0.0 is current") {
		t.Fatalf("update: exit %d\n%s", code, out)
	}
	code, out = runScript(t, dir, update+"--rollback --target "+target, path)
	if code != 0 || !strings.Contains(out, "done: rolled back") {
		t.Fatalf("rollback: exit %d\n%s", code, out)
	}
	logData, err := os.ReadFile(filepath.Join(target, "update.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Z update from app.bundle into " + target, "Z   stub: apply --target " + target + " app.bundle", "Z done: releases/1.0.0 is current", "Z rollback in " + target, "Z done: rolled back"} {
		if !strings.Contains(string(logData), want) {
			t.Fatalf("update.log lacks %q:\n%s", want, logData)
		}
	}

	// On a terminal, bundle's stderr is that terminal (its progress bar is
	// drawn); script(1) gives the run a pseudo-terminal.
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script(1) not installed (util-linux): the terminal case is not checked")
	}
	code, out = runScript(t, dir, "script -qec '"+update+"app.bundle --target "+target+"' /dev/null", path, "STUB_RC_apply=23")
	if code != 23 || !strings.Contains(out, "stub: stderr is a terminal") || strings.Contains(out, "stub: stderr is not a terminal") {
		t.Fatalf("on a terminal: exit %d\n%s", code, out)
	}
	logData, _ = os.ReadFile(filepath.Join(target, "update.log"))
	if !strings.Contains(string(logData), "FAILED: apply exited 23 (not newer than installed, or not an allowed from-version)") {
		t.Fatalf("update.log lacks the failed apply on a terminal:\n%s", logData)
	}
}

// TestUpdateScriptExitTable checks that update.sh explains every exit code
// of the airseal table in the table's own words.
func TestUpdateScriptExitTable(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../update.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cli.ExitCodes {
		if c.Code == cli.ExitOK {
			continue
		}
		line := fmt.Sprintf("\t%d) echo %q ;;\n", c.Code, c.Meaning)
		if !strings.Contains(string(data), line) {
			t.Errorf("update.sh's meaning() lacks %q (internal/cli.ExitCodes changed: update it)", line)
		}
	}
}

// TestUpdateScriptLogUnwritable: a log that cannot be written is said once,
// and the update goes on (the steps are on stderr).
func TestUpdateScriptLogUnwritable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	copyScript(t, "update.sh", dir)
	os.WriteFile(filepath.Join(dir, "bin", "bundle"), []byte(stubBundle), 0o755)
	os.WriteFile(filepath.Join(dir, "app.bundle"), []byte("stand-in"), 0o644)
	code, out := runScript(t, dir, "./update.sh app.bundle --target t", "AIRSEAL_UPDATE_LOG="+dir+"/no/such/dir/update.log")
	if code != 0 || strings.Count(out, "cannot write the log") != 1 || strings.Contains(out, "nonexistent") || strings.Contains(out, "cannot create") {
		t.Fatalf("unwritable log: exit %d\n%s", code, out)
	}
}

// TestReleaseScriptArguments checks release.sh's usage and that relative
// paths are taken from the caller's directory and checked before building;
// a build that fails leaves no --out. Fast: the build fails at once.
func TestReleaseScriptArguments(t *testing.T) {
	t.Parallel()
	script, err := filepath.Abs("../../release.sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	code, out := runScript(t, dir, script+" --help")
	if code != 0 {
		t.Fatalf("release.sh --help: exit %d\n%s", code, out)
	}
	checkUsage(t, "release.sh", out)
	if !strings.Contains(out, "airseal_V_ARCH.deb") || !strings.Contains(out, "--no-deb") {
		t.Fatalf("release.sh --help does not mention the Debian package:\n%s", out)
	}
	env := []string{"SOURCE_DATE_EPOCH=1767225600", "TMPDIR=" + dir}
	code, out = runScript(t, dir, script+" --version 9.9.9 --key missing.key", env...)
	if code != 2 || !strings.Contains(out, "release.sh: error: "+dir+"/missing.key: no such readable file (relative paths are taken from "+dir+")") {
		t.Fatalf("missing --key: exit %d\n%s", code, out)
	}
	os.WriteFile(filepath.Join(dir, "vendor.key"), []byte("k"), 0o600)
	os.WriteFile(filepath.Join(dir, "pass.txt"), []byte("p\n"), 0o600)
	code, out = runScript(t, dir, script+" --version 9.9.9 --key vendor.key --passphrase-file pass.txt --out dist",
		append(env, "GOCACHE="+filepath.Join(dir, "pass.txt", "cache"))...)
	if code == 0 || !strings.Contains(out, "release.sh: building") {
		t.Fatalf("relative --key and --passphrase-file were not accepted, or the build did not fail: exit %d\n%s", code, out)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 2 {
		t.Fatalf("a failed release.sh left files behind: %v", left)
	}
}

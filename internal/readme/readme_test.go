package readme

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/cli"
)

// root is the repository root, seen from this package's directory.
const root = "../.."

func readme(t *testing.T) []Block {
	t.Helper()
	md, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := Parse(md)
	if err != nil {
		t.Fatal(err)
	}
	return blocks
}

func TestParse(t *testing.T) {
	md := "text\n```sh\na\nb\n```\n\n```sh exit=16\nhwid\n```\n```sh vm-exit=16\nhwid\n```\n```json\n{}\n```\n```sh norun\n./test.sh\n```\n"
	blocks, err := Parse([]byte(md))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 5 {
		t.Fatalf("got %d blocks", len(blocks))
	}
	if b := blocks[0]; b.Line != 2 || b.Text != "a\nb\n" || !b.Runnable() {
		t.Errorf("first block: %+v", b)
	}
	for i, want := range []Want{{0, 0}, {16, 16}, {0, 16}} {
		got, err := blocks[i].Want()
		if err != nil || got != want {
			t.Errorf("block %d: %+v %v, want %+v", i, got, err, want)
		}
	}
	if blocks[3].Runnable() || blocks[4].Runnable() {
		t.Error("a json or norun block is runnable")
	}
	if _, err := (Block{Line: 9, Info: "sh exit=x"}).Want(); err == nil {
		t.Error("exit=x accepted")
	}
	if _, err := (Block{Line: 9, Info: "sh sudo"}).Want(); err == nil || !strings.Contains(err.Error(), "README.md:9") {
		t.Errorf("unknown word: %v", err)
	}
	if _, err := Parse([]byte("```sh\nopen\n")); err == nil {
		t.Error("an unclosed block was accepted")
	}
}

// Normalize keeps what an example promises and drops what depends on the
// run or the machine.
func TestNormalize(t *testing.T) {
	a := "license 4HZP-7K3M-2W8R-Q9TX: VALID\n  issued     2026-12-02\n  updates    until 2030-01-31 (1155 days left)  \n" +
		"  machine    bound to 8D1E0-2C325-C35E1-7232F: 7 of 7 components match; weight 11, 8 needed\nkey 48e576d5603e5fe2\n"
	b := "license F9QF-BNQN-3N4T-6YJW: VALID\n  issued     2027-01-05\n  updates    until 2030-01-31 (1 day left)\n" +
		"  machine    bound to 022E2-D256C-EC228-5EE53: 3 of 3 components match; weight 3, 3 needed\nkey 0067f0d8fccd949a\n\n"
	if Normalize(a) != Normalize(b) {
		t.Errorf("run-dependent parts left:\n%s\n%s", Normalize(a), Normalize(b))
	}
	for _, differ := range []string{
		strings.Replace(b, "VALID", "NOT VALID", 1),
		strings.Replace(b, "until", "from", 1),
		b + "  seats      5\n",
	} {
		if Normalize(a) == Normalize(differ) {
			t.Errorf("a real difference was filtered away:\n%s", differ)
		}
	}
}

var (
	productRe = regexp.MustCompile(`--product[ =]("[^"]*"|'[^']*'|\S+)`)
	dateRe    = regexp.MustCompile(`\b(20\d\d-[01]\d-[0-3]\d)\b`)
)

// The README's promises that need no binary: every runnable block has a
// valid info string; the examples use one product name; no date in an
// example is in the past or close to it; the one exit-code table is there,
// made from internal/cli, and no other table gives exit codes; every file
// the README names exists.
func TestConventions(t *testing.T) {
	blocks := readme(t)
	runnable := 0
	var last *Block // the last runnable block
	for i, b := range blocks {
		switch {
		case b.Runnable():
			last = &blocks[i]
		case b.Output():
			if last == nil {
				t.Errorf("README.md:%d: an output block with no sh block before it", b.Line)
				continue
			}
			if w, _ := last.Want(); w.Exit != w.VMExit {
				t.Errorf("README.md:%d: the output of README.md:%d depends on the machine (vm-exit); it cannot be checked", b.Line, last.Line)
			}
			last = nil // one output block per sh block
		}
	}
	products := map[string][]int{}
	known := map[int]bool{}
	for _, c := range cli.ExitCodes {
		known[c.Code] = true
	}
	soon := time.Now().AddDate(1, 0, 0).Format(time.DateOnly)
	for _, b := range blocks {
		if b.Lang() != "sh" {
			continue
		}
		w, err := b.Want()
		if err != nil {
			t.Error(err)
			continue
		}
		if b.Runnable() {
			runnable++
		}
		for _, c := range []int{w.Exit, w.VMExit} {
			if !known[c] {
				t.Errorf("README.md:%d: exit=%d is not in the exit-code table", b.Line, c)
			}
		}
		for _, m := range productRe.FindAllStringSubmatch(b.Text, -1) {
			p := strings.Trim(m[1], `"'`)
			if w.Exit != cli.ExitWrongProduct && !strings.Contains(b.Text, "release.sh") {
				products[p] = append(products[p], b.Line)
			}
		}
		for _, d := range dateRe.FindAllString(b.Text, -1) {
			if d < soon {
				t.Errorf("README.md:%d: the date %s is in the past or within a year (today is %s): use a date years ahead", b.Line, d, time.Now().Format(time.DateOnly))
			}
		}
	}
	if runnable < 10 {
		t.Errorf("only %d runnable blocks: the README's examples must run (mark them ```sh)", runnable)
	}
	if len(products) != 1 {
		t.Errorf("the examples use %d product names, want one: %v", len(products), products)
	}

	md, _ := os.ReadFile(filepath.Join(root, "README.md"))
	table := cli.ExitTableMarkdown()
	if n := bytes.Count(md, []byte(table)); n != 1 {
		t.Errorf("README.md holds the exit-code table of internal/cli %d times, want once:\n%s", n, table)
	}
	header := regexp.MustCompile(`(?m)^\| *(code|exit|exit code) *\|`)
	if n := len(header.FindAllIndex(md, -1)); n != 1 {
		t.Errorf("README.md has %d tables of exit codes; keep only the one made from internal/cli (name a tool's codes in a sentence)", n)
	}
	checkPaths(t, md)
}

// pathRe matches what looks like a file of this repository in backquotes or
// a relative link.
var pathRe = regexp.MustCompile("(?:`|\\]\\()((?:\\./)?(?:cmd|pkg|internal|docs|bench|keys|\\.ci)/[A-Za-z0-9_./*<>-]*|[A-Za-z0-9_-]+\\.(?:sh|md))(?:[`)# ])")

// checkPaths fails on a file or directory the README names that is not in
// the repository (globs such as keys/*.pub and cmd/<binary>/ are skipped).
func checkPaths(t *testing.T, md []byte) {
	t.Helper()
	seen := map[string]bool{}
	for _, m := range pathRe.FindAllSubmatch(md, -1) {
		p := strings.TrimPrefix(string(m[1]), "./")
		if seen[p] || strings.ContainsAny(p, "*<") {
			continue
		}
		seen[p] = true
		if _, err := os.Stat(filepath.Join(root, strings.TrimSuffix(p, "/"))); err != nil {
			t.Errorf("README.md names %s, which is not in the repository", p)
		}
	}
	if len(seen) < 10 {
		t.Errorf("found only %d paths in README.md: the scan is broken", len(seen))
	}
}

// TestExamples runs every runnable block of README.md, in order, in a
// scratch copy of the repository, and checks each block's exit code. It
// builds the binaries and runs release.sh (2 to 9 minutes on two shared
// cores: give go test -timeout 30m), so it runs only with
// AIRSEAL_INTEGRATION=1 (test.sh's integration step sets it).
//
// The environment is a new user's: HOME in the scratch directory, the
// passphrase in AIRSEAL_PASSPHRASE instead of typed at the prompt, sudo
// running the command as the same user (never as root), and, when the test
// runs as root, the blocks run as an unprivileged user in a user namespace,
// so that nothing is written outside the scratch directory (verify's state
// file, for one, goes to /var/lib/airseal as root).
func TestExamples(t *testing.T) {
	if os.Getenv("AIRSEAL_INTEGRATION") != "1" {
		t.Skip("set AIRSEAL_INTEGRATION=1 to run the README's examples (builds every binary and a release)")
	}
	if d, ok := t.Deadline(); ok && time.Until(d) < 15*time.Minute {
		t.Fatalf("the README's examples take up to 10 minutes (release.sh builds every tool twice); run with go test -timeout 30m (%v left)", time.Until(d).Round(time.Second))
	}
	blocks := readme(t)
	scratch := t.TempDir()
	repo := filepath.Join(scratch, "airseal")
	copyRepo(t, repo)
	state := filepath.Join(scratch, ".readme-state")
	shim := filepath.Join(state, "shim")
	for _, d := range []string{shim, filepath.Join(scratch, "home")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// sudo runs the command as the same user: the test never gains root.
	if err := os.WriteFile(filepath.Join(shim, "sudo"), []byte("#!/bin/sh\nexec \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(state, "cwd"), []byte(repo), 0o644)
	virtual, judged := judge()
	env := baseEnv(t, scratch, shim)

	var lastOut string // stdout of the last runnable block
	lastLine := 0
	for _, b := range blocks {
		if b.Output() {
			if got, want := Normalize(lastOut), Normalize(b.Text); got != want {
				t.Errorf("README.md:%d: README.md:%d printed, after filtering what depends on the run and the machine:\n%s\nthe README shows:\n%s", b.Line, lastLine, got, want)
			} else {
				t.Logf("README.md:%d: the output of README.md:%d is as shown", b.Line, lastLine)
			}
			continue
		}
		if !b.Runnable() {
			continue
		}
		w, err := b.Want()
		if err != nil {
			t.Fatal(err)
		}
		script := filepath.Join(state, fmt.Sprintf("block-%d.sh", b.Line))
		body := "[ -f \"$READMESTATE/env\" ] && . \"$READMESTATE/env\"\n" +
			"cd \"$(cat \"$READMESTATE/cwd\")\"\n" +
			"trap 'rc=$?; export -p | grep -v \"^declare -x READMESTATE=\" > \"$READMESTATE/env\"; pwd > \"$READMESTATE/cwd\"; exit $rc' EXIT\n" +
			"set -e -o pipefail -x\n" + b.Text
		if err := os.WriteFile(script, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"bash", script}
		if os.Geteuid() == 0 {
			args = append([]string{"unshare", "--user", "--map-user=1000", "--map-group=1000"}, args...)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(env, "READMESTATE="+state)
		var out, stdout bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, &stdout), &out
		start := time.Now()
		err = cmd.Run()
		cancel()
		got := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			got = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("README.md:%d: %v", b.Line, err)
		}
		want := []int{w.Exit}
		switch {
		case !judged:
			want = []int{w.Exit, w.VMExit}
		case virtual:
			want = []int{w.VMExit}
		}
		if got != want[0] && (len(want) == 1 || got != want[1]) {
			t.Fatalf("README.md:%d: the block exited %d, want %v (virtual machine: %v, judged: %v); it printed:\n%s", b.Line, got, want, virtual, judged, out.String())
		}
		lastOut, lastLine = stdout.String(), b.Line
		t.Logf("README.md:%d: exit %d in %v", b.Line, got, time.Since(start).Round(10*time.Millisecond))
		if os.Getenv("AIRSEAL_README_OUTPUT") != "" {
			t.Logf("README.md:%d printed:\n%s", b.Line, out.String())
		}
	}
}

// judge asks systemd-detect-virt, independent of hwid, whether this is a
// virtual machine or container.
func judge() (virtual, judged bool) {
	p, err := exec.LookPath("systemd-detect-virt")
	if err != nil {
		return false, false
	}
	out, _ := exec.Command(p).Output()
	return strings.TrimSpace(string(out)) != "none", true
}

// baseEnv is the environment of the blocks: a fresh HOME, Go's caches as
// they are (so the build is not a cold one) and the passphrase.
func baseEnv(t *testing.T, scratch, shim string) []string {
	goEnv := func(k string) string {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", k, err)
		}
		return strings.TrimSpace(string(out))
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	return []string{
		"PATH=" + shim + ":" + filepath.Dir(goBin) + ":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		"HOME=" + filepath.Join(scratch, "home"),
		"LANG=C.UTF-8",
		"TERM=dumb",
		"GOCACHE=" + goEnv("GOCACHE"),
		"GOMODCACHE=" + goEnv("GOMODCACHE"),
		"GOPATH=" + goEnv("GOPATH"),
		"GOPROXY=" + goEnv("GOPROXY"),
		"GOFLAGS=" + goEnv("GOFLAGS"),
		"GOTOOLCHAIN=local",
		"AIRSEAL_PASSPHRASE=readme-example-passphrase",
	}
}

// copyRepo copies the repository's files (tracked, or new and not ignored)
// to dst: the README's examples start in a checkout.
func copyRepo(t *testing.T, dst string) {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	var files []string
	if err == nil {
		for _, f := range strings.Split(string(out), "\x00") {
			if f != "" {
				files = append(files, f)
			}
		}
	} else {
		// No git: every file but the build outputs.
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if d.IsDir() && (rel == ".git" || rel == "bin" || rel == "dist") {
				return filepath.SkipDir
			}
			if d.Type().IsRegular() {
				files = append(files, rel)
			}
			return nil
		})
	}
	for _, f := range files {
		src := filepath.Join(root, f)
		st, err := os.Lstat(src)
		if err != nil || !st.Mode().IsRegular() {
			continue // deleted in the working tree, or not a file
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dst, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, st.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dst, "go.mod")); err != nil {
		t.Fatalf("the copy of the repository has no go.mod: %v", err)
	}
	// A checkout has history: release.sh takes SOURCE_DATE_EPOCH and the
	// package maintainer from the last commit. The copy gets one commit,
	// dated as the repository's last one.
	date := fmt.Sprint(time.Now().Unix())
	if out, err := exec.Command("git", "-C", root, "log", "-1", "--format=%ct").Output(); err == nil && len(bytes.TrimSpace(out)) > 0 {
		date = strings.TrimSpace(string(out))
	}
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", dst}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=README test", "GIT_AUTHOR_EMAIL=readme@example.invalid",
			"GIT_COMMITTER_NAME=README test", "GIT_COMMITTER_EMAIL=readme@example.invalid",
			"GIT_AUTHOR_DATE=@"+date+" +0000", "GIT_COMMITTER_DATE=@"+date+" +0000")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s in the copy: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "checkout for the README test")
}

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"issue": func() { os.Exit(run()) }})
}

// buildVerify builds the verify command so scripts can check what issue signed.
func buildVerify(t *testing.T) string {
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "verify"), "../verify")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building verify: %v\n%s", err, out)
	}
	return dir
}

func TestScripts(t *testing.T) {
	bin := buildVerify(t)
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", bin+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("XDG_STATE_HOME", filepath.Join(env.WorkDir, "state"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"status": cmdStatus,
			"mode":   cmdMode,
		},
	})
}

// status CODE PROG ARGS... runs PROG and fails unless it exits with CODE.
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status CODE PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("status: %v", err)
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("status: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// mode FILE PERM fails unless FILE has permission bits PERM (octal).
func cmdMode(ts *testscript.TestScript, neg bool, args []string) {
	st, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	if got := st.Mode().Perm(); uint64(got) != want {
		ts.Fatalf("%s has mode %o, want %s", args[0], got, args[1])
	}
}

// The scripts run the real verify binary, which as root keeps its state in
// /var/lib/airseal/verify.state: every call must name a state file in the
// script's work directory so that no test writes outside it.
func TestScriptsKeepVerifyStateInWorkDir(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	calls := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range strings.Split(string(data), "\n") {
			fields := strings.Fields(line)
			for i, w := range fields {
				if w != "verify" || i > 2 || strings.HasPrefix(line, "#") {
					continue
				}
				calls++
				if !strings.Contains(line, "--state verify.state") && !strings.Contains(line, "--state $WORK/") {
					t.Errorf("%s:%d: verify without --state verify.state: %s", f, n+1, line)
				}
			}
		}
	}
	if calls == 0 {
		t.Fatal("found no verify calls; the scan is broken")
	}
}

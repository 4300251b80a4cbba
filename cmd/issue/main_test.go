package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airseal/airseal/internal/scripttest"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"issue": func() { os.Exit(run()) }})
}

func TestScripts(t *testing.T) {
	bin := scripttest.BuildSibling(t, "verify") // scripts check what issue signed
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", bin+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("XDG_STATE_HOME", filepath.Join(env.WorkDir, "state"))
			return nil
		},
		Cmds: scripttest.Commands(),
	})
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

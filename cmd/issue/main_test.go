package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/airseal/airseal/internal/scripttest"
	"github.com/airseal/airseal/pkg/hwid"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rogpeppe/go-internal/txtar"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"issue": func() { os.Exit(run()) }})
}

func TestScripts(t *testing.T) {
	bin := scripttest.BuildSibling(t, "verify") // scripts check what issue signed
	// server_license.txtar issues from the requests license-server init writes.
	srv := scripttest.BuildSibling(t, "license-server")
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", bin+string(os.PathListSeparator)+srv+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("XDG_STATE_HOME", filepath.Join(env.WorkDir, "state"))
			return nil
		},
		Cmds: cmds(),
	})
}

func cmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	m := scripttest.Commands()
	m["reqcode"] = reqcode
	m["mkfifo"] = mkfifo
	m["mkbig"] = mkbig
	m["hwidenv"] = hwidenv
	return m
}

// hwidenv NAME unpacks the hwid fixture machine NAME (a fake /sys, /proc
// and /etc, pkg/hwid/testdata/envs/NAME.txtar) under envs/NAME, for
// license-server init --root (this container is refused by hwid).
func hwidenv(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: hwidenv NAME")
	}
	a, err := txtar.ParseFile(filepath.Join("../../pkg/hwid/testdata/envs", args[0]+".txtar"))
	ts.Check(err)
	dir := ts.MkAbs(filepath.Join("envs", args[0]))
	for _, f := range a.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		ts.Check(os.MkdirAll(filepath.Dir(p), 0o755))
		ts.Check(os.WriteFile(p, f.Data, 0o644))
	}
}

// mkfifo NAME makes a FIFO nobody writes to (opening it to read blocks).
func mkfifo(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mkfifo NAME")
	}
	ts.Check(syscall.Mkfifo(ts.MkAbs(args[0]), 0o600))
}

// mkbig NAME SIZE makes a sparse file of SIZE bytes.
func mkbig(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mkbig NAME SIZE")
	}
	n, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	f, err := os.Create(ts.MkAbs(args[0]))
	ts.Check(err)
	ts.Check(f.Truncate(n))
	ts.Check(f.Close())
}

// reqcode JSONFILE sets $CODE to the request's typed code, $CODE_LOWER to
// it in lower case and $CODE_BARE without dashes, and writes bare.code (lower
// case, no dashes) and spaced.code (dashes misplaced, spaces, line breaks).
func reqcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: reqcode JSONFILE")
	}
	r, err := hwid.ParseRequest([]byte(ts.ReadFile(args[0])))
	ts.Check(err)
	code, err := r.Code()
	ts.Check(err)
	bare := strings.ReplaceAll(code, "-", "")
	ts.Setenv("CODE", code)
	ts.Setenv("CODE_LOWER", strings.ToLower(code))
	ts.Setenv("CODE_BARE", bare)
	// Line breaks inside, as pasted from a mail; a dash inside the prefix
	// and dashes every three characters.
	var folded, moved strings.Builder
	for i := 0; i < len(bare); i += 7 {
		folded.WriteString(bare[i:min(i+7, len(bare))] + "\n")
	}
	moved.WriteString("as-r")
	for i := 3; i < len(bare); i += 3 {
		moved.WriteString(bare[i:min(i+3, len(bare))] + "-")
	}
	ts.Setenv("CODE_FOLDED", folded.String())
	ts.Setenv("CODE_MOVED", moved.String())
	ts.Check(os.WriteFile(ts.MkAbs("bare.code"), []byte(strings.ToLower(bare)+"\n"), 0o644))
	spaced := "  " + bare[:6] + "-" + bare[6:30] + "\n " + bare[30:40] + " -- " + bare[40:] + "\n"
	ts.Check(os.WriteFile(ts.MkAbs("spaced.code"), []byte(spaced), 0o644))
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

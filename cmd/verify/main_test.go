package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/scripttest"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/airseal/airseal/pkg/bundle"
	"github.com/airseal/airseal/pkg/hwid"
	"github.com/airseal/airseal/pkg/install"
	"github.com/airseal/airseal/pkg/keys"
)

// The test binary, and only it, lets a script point verify at a fake facts
// tree (AIRSEAL_TEST_FACTS), a fixed clock (AIRSEAL_TEST_NOW) and a state
// file (AIRSEAL_TEST_STATE).
func testRun() {
	factsRoot = os.Getenv("AIRSEAL_TEST_FACTS")
	testStatePath = os.Getenv("AIRSEAL_TEST_STATE")
	if s := os.Getenv("AIRSEAL_TEST_NOW"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		now = func() time.Time { return t }
	}
	os.Exit(run())
}

// mkrequest ROOT PRODUCT OUT [none] writes a license request for the facts
// tree ROOT ("live" for this machine); with "none" it claims bare metal.
func mkrequest() {
	a := os.Args[1:]
	root := a[0]
	if root == "live" {
		root = ""
	}
	rep, err := hwid.Collect(hwid.Options{Root: root, Product: a[1]})
	if err != nil {
		panic(err)
	}
	if len(a) > 3 && a[3] == "none" {
		rep.Virtualization = hwid.Verdict{Type: "none", Technology: "none", Evidence: []string{}}
	}
	req, err := hwid.NewRequest(rep, a[1], "Example LLC", time.Now(), nil)
	if err != nil {
		panic(err)
	}
	data, err := req.Marshal()
	if err != nil {
		panic(err)
	}
	if err := os.WriteFile(a[2], data, 0o644); err != nil {
		panic(err)
	}
	os.Exit(0)
}

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"verify": testRun, "mkrequest": mkrequest, "mkinstalled": mkinstalled})
}

func TestScripts(t *testing.T) {
	bin := scripttest.BuildSibling(t, "issue")
	live, err := hwid.Collect(hwid.Options{Product: "probe"})
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", bin+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("AIRSEAL_TEST_STATE", filepath.Join(env.WorkDir, "verify.state"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"status": scripttest.Commands()["status"],
			"tamper": cmdTamper,
			"mkfifo": cmdMkfifo,
			"mkbig":  cmdMkbig,
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "virtual":
				return live.Virtualization.Type != "none", nil
			case "root":
				return os.Geteuid() == 0, nil
			}
			return false, nil
		},
	})
}

// mkfifo NAME makes a FIFO (nobody writes to it).
func cmdMkfifo(ts *testscript.TestScript, neg bool, args []string) {
	ts.Check(syscall.Mkfifo(ts.MkAbs(args[0]), 0o600))
}

// mkbig NAME SIZE makes a sparse file of SIZE bytes.
func cmdMkbig(ts *testscript.TestScript, neg bool, args []string) {
	n, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	f, err := os.Create(ts.MkAbs(args[0]))
	ts.Check(err)
	ts.Check(f.Truncate(n))
	ts.Check(f.Close())
}

// tamper IN OUT changes the first character of the last base64 line of an
// armored file (a character of the signature).
func cmdTamper(ts *testscript.TestScript, neg bool, args []string) {
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	i := bytes.Index(data, []byte("\n-----END"))
	j := bytes.LastIndexByte(data[:i], '\n') + 1
	if data[j] == 'A' {
		data[j] = 'B'
	} else {
		data[j] = 'A'
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), data, 0o644))
}

// mkinstalled KEY TARGET VERSION DATE [SERIAL...] packs a one-file release
// signed with KEY (passphrase from AIRSEAL_PASSPHRASE), dated DATE and
// revoking the given license serials, and applies it to TARGET.
func mkinstalled() {
	a := os.Args[1:]
	k, err := keys.LoadPrivate(a[0], []byte(os.Getenv("AIRSEAL_PASSPHRASE")))
	if err != nil {
		panic(err)
	}
	date, err := time.Parse(time.DateOnly, a[3])
	if err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "release")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("release "+a[2]+"\n"), 0o644); err != nil {
		panic(err)
	}
	out := filepath.Join(dir, "release.bundle")
	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o755)
	os.Rename(filepath.Join(dir, "README"), filepath.Join(src, "README"))
	if _, err := bundle.Pack(bundle.PackOptions{Key: k, Product: "Acme Writer", Version: a[2], ReleaseDate: date,
		Dir: src, Output: out, RevokedLicenses: a[4:]}); err != nil {
		panic(err)
	}
	if _, err := install.Apply([]string{out}, install.ApplyOptions{Target: a[1], Keyring: keys.NewKeyring(k.Public())}); err != nil {
		panic(err)
	}
	os.Exit(0)
}

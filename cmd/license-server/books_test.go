package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/airseal/airseal/internal/scripttest"
	"github.com/airseal/airseal/pkg/keys"
)

// TestBooksScripts runs testdata/books: the usage report, license
// transfer, metrics and backup (issue 12), with the vendor's real 'issue'
// binary on PATH to check what the server wrote.
func TestBooksScripts(t *testing.T) {
	bin := scripttest.BuildSibling(t, "issue")
	testscript.Run(t, testscript.Params{
		Dir: "testdata/books",
		Setup: func(e *testscript.Env) error {
			e.Setenv("AIRSEAL_PASSPHRASE", "script passphrase")
			e.Setenv("PATH", bin+string(os.PathListSeparator)+e.Getenv("PATH"))
			e.Setenv("XDG_STATE_HOME", filepath.Join(e.WorkDir, "state"))
			for _, name := range []string{"bm-dell-poweredge-r440", "bm-lenovo-thinkpad-t510"} {
				a, err := txtar.ParseFile("../../pkg/hwid/testdata/envs/" + name + ".txtar")
				if err != nil {
					return err
				}
				dir := filepath.Join(e.WorkDir, "envs", name)
				for _, f := range a.Files {
					p := filepath.Join(dir, filepath.FromSlash(f.Name))
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						return err
					}
					if err := os.WriteFile(p, f.Data, 0o644); err != nil {
						return err
					}
				}
			}
			return nil
		},
		Cmds: func() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
			m := scripttest.Commands()
			m["freeport"] = func(ts *testscript.TestScript, neg bool, args []string) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				ts.Check(err)
				ts.Setenv(args[0], ln.Addr().String())
				ln.Close()
			}
			m["setfile"] = func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
			}
			// sedfile FILE OLD NEW replaces the first OLD in FILE (an edit
			// a customer might make).
			m["sedfile"] = func(ts *testscript.TestScript, neg bool, args []string) {
				p := ts.MkAbs(args[0])
				data := ts.ReadFile(args[0])
				if !strings.Contains(data, args[1]) {
					ts.Fatalf("%s has no %q", args[0], args[1])
				}
				ts.Check(os.WriteFile(p, []byte(strings.Replace(data, args[1], args[2], 1)), 0o644))
			}
			// sealkey NAME writes NAME.key, the vendor helper's NAME.seed
			// sealed with $AIRSEAL_PASSPHRASE, for the real issue binary.
			m["sealkey"] = func(ts *testscript.TestScript, neg bool, args []string) {
				k, err := keys.NewPrivateKey([]byte(ts.ReadFile(args[0] + ".seed")))
				ts.Check(err)
				sealed, err := k.Seal([]byte(ts.Getenv("AIRSEAL_PASSPHRASE")), &keys.SealOptions{LogN: 10})
				ts.Check(err)
				ts.Check(os.WriteFile(ts.MkAbs(args[0]+".key"), sealed, 0o600))
			}
			// httpget URL prints the body of a 200 answer.
			m["httpget"] = func(ts *testscript.TestScript, neg bool, args []string) {
				resp, err := http.Get(args[0])
				ts.Check(err)
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if (resp.StatusCode == 200) == neg {
					ts.Fatalf("GET %s: %d", args[0], resp.StatusCode)
				}
				ts.Stdout().Write(body)
			}
			return m
		}(),
	})
}

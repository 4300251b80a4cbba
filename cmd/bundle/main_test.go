package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/airseal/airseal/internal/scripttest"
	"github.com/airseal/airseal/pkg/fingerprint"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
)

func TestMain(m *testing.M) {
	// Never the machine's real clock state (tests may run as root).
	testStatePath = os.Getenv("AIRSEAL_TEST_STATE")
	testscript.Main(m, map[string]func(){
		"bundle": func() { os.Exit(run()) },
	})
}

// testKey derives a deterministic key; private key files exist only inside
// the script's temporary directory.
func testKey(seed byte) *keys.PrivateKey {
	k, err := keys.NewPrivateKey(bytes.Repeat([]byte{seed}, 32))
	if err != nil {
		panic(err)
	}
	return k
}

func TestScripts(t *testing.T) {
	crafted, err := filepath.Abs("../../pkg/bundle/testdata/crafted")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(env *testscript.Env) error {
			env.Setenv("CRAFTED", crafted)
			env.Setenv("AIRSEAL_PASSPHRASE", "test passphrase")
			env.Setenv("TAB", "\t")
			env.Setenv("AIRSEAL_TEST_STATE", filepath.Join(env.WorkDir, "verify.state"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// mkkey NAME SEED: NAME.key (passphrase $AIRSEAL_PASSPHRASE) and
			// NAME.pub; sets $NAME_ID (upper case) to the key ID.
			"mkkey": func(ts *testscript.TestScript, neg bool, args []string) {
				seed, _ := strconv.Atoi(args[1])
				k := testKey(byte(seed))
				sealed, err := k.Seal([]byte(ts.Getenv("AIRSEAL_PASSPHRASE")), &keys.SealOptions{LogN: 10})
				ts.Check(err)
				ts.Check(os.WriteFile(ts.MkAbs(args[0]+".key"), sealed, 0o600))
				ts.Check(os.WriteFile(ts.MkAbs(args[0]+".pub"), k.Public().MarshalPublic(), 0o644))
				ts.Setenv(strings.ToUpper(args[0])+"_ID", string(k.ID()))
			},
			// mklicense FILE SEED PRODUCT UPDATES_UNTIL(YYYY-MM-DD) [bound]:
			// serial TEST-0001; "bound" binds it to a machine that is not
			// this one (nor a physical machine at all, in a container).
			"mklicense": func(ts *testscript.TestScript, neg bool, args []string) {
				seed, _ := strconv.Atoi(args[1])
				until, err := time.Parse(time.DateOnly, args[3])
				ts.Check(err)
				issued := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
				l := &license.License{Serial: "TEST-0001", Product: args[2], Kind: license.KindMain,
					Customer: license.Customer{Name: "Test LLC"}, IssuedAt: issued, NotBefore: issued, UpdatesUntil: &until, Seats: 1}
				if len(args) > 4 && args[4] == "bound" {
					l.Machine = &fingerprint.Fingerprint{Need: 2, Components: []fingerprint.Component{
						{Name: "system_uuid", Weight: 2, Hash: fingerprint.HashValue(args[2], "system_uuid", "not-this-machine")}}}
				}
				ts.Check(l.Sign(testKey(byte(seed))))
				data, err := l.Armor()
				ts.Check(err)
				if strings.HasSuffix(args[0], ".code") { // the typed code instead
					code, err := l.Code()
					ts.Check(err)
					data = []byte(code + "\n")
				}
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), data, 0o644))
			},
			// mkrevocations FILE SEED SEQUENCE [SERIAL...]: a signed
			// revocation list.
			"mkrevocations": func(ts *testscript.TestScript, neg bool, args []string) {
				seed, _ := strconv.Atoi(args[1])
				seq, err := strconv.ParseUint(args[2], 10, 64)
				ts.Check(err)
				rl := &license.RevocationList{Sequence: seq, IssuedAt: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), Serials: args[3:]}
				ts.Check(rl.Sign(testKey(byte(seed))))
				data, err := rl.Armor()
				ts.Check(err)
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), data, 0o644))
			},
			"status": scripttest.Commands()["status"],
			// mkbig FILE BYTES: a sparse file of that size.
			"mkbig": func(ts *testscript.TestScript, neg bool, args []string) {
				n, err := strconv.ParseInt(args[1], 10, 64)
				ts.Check(err)
				f, err := os.Create(ts.MkAbs(args[0]))
				ts.Check(err)
				ts.Check(f.Truncate(n))
				ts.Check(f.Close())
			},
			// mkfifo FILE
			"mkfifo": func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Check(syscall.Mkfifo(ts.MkAbs(args[0]), 0o644))
			},
			// exits N PROG ARGS...: run PROG and require exit code N.
			"exits": func(ts *testscript.TestScript, neg bool, args []string) {
				want, err := strconv.Atoi(args[0])
				ts.Check(err)
				err = ts.Exec(args[1], args[2:]...)
				got := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					got = ee.ExitCode()
				} else if err != nil {
					ts.Fatalf("%v", err)
				}
				if got != want {
					ts.Fatalf("%s exited %d, want %d", args[1], got, want)
				}
			},
			// flipbyte FILE OFFSET: invert one byte (negative: from the end).
			"flipbyte": func(ts *testscript.TestScript, neg bool, args []string) {
				p := ts.MkAbs(args[0])
				data, err := os.ReadFile(p)
				ts.Check(err)
				off, _ := strconv.Atoi(args[1])
				if off < 0 {
					off += len(data)
				}
				data[off] ^= 0xff
				ts.Check(os.WriteFile(p, data, 0o644))
			},
		},
	})
}

package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/airseal/airseal/internal/scripttest"
	"github.com/airseal/airseal/pkg/issuer"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/seat"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"license-server": func() { os.Exit(run()) },
		"vendor":         vendorMain,
		"api":            apiMain,
	})
}

// fixtures are the hwid fixture machines the scripts use, unpacked under
// $WORK/envs/NAME (this container is refused by hwid, as it must be).
var fixtures = []string{"bm-dell-poweredge-r440", "bm-lenovo-thinkpad-t510", "vm-qemu-kvm-modern"}

func TestScripts(t *testing.T) {
	// issue_e2e.txtar runs the vendor's real issue command.
	bin := scripttest.BuildSibling(t, "issue")
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(e *testscript.Env) error {
			e.Setenv("AIRSEAL_PASSPHRASE", "script passphrase")
			e.Setenv("PATH", bin+string(os.PathListSeparator)+e.Getenv("PATH"))
			e.Setenv("XDG_STATE_HOME", filepath.Join(e.WorkDir, "state"))
			for _, name := range fixtures {
				a, err := txtar.ParseFile(filepath.Join("../../pkg/hwid/testdata/envs", name+".txtar"))
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
			// freeport VAR sets VAR to a free loopback HOST:PORT.
			m["freeport"] = func(ts *testscript.TestScript, neg bool, args []string) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				ts.Check(err)
				ts.Setenv(args[0], ln.Addr().String())
				ln.Close()
			}
			// setfile VAR FILE sets VAR to FILE's contents, trimmed.
			m["setfile"] = func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
			}
			return m
		}(),
	})
}

// vendorMain is the vendor side for the scripts:
//
//	vendor keygen NAME                      NAME.pub, and NAME.seed (test only)
//	vendor issue NAME REQUEST OUT [k=v...]  a server license from server-request.json;
//	                                        k: seats, kind, main, taxid, unit, expires (days),
//	                                        allow-virtual, demo-lines; OUT.serial holds the
//	                                        serial, OUT.code the typed code
//	vendor revoke NAME SEQ OUT SERIAL...    a signed revocation list
func vendorMain() {
	if err := vendor(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "vendor:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func vendorKey(name string) (*keys.PrivateKey, error) {
	seed, err := os.ReadFile(name + ".seed")
	if err != nil {
		return nil, err
	}
	return keys.NewPrivateKey(seed)
}

func vendor(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: vendor keygen|issue|revoke NAME ...")
	}
	switch args[0] {
	case "keygen":
		seed := make([]byte, 32)
		if _, err := rand.Read(seed); err != nil {
			return err
		}
		k, err := keys.NewPrivateKey(seed)
		if err != nil {
			return err
		}
		if err := os.WriteFile(args[1]+".seed", seed, 0o600); err != nil {
			return err
		}
		return os.WriteFile(args[1]+".pub", k.Public().MarshalPublic(), 0o644)
	case "issue":
		if len(args) < 4 {
			return fmt.Errorf("usage: vendor issue NAME REQUEST OUT [k=v...]")
		}
		k, err := vendorKey(args[1])
		if err != nil {
			return err
		}
		data, err := os.ReadFile(args[2])
		if err != nil {
			return err
		}
		req, err := license.ParseServerRequest(data)
		if err != nil {
			return err
		}
		o := issuer.Order{Seats: 1}
		unit := license.PerSession
		for _, kv := range args[4:] {
			key, v, _ := strings.Cut(kv, "=")
			switch key {
			case "seats":
				o.Seats, _ = strconv.Atoi(v)
			case "kind":
				if o.Kind, err = license.ParseKind(v); err != nil {
					return err
				}
			case "main":
				o.MainSerial = v
			case "taxid":
				o.TaxID = v
			case "unit":
				if v == "computer" {
					unit = license.PerComputer
				}
			case "expires":
				days, _ := strconv.Atoi(v)
				t := time.Now().Add(time.Duration(days) * 24 * time.Hour).UTC().Truncate(time.Second)
				o.Expires = &t
			case "allow-virtual":
				o.AllowVirtual = true
			case "demo-lines":
				n, _ := strconv.ParseInt(v, 10, 64)
				o.DemoLimits = []license.Feature{{Name: "lines", Value: n}}
			default:
				return fmt.Errorf("unknown option %s", key)
			}
		}
		d, err := issuer.PrepareServer(o, req, unit, time.Now())
		if err != nil {
			return err
		}
		is := &issuer.Issuer{Key: k, Ledger: &issuer.Ledger{Path: args[1] + ".ledger"}}
		out, err := is.IssueServer(d)
		if err != nil {
			return err
		}
		if err := os.WriteFile(args[3], out.Armored, 0o644); err != nil {
			return err
		}
		code, err := out.License.Code()
		if err != nil {
			return err
		}
		if err := os.WriteFile(args[3]+".code", []byte(code), 0o644); err != nil {
			return err
		}
		return os.WriteFile(args[3]+".serial", []byte(out.License.Serial), 0o644)
	case "revoke":
		if len(args) < 4 {
			return fmt.Errorf("usage: vendor revoke NAME SEQ OUT SERIAL...")
		}
		k, err := vendorKey(args[1])
		if err != nil {
			return err
		}
		seq, err := strconv.ParseUint(args[2], 10, 64)
		if err != nil {
			return err
		}
		rl := &license.RevocationList{Sequence: seq, IssuedAt: time.Now().Add(-time.Minute).UTC().Truncate(time.Second), Serials: args[4:]}
		if err := rl.Sign(k); err != nil {
			return err
		}
		b, err := rl.Armor()
		if err != nil {
			return err
		}
		return os.WriteFile(args[3], b, 0o644)
	}
	return fmt.Errorf("unknown vendor command %s", args[0])
}

// apiMain calls the running server as a script client would and checks
// the response signature against the response key in DIR:
//
//	api DIR METHOD URL [USER:SECRET|-] [BODY|@FILE]
//
// It waits up to 10 s for the server to accept connections, prints the
// status on the first line and the body after, and exits 0 whatever the
// status (the script checks stdout); 1 if the signature does not verify.
func apiMain() {
	if err := api(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func api(args []string) error {
	if len(args) < 3 {
		return fmt.Errorf("usage: api DIR METHOD URL [USER:SECRET|-] [BODY|@FILE]")
	}
	pubData, err := os.ReadFile(filepath.Join(args[0], "response.pub"))
	if err != nil {
		return err
	}
	pk, err := keys.ParsePublic(pubData)
	if err != nil {
		return err
	}
	method, url := args[1], args[2]
	var body []byte
	if len(args) > 4 {
		body = []byte(args[4])
		if strings.HasPrefix(args[4], "@") {
			if body, err = os.ReadFile(args[4][1:]); err != nil {
				return err
			}
		}
	}
	qid := "script-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	var res *http.Response
	for i := 0; ; i++ {
		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set(seat.HeaderQueryID, qid)
		if len(args) > 3 && args[3] != "-" {
			u, p, _ := strings.Cut(args[3], ":")
			req.SetBasicAuth(u, p)
		}
		res, err = http.DefaultClient.Do(req)
		if err == nil {
			break
		}
		if i == 100 {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if strings.Contains(url, "/api") {
		sig, err := base64.StdEncoding.DecodeString(res.Header.Get(seat.HeaderSignature))
		if err != nil {
			return err
		}
		m := seat.Response{QueryID: qid, Method: method, Path: res.Request.URL.EscapedPath(), Status: res.StatusCode, Time: res.Header.Get(seat.HeaderTime), Body: b}
		if res.Header.Get(seat.HeaderQueryID) != qid {
			return fmt.Errorf("query ID not echoed")
		}
		if err := m.VerifyAnswer(ed25519.PublicKey(pk.Bytes()), sig, res.Header.Get(seat.HeaderSignatureProof)); err != nil {
			return err
		}
	}
	fmt.Printf("%d\n%s", res.StatusCode, b)
	return nil
}

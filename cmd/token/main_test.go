package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/airseal/airseal/internal/scripttest"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/token"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"token":     func() { os.Exit(run()) },
		"fixture":   fixture,
		"mklicense": mklicense,
		"waitport":  waitport,
		"post":      post,
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(e *testscript.Env) error {
			e.Setenv("AIRSEAL_PASSPHRASE", "script passphrase")
			e.Setenv("AIRSEAL_TOKEN_DIR", e.WorkDir+"/tk")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"status": scripttest.Commands()["status"],
			"mode":   scripttest.Commands()["mode"],
			// mkfifo NAME makes a FIFO nobody writes to.
			"mkfifo": func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Check(syscall.Mkfifo(ts.MkAbs(args[0]), 0o600))
			},
			// mkbig NAME SIZE makes a sparse file of SIZE bytes.
			"mkbig": func(ts *testscript.TestScript, neg bool, args []string) {
				n, err := strconv.ParseInt(args[1], 10, 64)
				ts.Check(err)
				f, err := os.Create(ts.MkAbs(args[0]))
				ts.Check(err)
				ts.Check(f.Truncate(n))
				ts.Check(f.Close())
			},
			// freeport VAR sets VAR to a free loopback HOST:PORT.
			"freeport": func(ts *testscript.TestScript, neg bool, args []string) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				ts.Check(err)
				ts.Setenv(args[0], ln.Addr().String())
				ln.Close()
			},
		},
	})
}

const (
	fixtureIssuer = "https://auth.portal.local"
	fixtureAud    = "https://portal.local/rest/"
)

func fixtureKey(b byte) *keys.PrivateKey {
	k, err := keys.NewPrivateKey(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		panic(err)
	}
	return k
}

func die(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// fixture KIND OUT writes a test artefact signed by a fixed test key (seed
// 7; never a committed key file): jwks, valid, expired, future, none,
// hs256, otherkey, oversized, revlist1 (revokes nothing new), revlist2
// (revokes the jti "fixture-valid").
func fixture() {
	kind, out := os.Args[1], os.Args[2]
	k := fixtureKey(7)
	s := token.NewSigner(fixtureIssuer, k)
	now := time.Now()
	req := token.Request{Subject: "1", Audience: fixtureAud, ClientID: "local.itgrix.1", Scope: "crm", TTL: time.Hour, Now: now}
	b64 := base64.RawURLEncoding
	var data string
	switch kind {
	case "jwks":
		b, err := token.MarshalJWKS(keys.NewKeyring(k.Public()))
		if err != nil {
			die(err)
		}
		data = string(b)
	case "valid":
		data, _, _ = s.Mint(req)
	case "expired":
		req.Now = now.Add(-2 * time.Hour)
		data, _, _ = s.Mint(req)
	case "future":
		req.Now = now.Add(time.Hour)
		data, _, _ = s.Mint(req)
	case "otherkey":
		data, _, _ = token.NewSigner(fixtureIssuer, fixtureKey(8)).Mint(req)
	case "none", "hs256":
		good, _, _ := s.Mint(req)
		parts := strings.Split(good, ".")
		alg := map[string]string{"none": "none", "hs256": "HS256"}[kind]
		h := b64.EncodeToString([]byte(`{"alg":"` + alg + `","kid":"` + string(k.ID()) + `","typ":"at+jwt"}`))
		in := h + "." + parts[1]
		sig := ""
		if kind == "hs256" {
			m := hmac.New(sha256.New, k.Public().Bytes())
			m.Write([]byte(in))
			sig = b64.EncodeToString(m.Sum(nil))
		}
		data = in + "." + sig
	case "oversized":
		// Mint refuses such a token, so it is assembled by hand: the
		// size check comes before any parsing.
		data = strings.Repeat("A", token.MaxTokenSize) + ".AA.AA"
	case "revlist1", "revlist2":
		var l *token.RevocationList
		l, _ = l.Next(fixtureIssuer, []string{"someone-else"}, nil, now)
		if kind == "revlist2" {
			l, _ = l.Next(fixtureIssuer, nil, []string{"7K3M-Q9TX-4HZP-2W8R"}, now)
		}
		var err error
		if data, err = s.SignRevocations(l); err != nil {
			die(err)
		}
	case "licensed":
		req.LicenseSerial = "7K3M-Q9TX-4HZP-2W8R"
		data, _, _ = s.Mint(req)
	default:
		die(fmt.Errorf("fixture: unknown kind %q", kind))
	}
	if err := os.WriteFile(out, []byte(data+"\n"), 0o644); err != nil {
		die(err)
	}
}

// mklicense SERIAL OUT writes an armored license with that serial, signed
// by a fixed test key (its typed code when OUT ends in .code).
func mklicense() {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &license.License{Serial: os.Args[1], Product: "itgrix", Kind: license.KindMain,
		Customer: license.Customer{Name: "Test"}, IssuedAt: t, NotBefore: t, Seats: 1}
	if err := l.Sign(fixtureKey(9)); err != nil {
		die(err)
	}
	b, err := l.Armor()
	if err != nil {
		die(err)
	}
	if strings.HasSuffix(os.Args[2], ".code") { // the typed code instead
		code, err := l.Code()
		if err != nil {
			die(err)
		}
		b = []byte(code + "\n")
	}
	if err := os.WriteFile(os.Args[2], b, 0o644); err != nil {
		die(err)
	}
}

// waitport ADDR waits up to 10 s for a TCP listener.
func waitport() {
	for range 200 {
		if c, err := net.Dial("tcp", os.Args[1]); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	die(fmt.Errorf("nothing listens on %s", os.Args[1]))
}

// post URL BODY [ID:SECRET] sends a form POST (GET when BODY is "GET") and
// prints the status code and the body.
func post() {
	a := os.Args[1:]
	method, body := http.MethodPost, io.Reader(strings.NewReader(a[1]))
	if a[1] == "GET" {
		method, body = http.MethodGet, nil
	}
	req, err := http.NewRequest(method, a[0], body)
	if err != nil {
		die(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if len(a) > 2 {
		id, secret, _ := strings.Cut(a[2], ":")
		req.SetBasicAuth(id, secret)
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		die(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	fmt.Printf("%d\n%s", r.StatusCode, b)
}

// TestReloadOnSignal: SIGHUP makes 'token serve' reload its clients and
// revocation list at once, and a failed reload is logged (issue 8 item 19).
func TestReloadOnSignal(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal)
	var logs bytes.Buffer
	lg := slog.New(slog.NewJSONHandler(&logs, nil))
	calls := make(chan struct{}, 2)
	var fail atomic.Bool
	done := make(chan struct{})
	go func() {
		reloadOnSignal(ctx, sig, func() error {
			defer func() { calls <- struct{}{} }()
			if fail.Load() {
				return errors.New("broken clients.json")
			}
			return nil
		}, lg)
		close(done)
	}()
	sig <- syscall.SIGHUP
	<-calls
	fail.Store(true)
	sig <- syscall.SIGHUP
	<-calls
	cancel()
	<-done
	if !strings.Contains(logs.String(), "reloaded clients and revocation list on SIGHUP") || !strings.Contains(logs.String(), "broken clients.json") {
		t.Fatalf("logs: %s", logs.String())
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "65536": 65536, "64KiB": 64 << 10, "256MiB": 256 << 20, "2GiB": 2 << 30} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1KiB", "100", "1.5GiB", "1TB", "99999999999GiB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}

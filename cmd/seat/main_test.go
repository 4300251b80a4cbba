package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/airseal/airseal/internal/scripttest"
	"github.com/airseal/airseal/internal/seatserver"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/internal/selfsigned"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/seat"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"seat":       func() { os.Exit(run()) },
		"seatserver": seatServer,
	})
}

func TestScripts(t *testing.T) {
	cmds := scripttest.Commands()
	// waitfile FILE waits up to 60 s (a loaded machine) for FILE to exist.
	cmds["waitfile"] = func(ts *testscript.TestScript, neg bool, args []string) {
		for end := time.Now().Add(time.Minute); time.Now().Before(end); {
			if _, err := os.Stat(ts.MkAbs(args[0])); err == nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		ts.Fatalf("%s did not appear", args[0])
	}
	// envfile VAR FILE sets VAR to the first line of FILE.
	cmds["envfile"] = func(ts *testscript.TestScript, neg bool, args []string) {
		line, _, _ := strings.Cut(ts.ReadFile(args[1]), "\n")
		ts.Setenv(args[0], line)
	}
	// freeurl VAR sets VAR to http://127.0.0.1:PORT of a closed port.
	cmds["freeurl"] = func(ts *testscript.TestScript, neg bool, args []string) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		ts.Setenv(args[0], "http://"+ln.Addr().String())
		ln.Close()
	}
	testscript.Run(t, testscript.Params{
		Dir:  "testdata",
		Cmds: cmds,
		Setup: func(e *testscript.Env) error {
			e.Setenv("AIRSEAL_SEAT_LEASES", e.WorkDir+"/leases.json")
			e.Setenv("HOME", e.WorkDir)
			return nil
		},
	})
}

// seatServer runs a real license server (internal/seatserver, memory
// store) on loopback until it is killed, for the scripts:
//
//	seatserver [-seats N] [-product P] [-vendor SEED] DIR
//
// It writes DIR/vendor.pub (the vendor key, seed 1), DIR/other.pub
// (another vendor, seed 9), DIR/token (the client token of user app1, the same on every test server) and
// finally DIR/url. The installed license is signed by vendor SEED: with
// -vendor 9 clients trusting vendor.pub must refuse the server.
func seatServer() {
	fs := flag.NewFlagSet("seatserver", flag.ExitOnError)
	seats := fs.Int("seats", 2, "seats licensed")
	product := fs.String("product", "acme-erp", "product licensed")
	vendorSeed := fs.Int("vendor", 1, "seed of the vendor key that signs the server license")
	addrFlag := fs.String("addr", "127.0.0.1:0", "listen address")
	useTLS := fs.Bool("tls", false, "serve TLS with a self-signed certificate for 127.0.0.1 written to DIR/cert.pem")
	_ = fs.Parse(os.Args[1:])
	dir := fs.Arg(0)
	die := func(err error) {
		fmt.Fprintln(os.Stderr, "seatserver:", err)
		os.Exit(1)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		die(err)
	}
	vendorKey := func(b byte) *keys.PrivateKey {
		k, err := keys.NewPrivateKey(bytes.Repeat([]byte{b}, 32))
		if err != nil {
			die(err)
		}
		return k
	}
	vendor, other, signer := vendorKey(1), vendorKey(9), vendorKey(byte(*vendorSeed))
	for name, k := range map[string]*keys.PrivateKey{"vendor.pub": vendor, "other.pub": other} {
		if err := os.WriteFile(filepath.Join(dir, name), k.Public().MarshalPublic(), 0o644); err != nil {
			die(err)
		}
	}
	respKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x40}, 32))
	now := time.Now().UTC().Truncate(time.Second)
	sl := &license.ServerLicense{
		License: license.License{Serial: "SEAT-TEST-0001", Product: *product, Kind: license.KindMain,
			Customer: license.Customer{Name: "Romashka LLC"}, IssuedAt: now.Add(-time.Hour), NotBefore: now.Add(-time.Hour), Seats: *seats,
			Features: []license.Feature{{Name: "lines", Value: 1000}}, DemoLimits: []license.Feature{{Name: "lines", Value: 3}}},
		SeatUnit: license.PerSession,
		Nodes:    []license.Node{{Name: "srv1", ResponseKey: respKey.Public().(ed25519.PublicKey)}},
	}
	if err := sl.Sign(signer); err != nil {
		die(err)
	}
	arm, err := sl.Armor()
	if err != nil {
		die(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	store := seatstore.NewMemory()
	// The same token for app1 on every test server (as an admin would set up
	// reserve servers), stored as the server stores tokens: its SHA-256.
	const tok = "script-token-for-app1-0123456789abcdef"
	if err := store.Commit(ctx, seatstore.Change{PutTokens: []seatstore.TokenRecord{
		{Name: "app1", Role: seat.RoleClient, SHA256: sha256.Sum256([]byte(tok)), Created: now}}}); err != nil {
		die(err)
	}
	srv, err := seatserver.New(ctx, seatserver.Config{Store: store, Key: respKey, Keyring: keys.NewKeyring(signer.Public()),
		Machine: func(string) (*license.Machine, error) {
			return &license.Machine{Virtualization: "none", RootRead: true}, nil
		}, Node: "srv1", Version: "test"})
	if err != nil {
		die(err)
	}
	if _, err := srv.Install(ctx, arm, "", ""); err != nil {
		die(err)
	}
	ln, err := net.Listen("tcp", *addrFlag)
	if err != nil {
		die(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(tok+"\n"), 0o600); err != nil {
		die(err)
	}
	// DIR/url is written then renamed (below): a script waiting for the
	// file never reads it half written.
	opts, scheme := seatserver.RunOptions{Sweep: time.Second}, "http://"
	if *useTLS {
		opts.CertFile, opts.KeyFile, scheme = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), "https://"
		if err := selfsigned.WriteFiles(opts.CertFile, opts.KeyFile, []string{"127.0.0.1"}, 90*24*time.Hour, false); err != nil {
			die(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "url.tmp"), []byte(scheme+ln.Addr().String()+"\n"), 0o644); err != nil {
		die(err)
	}
	if err := os.Rename(filepath.Join(dir, "url.tmp"), filepath.Join(dir, "url")); err != nil {
		die(err)
	}
	if err := srv.Run(ctx, ln, opts); err != nil {
		die(err)
	}
	os.Exit(0)
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/airseal/airseal/pkg/seat"
)

// crashClient is one client of the crash test: the leases it holds as
// acknowledged by the server, and at most one operation whose outcome it
// does not know (the server died while answering).
type crashClient struct {
	id    int
	token string
	held  map[string]string // ClientSessionID → lease ID, acknowledged
	doubt *crashOp
	next  int
}

type crashOp struct {
	kind    string // checkout, renew, release
	session string
	lease   string
}

// TestCrash kills the server with SIGKILL at random moments while several
// clients check out, renew and release seats, restarts it, and checks
// after every restart: every acknowledged lease is still there (and
// renews), no lease is there that no client holds or has in doubt, no
// session holds two, and the seats in use never exceed the seats licensed.
// It runs 24 kill points; it takes about a minute, so it needs
// AIRSEAL_INTEGRATION=1.
func TestCrash(t *testing.T) {
	if os.Getenv("AIRSEAL_INTEGRATION") != "1" {
		t.Skip("crash test takes about a minute: set AIRSEAL_INTEGRATION=1")
	}
	const seats, clients, kills = 5, 6, 24
	work := t.TempDir()
	bin := filepath.Join(work, "license-server")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	root := unpackFixture(t, work, "bm-dell-poweredge-r440")
	dir := filepath.Join(work, "srv")
	env := append(os.Environ(), "AIRSEAL_PASSPHRASE=crash test")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env, cmd.Dir = env, work
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("license-server %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		return strings.TrimSpace(out.String())
	}
	vend := func(args ...string) {
		t.Helper()
		if err := vendorIn(work, args); err != nil {
			t.Fatal(err)
		}
	}
	vend("keygen", "acme")
	run("init", "--dir", dir, "--product", "acme-erp", "--customer", "Romashka LLC", "--pub", "acme.pub", "--root", root)
	vend("issue", "acme", filepath.Join(dir, "server-request.json"), "main.lic", fmt.Sprintf("seats=%d", seats))
	run("license", "add", "main.lic", "--dir", dir, "--root", root)
	admin := "ops:" + run("token", "add", "ops", "--role", "admin", "--dir", dir)
	cs := make([]*crashClient, clients)
	for i := range cs {
		name := fmt.Sprintf("c%d", i)
		cs[i] = &crashClient{id: i, token: name + ":" + run("token", "add", name, "--dir", dir), held: map[string]string{}}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr
	hc := &http.Client{Timeout: 5 * time.Second}

	inDoubt := 0 // operations the server died answering, retried after the restart
	for round := 0; round < kills; round++ {
		srv := exec.Command(bin, "serve", "--addr", addr, "--dir", dir, "--root", root, "--lease", "10m", "--log-level", "error")
		srv.Env, srv.Dir = env, work
		var serr bytes.Buffer
		srv.Stderr = &serr
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		waitUp(t, hc, base)
		// After the restart: resolve what each client was unsure of, then
		// compare the server's leases with what the clients hold.
		for _, c := range cs {
			if c.doubt != nil {
				inDoubt++
			}
			c.resolve(t, hc, base)
		}
		checkLeases(t, hc, base, admin, cs, seats, round)
		// Load from every client until the kill.
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for _, c := range cs {
			wg.Add(1)
			go func(c *crashClient) {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(round), uint64(c.id)))
				for ctx.Err() == nil && c.doubt == nil {
					c.step(t, hc, base, rng)
				}
			}(c)
		}
		time.Sleep(time.Duration(50+rand.IntN(400)) * time.Millisecond)
		if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = srv.Wait()
		cancel()
		wg.Wait()
		if t.Failed() {
			t.Fatalf("round %d; server log:\n%s", round, serr.String())
		}
	}
	// A last start: the final state.
	srv := exec.Command(bin, "serve", "--addr", addr, "--dir", dir, "--root", root, "--lease", "10m", "--log-level", "error")
	srv.Env, srv.Dir = env, work
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Signal(syscall.SIGTERM); _ = srv.Wait() }()
	waitUp(t, hc, base)
	for _, c := range cs {
		if c.doubt != nil {
			inDoubt++
		}
		c.resolve(t, hc, base)
	}
	checkLeases(t, hc, base, admin, cs, seats, kills)
	t.Logf("%d kills; %d operations were in flight at a kill and were retried", kills, inDoubt)
}

func unpackFixture(t *testing.T, work, name string) string {
	t.Helper()
	a, err := txtar.ParseFile(filepath.Join("../../pkg/hwid/testdata/envs", name+".txtar"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(work, "envs", name)
	for _, f := range a.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func vendorIn(dir string, args []string) error {
	old, err := os.Getwd()
	if err != nil {
		return err
	}
	if err := os.Chdir(dir); err != nil {
		return err
	}
	defer os.Chdir(old)
	return vendor(args)
}

func waitUp(t *testing.T, hc *http.Client, base string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if res, err := hc.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("server did not come up")
}

// call sends one request; ok is false when no answer came (the server
// died): the outcome is then unknown.
func call(hc *http.Client, base, method, path, cred string, body any) (status int, out []byte, ok bool) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return 0, nil, false
	}
	u, p, _ := strings.Cut(cred, ":")
	req.SetBasicAuth(u, p)
	req.Header.Set(seat.HeaderQueryID, fmt.Sprintf("crash-%016x", rand.Uint64()))
	res, err := hc.Do(req)
	if err != nil {
		return 0, nil, false
	}
	defer res.Body.Close()
	out, err = io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, false
	}
	return res.StatusCode, out, true
}

func (c *crashClient) sessionID(n int) string { return fmt.Sprintf("crash-c%d-s%06d", c.id, n) }

// do performs op and records an acknowledged outcome; it returns false
// when the outcome is unknown.
func (c *crashClient) do(t *testing.T, hc *http.Client, base string, op crashOp) bool {
	switch op.kind {
	case "checkout":
		st, b, ok := call(hc, base, "POST", seat.PathSessions, c.token, seat.CheckoutRequest{Product: "acme-erp", ClientSessionID: op.session, ComputerName: fmt.Sprintf("ws-%d", c.id), UserName: "u"})
		if !ok {
			return false
		}
		switch st {
		case 200, 201:
			var s seat.Session
			if err := json.Unmarshal(b, &s); err != nil || s.ID == "" {
				t.Errorf("client %d checkout: %d %s", c.id, st, b)
				return true
			}
			if old, had := c.held[op.session]; had && old != s.ID {
				t.Errorf("client %d: session %s got a second lease %s (had %s)", c.id, op.session, s.ID, old)
			}
			c.held[op.session] = s.ID
		case 409, 503:
		default:
			t.Errorf("client %d checkout: %d %s", c.id, st, b)
		}
	case "renew":
		st, b, ok := call(hc, base, "POST", seat.RenewPath(op.lease), c.token, nil)
		if !ok {
			return false
		}
		if st != 200 {
			t.Errorf("client %d: acknowledged lease %s of %s lost: renew %d %s", c.id, op.lease, op.session, st, b)
			delete(c.held, op.session)
		}
	case "release":
		st, b, ok := call(hc, base, "DELETE", seat.SessionPath(op.lease), c.token, nil)
		if !ok {
			return false
		}
		if st != 200 && st != 202 {
			t.Errorf("client %d release: %d %s", c.id, st, b)
		}
		delete(c.held, op.session)
	}
	return true
}

func (c *crashClient) step(t *testing.T, hc *http.Client, base string, rng *rand.Rand) {
	var op crashOp
	r := rng.IntN(10)
	switch {
	case len(c.held) == 0 || (r < 4 && len(c.held) < 2):
		c.next++
		op = crashOp{kind: "checkout", session: c.sessionID(c.next)}
	case r < 8:
		for s, l := range c.held {
			op = crashOp{kind: "renew", session: s, lease: l}
			break
		}
	default:
		for s, l := range c.held {
			op = crashOp{kind: "release", session: s, lease: l}
			break
		}
	}
	if !c.do(t, hc, base, op) {
		c.doubt = &op
	}
}

// resolve retries the operation in doubt until it gets an answer.
func (c *crashClient) resolve(t *testing.T, hc *http.Client, base string) {
	if c.doubt == nil {
		return
	}
	for i := 0; i < 100; i++ {
		if c.do(t, hc, base, *c.doubt) {
			c.doubt = nil
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("client %d: no answer to %+v", c.id, *c.doubt)
}

func checkLeases(t *testing.T, hc *http.Client, base, admin string, cs []*crashClient, seats, round int) {
	t.Helper()
	st, b, ok := call(hc, base, "GET", seat.PathSessions, admin, nil)
	if !ok || st != 200 {
		t.Fatalf("round %d: GET /api/sessions: %d %s", round, st, b)
	}
	var ss seat.Sessions
	if err := json.Unmarshal(b, &ss); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, c := range cs {
		for s, l := range c.held {
			want[l] = s
		}
	}
	got := map[string]bool{}
	perSession := map[string]int{}
	for _, s := range ss.Sessions {
		got[s.ID] = true
		perSession[s.ClientSessionID]++
		if _, ok := want[s.ID]; !ok {
			t.Errorf("round %d: server holds lease %s of %s that no client holds (counted twice or leaked)", round, s.ID, s.ClientSessionID)
		}
	}
	for l, s := range want {
		if !got[l] {
			t.Errorf("round %d: acknowledged lease %s of %s lost by the server", round, l, s)
		}
	}
	for s, n := range perSession {
		if n > 1 {
			t.Errorf("round %d: session %s holds %d leases", round, s, n)
		}
	}
	if len(ss.Sessions) > seats {
		t.Errorf("round %d: %d seats in use, %d licensed", round, len(ss.Sessions), seats)
	}
	t.Logf("round %d: %d leases held and verified", round, len(ss.Sessions))
}

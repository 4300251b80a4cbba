package seat_test

// End-to-end tests of the client against the real server
// (internal/seatserver) over loopback HTTP, both on one fake clock so
// heartbeats and expiry are driven by the test.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/seatserver"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/seat"
)

type realServer struct {
	t      *testing.T
	cfg    seatserver.Config
	srv    *seatserver.Server
	addr   string
	url    string
	user   string
	token  string
	serial string
	stop   func()
}

// startReal runs a real seat server whose node key has seed keySeed, with
// a license of seats seats of acme-db signed by vendor.
func startReal(t *testing.T, clock *seat.FakeClock, vendor *keys.PrivateKey, keySeed byte, seats int) *realServer {
	t.Helper()
	ctx := context.Background()
	key := seat.FakeResponseKey(keySeed)
	store := seatstore.NewMemory()
	// One token for app1 on every test server, as an admin would create on
	// each reserve server; stored, as the server does, as its SHA-256.
	const tok = "e2e-token-for-app1-0123456789abcdef"
	if err := store.Commit(ctx, seatstore.Change{PutTokens: []seatstore.TokenRecord{
		{Name: "app1", Role: seat.RoleClient, SHA256: sha256.Sum256([]byte(tok)), Created: clock.Now()}}}); err != nil {
		t.Fatal(err)
	}
	rs := &realServer{t: t, user: "app1", token: tok, serial: "E2E-" + string(rune('A'+keySeed%26)) + "-0001"}
	rs.cfg = seatserver.Config{Store: store, Key: key, Keyring: keys.NewKeyring(vendor.Public()), Now: clock.Now, Node: "srv1", Version: "e2e",
		Lease: 5 * time.Minute, Machine: func(string) (*license.Machine, error) {
			return &license.Machine{Virtualization: "none", RootRead: true}, nil
		}}
	rs.start("127.0.0.1:0")
	nb := seat.FakeEpoch.Add(-24 * time.Hour)
	sl := &license.ServerLicense{
		License: license.License{Serial: rs.serial, Product: "acme-db", Kind: license.KindMain, Customer: license.Customer{Name: "Romashka LLC"},
			IssuedAt: nb, NotBefore: nb, Seats: seats, Features: []license.Feature{{Name: "lines", Value: 1000}}},
		SeatUnit: license.PerSession,
		Nodes:    []license.Node{{Name: "srv1", ResponseKey: key.Public().(ed25519.PublicKey)}},
	}
	if err := sl.Sign(vendor); err != nil {
		t.Fatal(err)
	}
	arm, err := sl.Armor()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rs.srv.Install(ctx, arm, "", ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.stop() })
	return rs
}

// start serves on addr (":0" for a new port; the old address to restart).
func (rs *realServer) start(addr string) {
	rs.t.Helper()
	srv, err := seatserver.New(context.Background(), rs.cfg)
	if err != nil {
		rs.t.Fatal(err)
	}
	var ln net.Listener
	for i := 0; i < 100; i++ { // the old port may take a moment to be free
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		rs.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- srv.Run(ctx, ln, seatserver.RunOptions{Sweep: 20 * time.Millisecond, ShutdownGrace: time.Second})
	}()
	rs.srv, rs.addr, rs.url = srv, ln.Addr().String(), "http://"+ln.Addr().String()
	var once sync.Once
	rs.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				rs.t.Errorf("Run: %v", err)
			}
		})
	}
}

func (rs *realServer) inUse() int {
	n := 0
	for _, l := range rs.srv.Licences() {
		n += l.InUse
	}
	return n
}

type e2e struct {
	t      *testing.T
	clock  *seat.FakeClock
	vendor *keys.PrivateKey
	mu     sync.Mutex
	lost   []error
	modes  []string
}

func newE2E(t *testing.T) *e2e {
	return &e2e{t: t, clock: seat.NewFakeClock(seat.FakeEpoch), vendor: seat.FakeVendor(1)}
}

func (e *e2e) client(manual bool, srvs ...*realServer) *seat.Client {
	e.t.Helper()
	cfg := seat.Config{Keyring: keys.NewKeyring(e.vendor.Public()), Product: "acme-db", User: "app1", Clock: e.clock,
		Backoff: time.Second, Attempts: 1, ConnectTimeout: 10 * time.Second, RequestTimeout: 30 * time.Second, ManualRenew: manual,
		OnLost: func(l *seat.Lease, err error) { e.mu.Lock(); e.lost = append(e.lost, err); e.mu.Unlock() },
		OnModeChange: func(l *seat.Lease, from, to seat.Mode) {
			e.mu.Lock()
			e.modes = append(e.modes, string(from)+"->"+string(to))
			e.mu.Unlock()
		}}
	for _, s := range srvs {
		cfg.Servers = append(cfg.Servers, s.url)
		cfg.Token = s.token
	}
	c, err := seat.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// beat advances the clock to the heartbeat's next timer and waits until
// the heartbeat has acted.
func (e *e2e) beat(l *seat.Lease) time.Duration {
	e.t.Helper()
	d, ok := e.clock.NextTimer()
	if !ok {
		e.t.Fatal("no heartbeat timer")
	}
	e.clock.Advance(d)
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); {
		if e.clock.Waiters() > 0 {
			return d
		}
		select {
		case <-l.Done():
			return d
		default:
		}
		time.Sleep(time.Millisecond)
	}
	e.t.Fatal("the heartbeat did not act")
	return 0
}

func TestE2ECheckoutRenewRelease(t *testing.T) {
	e := newE2E(t)
	rs := startReal(t, e.clock, e.vendor, 0x41, 2)
	c := e.client(false, rs)
	ctx := context.Background()
	l, err := c.Checkout(ctx, seat.Request{ClientSessionID: "e2e-session-000000001", UserName: "ivanov", ComputerName: "ws-17"})
	if err != nil {
		t.Fatal(err)
	}
	info := l.Info()
	if info.Mode != seat.ModeLicensed || info.ID == "" || info.UsedLicence != rs.serial || info.Features["lines"] != 1000 || rs.inUse() != 1 {
		t.Fatalf("lease %+v, in use %d", info, rs.inUse())
	}
	// A retry with the same session ID (a network blip) keeps one seat.
	again, err := e.client(true, rs).Checkout(ctx, seat.Request{ClientSessionID: "e2e-session-000000001"})
	if err != nil || again.Info().ID != info.ID || rs.inUse() != 1 {
		t.Fatalf("retry: %v, %+v, in use %d", err, again.Info(), rs.inUse())
	}
	// Heartbeats renew the lease on the server.
	e.beat(l)
	e.beat(l)
	if got := l.Info().Expires; !got.After(info.Expires) || l.Err() != nil {
		t.Fatalf("not renewed: %v → %v (%v)", info.Expires, got, l.Err())
	}
	// Far past the original expiry, the seat is still held (renewed).
	for i := 0; i < 8; i++ {
		e.beat(l)
	}
	if l.Err() != nil || rs.inUse() != 1 {
		t.Fatalf("lost while renewed: %v, in use %d", l.Err(), rs.inUse())
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if rs.inUse() != 0 {
		t.Fatalf("in use after close: %d", rs.inUse())
	}
}

func TestE2ENoSeatDemoUntrusted(t *testing.T) {
	e := newE2E(t)
	rs := startReal(t, e.clock, e.vendor, 0x42, 1)
	c := e.client(true, rs)
	ctx := context.Background()
	if _, err := c.Checkout(ctx, seat.Request{}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Checkout(ctx, seat.Request{})
	var ns *seat.NoSeatError
	if !errors.As(err, &ns) || ns.InUse != 1 || ns.Seats != 1 || !strings.Contains(err.Error(), "1 of 1 seats of acme-db in use") {
		t.Fatalf("no seat: %v (%+v)", err, ns)
	}
	l, err := c.Checkout(ctx, seat.Request{Product: "not-installed"})
	if err != nil || l.Mode() != seat.ModeDemo {
		t.Fatalf("demo: %v", err)
	}
	// A client of another vendor does not trust this server.
	cfg := seat.Config{Servers: []string{rs.url}, Keyring: keys.NewKeyring(seat.FakeVendor(9).Public()), Product: "acme-db",
		User: "app1", Token: rs.token, Clock: e.clock, Attempts: 1, ManualRenew: true}
	other, _ := seat.New(cfg)
	if _, err := other.Checkout(ctx, seat.Request{}); !errors.Is(err, seat.ErrUntrustedServer) || !errors.Is(err, license.ErrUnknownKey) {
		t.Fatalf("other vendor: %v", err)
	}
	// Wrong token.
	cfg.Keyring, cfg.Token = keys.NewKeyring(e.vendor.Public()), "wrong"
	bad, _ := seat.New(cfg)
	if _, err := bad.Checkout(ctx, seat.Request{}); !errors.Is(err, seat.ErrUnauthorized) {
		t.Fatalf("wrong token: %v", err)
	}
}

// Two servers of the 1C ReservedServers kind (each its own license and
// key): the first dies, the heartbeat carries the lease to the second with
// the same session ID, and the seat is never lost.
func TestE2EFailover(t *testing.T) {
	e := newE2E(t)
	a := startReal(t, e.clock, e.vendor, 0x43, 2)
	b := startReal(t, e.clock, e.vendor, 0x44, 2)
	c := e.client(false, a, b)
	ctx := context.Background()
	l, err := c.Checkout(ctx, seat.Request{ClientSessionID: "e2e-failover-000000001"})
	if err != nil {
		t.Fatal(err)
	}
	if l.Info().Server != a.url {
		t.Fatalf("held by %s", l.Info().Server)
	}
	a.stop()
	e.beat(l)
	info := l.Info()
	if l.Err() != nil || info.Server != b.url || info.Mode != seat.ModeLicensed || b.inUse() != 1 {
		t.Fatalf("after failover: err %v, %+v, b in use %d", l.Err(), info, b.inUse())
	}
	e.beat(l)
	if l.Err() != nil || l.Info().Server != b.url {
		t.Fatalf("renewal on b: %v", l.Err())
	}
	e.mu.Lock()
	if len(e.lost) != 0 {
		t.Fatalf("lost: %v", e.lost)
	}
	e.mu.Unlock()
	l.Close(ctx)
	if b.inUse() != 0 {
		t.Fatalf("b in use after close: %d", b.inUse())
	}
}

// The server restarts (same store, same address): in its reclaim window it
// renews the known lease, so the client keeps its seat and its lease ID.
func TestE2ERestartKeepsLease(t *testing.T) {
	e := newE2E(t)
	rs := startReal(t, e.clock, e.vendor, 0x45, 1)
	c := e.client(false, rs)
	l, err := c.Checkout(context.Background(), seat.Request{})
	if err != nil {
		t.Fatal(err)
	}
	id := l.Info().ID
	rs.stop()
	rs.start(rs.addr)
	e.beat(l)
	if l.Err() != nil || l.Info().ID != id || rs.inUse() != 1 {
		t.Fatalf("after restart: %v, %+v, in use %d", l.Err(), l.Info(), rs.inUse())
	}
	// Another session cannot take the seat meanwhile.
	if _, err := e.client(true, rs).Checkout(context.Background(), seat.Request{}); err == nil {
		t.Fatal("a second seat was granted after the restart")
	}
	l.Close(context.Background())
}

// Removing the license takes the seat away; the client is told at its
// next renewal (OnLost with ErrLeaseLost), never silently.
func TestE2ELicenseRemoved(t *testing.T) {
	e := newE2E(t)
	rs := startReal(t, e.clock, e.vendor, 0x46, 2)
	c := e.client(false, rs)
	l, err := c.Checkout(context.Background(), seat.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.srv.Remove(context.Background(), rs.serial); err != nil {
		t.Fatal(err)
	}
	e.beat(l)
	<-l.Done()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !errors.Is(l.Err(), seat.ErrLeaseLost) || len(e.lost) != 1 {
		t.Fatalf("err %v, lost %v", l.Err(), e.lost)
	}
}

// When the server is gone for longer than the lease, the client keeps the
// seat exactly until the signed expiry, then reports it lost.
func TestE2EGrace(t *testing.T) {
	e := newE2E(t)
	rs := startReal(t, e.clock, e.vendor, 0x47, 2)
	c := e.client(false, rs)
	l, err := c.Checkout(context.Background(), seat.Request{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := l.Deadline()
	rs.stop()
	for i := 0; i < 200 && l.Err() == nil; i++ {
		e.beat(l)
		if l.Err() == nil && e.clock.Now().After(deadline) {
			t.Fatalf("held past the signed expiry: %v > %v", e.clock.Now(), deadline)
		}
	}
	if !errors.Is(l.Err(), seat.ErrGraceEnded) || !e.clock.Now().Equal(deadline) {
		t.Fatalf("err %v at %v, deadline %v", l.Err(), e.clock.Now(), deadline)
	}
}

func TestE2EDiagnose(t *testing.T) {
	e := newE2E(t)
	rs := startReal(t, e.clock, e.vendor, 0x48, 2)
	ds := seat.Diagnose(context.Background(), seat.Config{Servers: []string{rs.url}, Keyring: keys.NewKeyring(e.vendor.Public()),
		Product: "acme-db", User: "app1", Token: rs.token, Clock: e.clock})
	for _, s := range ds[0].Steps {
		if s.Result != seat.StepOK {
			t.Errorf("%s: %s %s %s", s.Name, s.Result, s.Cause, s.Detail)
		}
	}
	if rs.inUse() != 0 {
		t.Fatalf("diagnose left %d seats in use", rs.inUse())
	}
}

// tamperProxy stands between the client and the real server and changes
// answers to POST /api/sessions as an attacker on the network (or the
// customer's own proxy) would.
func tamperProxy(t *testing.T, target string, change func(resp *http.Response, body []byte) []byte) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method != http.MethodPost || resp.Request.URL.Path != seat.PathSessions {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		body = change(resp, body)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

// The real server's answers, replayed or altered on the way, are refused.
func TestE2ETamperedAnswers(t *testing.T) {
	type recorded struct {
		header http.Header
		body   []byte
		status int
	}
	var mu sync.Mutex
	var first *recorded
	cases := []struct {
		name   string
		change func(resp *http.Response, body []byte) []byte
		want   error
	}{
		{"replayed", func(resp *http.Response, body []byte) []byte {
			mu.Lock()
			defer mu.Unlock()
			if first == nil {
				first = &recorded{resp.Header.Clone(), body, resp.StatusCode}
				return body
			}
			resp.Header, resp.StatusCode = first.header.Clone(), first.status
			return first.body
		}, seat.ErrReplay},
		{"altered body", func(resp *http.Response, body []byte) []byte {
			out := bytes.Replace(body, []byte(`"lines":1000`), []byte(`"lines":9999`), 1)
			if bytes.Equal(out, body) {
				t.Errorf("the body has no \"lines\":1000 to change: %s", body)
			}
			return out
		}, seat.ErrUntrustedServer},
		{"altered status", func(resp *http.Response, body []byte) []byte {
			resp.StatusCode = http.StatusOK
			return body
		}, seat.ErrUntrustedServer},
		{"signature stripped", func(resp *http.Response, body []byte) []byte {
			resp.Header.Del(seat.HeaderSignature)
			return body
		}, seat.ErrUntrustedServer},
		{"query ID rewritten", func(resp *http.Response, body []byte) []byte {
			resp.Header.Set(seat.HeaderQueryID, "rewritten-query-id-00000")
			return body
		}, seat.ErrReplay},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newE2E(t)
			rs := startReal(t, e.clock, e.vendor, 0x49, 5)
			proxied := *rs
			proxied.url = tamperProxy(t, rs.url, tc.change)
			c := e.client(true, &proxied)
			ctx := context.Background()
			if tc.name == "replayed" {
				if _, err := c.Checkout(ctx, seat.Request{}); err != nil {
					t.Fatal(err)
				}
			}
			l, err := c.Checkout(ctx, seat.Request{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v (lease %v), want %v", err, l, tc.want)
			}
		})
	}
}

// The server's login limit: after ten failed logins a minute from this
// address the client is told so (ErrRateLimited), not "wrong token".
func TestE2ELoginLimit(t *testing.T) {
	e := newE2E(t)
	rs := startReal(t, e.clock, e.vendor, 0x4a, 2)
	bad := *rs
	bad.token = "wrong-token-0123456789"
	c := e.client(true, &bad)
	var err error
	for i := 0; i < 12 && !errors.Is(err, seat.ErrRateLimited); i++ {
		_, err = c.Checkout(context.Background(), seat.Request{})
		if i < 10 && !errors.Is(err, seat.ErrUnauthorized) {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	if !errors.Is(err, seat.ErrRateLimited) {
		t.Fatalf("after 12 failed logins: %v", err)
	}
}

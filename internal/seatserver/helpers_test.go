package seatserver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/internal/users"
	"github.com/airseal/airseal/pkg/fingerprint"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/seat"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// vendor signs test licenses.
type vendor struct {
	key *keys.PrivateKey
	n   atomic.Int64
}

func newVendor(t testing.TB) *vendor {
	k, err := keys.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &vendor{key: k}
}

func (v *vendor) ring() *keys.Keyring { return keys.NewKeyring(v.key.Public()) }

// lic describes a test license.
type lic struct {
	product, main, taxID string
	kind                 license.Kind
	seats                int
	unit                 license.SeatUnit
	expires              *time.Time
	notBefore            time.Time
	demo                 []license.Feature
	features             []license.Feature
	node                 *license.Node // default: unbound, named srv1, with the server's key
}

// issue signs a v2 license for the server key pub and returns its armor
// and serial.
func (v *vendor) issue(t testing.TB, pub ed25519.PublicKey, l lic) (string, string) {
	t.Helper()
	serial := fmt.Sprintf("T%015d", v.n.Add(1))
	if l.kind == 0 {
		l.kind = license.KindMain
	}
	if l.seats == 0 {
		l.seats = 2
	}
	if l.unit == 0 {
		l.unit = license.PerSession
	}
	if l.product == "" {
		l.product = "acme-erp"
	}
	nb := l.notBefore
	if nb.IsZero() {
		nb = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	node := license.Node{Name: "srv1", ResponseKey: pub}
	if l.node != nil {
		node = *l.node
	}
	sl := &license.ServerLicense{
		License: license.License{
			Serial: serial, Product: l.product, Kind: l.kind, MainSerial: l.main,
			Customer: license.Customer{Name: "Romashka LLC", TaxID: l.taxID},
			IssuedAt: nb, NotBefore: nb, Expires: l.expires, Seats: l.seats,
			Features: l.features, DemoLimits: l.demo,
		},
		SeatUnit: l.unit,
		Nodes:    []license.Node{node},
	}
	if err := sl.Sign(v.key); err != nil {
		t.Fatal(err)
	}
	arm, err := sl.Armor()
	if err != nil {
		t.Fatal(err)
	}
	return string(arm), serial
}

func bareMetal(string) (*license.Machine, error) {
	return &license.Machine{Virtualization: "none", RootRead: true}, nil
}

// env is a running test server.
type env struct {
	t      *testing.T
	v      *vendor
	key    ed25519.PrivateKey
	pub    ed25519.PublicKey
	store  seatstore.Store
	clock  *clock
	srv    *Server
	base   string
	stop   func()
	tokens map[string]string // role → "name:token"
	n      atomic.Int64
	cfg    Config
	sweep  time.Duration // Run's sweep interval (0: an hour, i.e. never in a test)
}

type envOpt func(*Config)

func newEnv(t *testing.T, opts ...envOpt) *env {
	t.Helper()
	e := &env{t: t, v: newVendor(t), store: seatstore.NewMemory(), clock: newClock(), tokens: map[string]string{}}
	_, e.key, _ = ed25519.GenerateKey(rand.Reader)
	e.pub = e.key.Public().(ed25519.PublicKey)
	for _, role := range []string{seat.RoleClient, seat.RoleIntegration, seat.RoleAdmin} {
		tok, err := NewToken(context.Background(), e.store, role+"1", role, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[role] = role + "1:" + tok
	}
	e.cfg = Config{Store: e.store, Key: e.key, Keyring: e.v.ring(), Machine: bareMetal, Now: e.clock.Now, Version: "test", Node: "srv1", Lease: 5 * time.Minute,
		// Tests log in often with production argon2id: no budget.
		LoginGate: users.NewGate(users.GateOptions{Share: 1, Burst: time.Hour, Concurrency: 2})}
	for _, o := range opts {
		o(&e.cfg)
	}
	e.start()
	t.Cleanup(func() { e.stop() })
	return e
}

// start starts (or restarts) the server on a new loopback port.
func (e *env) start() {
	e.t.Helper()
	srv, err := New(context.Background(), e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	sweep := e.sweep
	if sweep == 0 {
		sweep = time.Hour
	}
	go func() { done <- srv.Run(ctx, ln, RunOptions{Sweep: sweep}) }()
	e.srv, e.base = srv, "http://"+ln.Addr().String()
	stopped := false
	e.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("Run: %v", err)
		}
	}
}

func (e *env) restart() {
	e.stop()
	e.start()
}

// resp is a verified response.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r *resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

func (r *resp) apiErr(t testing.TB) seat.Error {
	t.Helper()
	var e seat.Error
	r.decode(t, &e)
	if e.Code != r.status || e.Text != http.StatusText(r.status) || e.Message == "" {
		t.Fatalf("error body %s does not match status %d", r.body, r.status)
	}
	return e
}

func (e *env) queryID() string {
	return fmt.Sprintf("q-%s-%06d", strings.Repeat("x", 10), e.n.Add(1))
}

// do sends a request as who ("" none, a role of e.tokens, or "name:secret")
// and verifies the response signature over the query ID it sent.
func (e *env) do(method, path, who string, body any) *resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	qid := e.queryID()
	req.Header.Set(seat.HeaderQueryID, qid)
	if who != "" {
		cred := who
		if c, ok := e.tokens[who]; ok {
			cred = c
		}
		name, secret, _ := strings.Cut(cred, ":")
		req.SetBasicAuth(name, secret)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := &resp{status: res.StatusCode, header: res.Header, body: b}
	if strings.HasPrefix(path, "/api") {
		e.verify(r, qid, method, req.URL.EscapedPath())
	}
	return r
}

// verify checks the signed-response headers as a client must.
func (e *env) verify(r *resp, qid, method, path string) {
	e.t.Helper()
	h := r.header
	if got := h.Get(seat.HeaderQueryID); got != qid {
		e.t.Fatalf("%s %s: %s = %q, want %q", method, path, seat.HeaderQueryID, got, qid)
	}
	if got := h.Get(seat.HeaderKey); got != seat.ResponseKeyID(e.pub) {
		e.t.Fatalf("%s %s: key ID %q", method, path, got)
	}
	ts := h.Get(seat.HeaderTime)
	if _, err := time.Parse(seat.TimeFormat, ts); err != nil {
		e.t.Fatalf("%s %s: %s %q: %v", method, path, seat.HeaderTime, ts, err)
	}
	sig, err := base64.StdEncoding.DecodeString(h.Get(seat.HeaderSignature))
	if err != nil {
		e.t.Fatalf("%s %s: signature: %v", method, path, err)
	}
	m := seat.Response{QueryID: qid, Method: method, Path: path, Status: r.status, Time: ts, Body: r.body}
	if err := m.VerifyAnswer(e.pub, sig, h.Get(seat.HeaderSignatureProof)); err != nil {
		e.t.Fatalf("%s %s (%d): %v", method, path, r.status, err)
	}
}

// install installs a license through the API as admin and wants status.
func (e *env) install(arm string, want int) *resp {
	e.t.Helper()
	r := e.do("POST", "/api/licences", seat.RoleAdmin, seat.InstallRequest{ActivationCodeString: arm})
	if r.status != want {
		e.t.Fatalf("install: %d %s, want %d", r.status, r.body, want)
	}
	return r
}

func (e *env) checkout(who, product, session, computer string) *resp {
	e.t.Helper()
	return e.do("POST", "/api/sessions", who, seat.CheckoutRequest{Product: product, ClientSessionID: session,
		AppName: "erp", UserName: "ivanov", ComputerName: computer, SessionStarted: "2026-12-01T08:59:00Z"})
}

func sid(i int) string { return fmt.Sprintf("session-%010d", i) }

// otherMachine is a machine binding no test machine matches by default.
func otherMachine(t testing.TB) *fingerprint.Fingerprint {
	return &fingerprint.Fingerprint{Need: 3, Components: []fingerprint.Component{
		{Name: "system_uuid", Weight: 3, Hash: fingerprint.HashValue("acme-erp", "system_uuid", "4c4c4544-0042")},
		{Name: "mac", Weight: 2, Hash: fingerprint.HashValue("acme-erp", "mac", "00:11:22:33:44:55")},
	}}
}

// machineOf returns facts of the machine fp was recorded on.
func machineOf(fp *fingerprint.Fingerprint, virt string) MachineFunc {
	return func(string) (*license.Machine, error) {
		return &license.Machine{Components: fp.Components, RootRead: true, Virtualization: virt}, nil
	}
}

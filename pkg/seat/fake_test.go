package seat

// An in-test seat server built from net/http, Response.Sign and a v2 server
// license issued with pkg/issuer, with hooks to play the attacker. The
// exported names are visible to the package's external tests and Examples.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/airseal/airseal/pkg/hwid"
	"github.com/airseal/airseal/pkg/issuer"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
)

// FakeClock is a Clock whose time moves only when Advance is called.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

// NewFakeClock starts a fake clock at t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{now: t} }

// Now returns the fake time.
func (f *FakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// After fires when Advance has moved the time by d.
func (f *FakeClock) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- f.now
		return ch
	}
	f.waiters = append(f.waiters, fakeWaiter{at: f.now.Add(d), ch: ch})
	return ch
}

// Advance moves the time and fires the timers that are due.
func (f *FakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	kept := f.waiters[:0]
	for _, w := range f.waiters {
		if !w.at.After(f.now) {
			w.ch <- f.now
		} else {
			kept = append(kept, w)
		}
	}
	f.waiters = kept
}

// Waiters is the number of timers pending.
func (f *FakeClock) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// NextTimer returns how long until the earliest pending timer, waiting
// up to 30 s (real time, for a loaded machine) for one to be set.
func (f *FakeClock) NextTimer() (time.Duration, bool) {
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); {
		f.mu.Lock()
		if len(f.waiters) > 0 {
			next := f.waiters[0].at
			for _, w := range f.waiters {
				if w.at.Before(next) {
					next = w.at
				}
			}
			d := next.Sub(f.now)
			f.mu.Unlock()
			return d, true
		}
		f.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	return 0, false
}

// FakeEpoch is the fake clocks' starting time.
var FakeEpoch = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// FakeVendor returns a fixed vendor key (seed b), never a committed file.
func FakeVendor(b byte) *keys.PrivateKey {
	k, err := keys.NewPrivateKey(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		panic(err)
	}
	return k
}

// FakeResponseKey returns a fixed node response key (seed b).
func FakeResponseKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, 32))
}

// IssueFakeServerLicense issues, as the vendor does with pkg/issuer, a v2
// server license for a node whose response key is pub, valid from a day
// before FakeEpoch. edit may change the order.
func IssueFakeServerLicense(vendor *keys.PrivateKey, node string, pub ed25519.PublicKey, edit func(*issuer.Order)) ([]byte, error) {
	data, err := os.ReadFile("../issuer/testdata/request.json")
	if err != nil {
		return nil, err
	}
	hw, err := hwid.ParseRequest(data)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "seat-test-ledger")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	o := issuer.Order{Seats: 10, Customer: "ООО «Ромашка»"}
	if edit != nil {
		edit(&o)
	}
	d, err := issuer.PrepareServer(o, &license.ServerRequest{Request: *hw, Node: node, ResponseKey: pub}, license.PerSession, FakeEpoch.Add(-24*time.Hour))
	if err != nil {
		return nil, err
	}
	is := &issuer.Issuer{Key: vendor, Ledger: &issuer.Ledger{Path: filepath.Join(dir, "vendor.ledger")}}
	out, err := is.IssueServer(d)
	if err != nil {
		return nil, err
	}
	return out.Armored, nil
}

// Answer is a response the fake server is about to send; Tamper hooks
// change it to play the attacker.
type Answer struct {
	Req     *http.Request
	QueryID string // signed and sent
	Method  string
	Path    string
	Status  int
	Time    string
	Body    []byte             // signed
	Key     ed25519.PrivateKey // signing key
	KeyID   string             // sent in Licence-Key
	// After signing: what is sent, when set.
	SentBody    []byte
	SentQueryID string
	SentStatus  int
	Unsigned    bool // send no signature headers at all
}

// FakeServer is an in-test seat server.
type FakeServer struct {
	URL     string
	Product string
	Clock   Clock
	Key     ed25519.PrivateKey
	Licence []byte
	// Token, when set, is the Basic-auth password every /api call needs
	// (user "app").
	Token string

	mu         sync.Mutex
	srv        *httptest.Server
	seats      int
	demo       bool
	down       bool
	lost       string
	lifetime   time.Duration
	renewEvery int
	leases     map[string]*Session // by ID
	bySession  map[string]string   // ClientSessionID → ID
	calls      map[string]int
	nextID     int
	tamper     func(*Answer)
	device     string
	refuseIP   bool
}

// NewFakeServer starts a fake server (plain HTTP on loopback) for product
// "acme-db" with seats seats, signing with key and presenting lic.
func NewFakeServer(clock Clock, key ed25519.PrivateKey, lic []byte, seats int) *FakeServer {
	return newFake(clock, key, lic, seats, false)
}

// NewFakeTLSServer is NewFakeServer over TLS, with httptest's certificate
// (for 127.0.0.1 and example.com; Certificate returns it).
func NewFakeTLSServer(clock Clock, key ed25519.PrivateKey, lic []byte, seats int) *FakeServer {
	return newFake(clock, key, lic, seats, true)
}

func newFake(clock Clock, key ed25519.PrivateKey, lic []byte, seats int, useTLS bool) *FakeServer {
	f := &FakeServer{Product: "acme-db", Clock: clock, Key: key, Licence: lic, seats: seats, lifetime: 5 * time.Minute,
		renewEvery: 60, leases: map[string]*Session{}, bySession: map[string]string{}, calls: map[string]int{}}
	if useTLS {
		f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	} else {
		f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	}
	f.URL = f.srv.URL
	return f
}

// CertPool returns a pool holding the TLS server's certificate.
func (f *FakeServer) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(f.srv.Certificate())
	return p
}

// SetDevice makes checkouts answer 403 with the device state (pending,
// denied, no_seat, subscription_ended), or "" for none.
func (f *FakeServer) SetDevice(state string) { f.mu.Lock(); f.device = state; f.mu.Unlock() }

// SetRefuseIP makes every request answer 403 (the IP lists).
func (f *FakeServer) SetRefuseIP(refuse bool) { f.mu.Lock(); f.refuseIP = refuse; f.mu.Unlock() }

// Close stops the server.
func (f *FakeServer) Close() { f.srv.Close() }

// SetDown makes the server drop every connection (down) or serve again.
func (f *FakeServer) SetDown(down bool) { f.mu.Lock(); f.down = down; f.mu.Unlock() }

// SetDemo makes checkouts answer demo mode (no valid license) or not.
func (f *FakeServer) SetDemo(demo bool) { f.mu.Lock(); f.demo = demo; f.mu.Unlock() }

// SetLost makes renewals answer 410 with reason (the license removed).
func (f *FakeServer) SetLost(reason string) { f.mu.Lock(); f.lost = reason; f.mu.Unlock() }

// SetTamper installs a hook run on every answer before it is sent.
func (f *FakeServer) SetTamper(fn func(*Answer)) { f.mu.Lock(); f.tamper = fn; f.mu.Unlock() }

// Calls returns how many times "METHOD /path" was called (renewals are
// counted under "POST renew").
func (f *FakeServer) Calls(what string) int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls[what] }

// InUse returns the leases held.
func (f *FakeServer) InUse() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.leases) }

func (f *FakeServer) fail(status int, msg string, extra func(*Error)) (int, any) {
	e := &Error{Code: status, Text: http.StatusText(status), Message: msg}
	if extra != nil {
		extra(e)
	}
	return status, e
}

// handle is the fake server's seat accounting; it runs under f.mu.
func (f *FakeServer) handle(r *http.Request, body []byte) (int, any) {
	now := f.Clock.Now().UTC().Truncate(time.Second)
	if f.refuseIP {
		return f.fail(http.StatusForbidden, "this address is not allowed to use the license server", nil)
	}
	if r.Method == http.MethodGet && r.URL.Path == PathAPI {
		return http.StatusOK, APIInfo{Version: "fake", Protocol: Protocol, Urns: []string{PathServerInfo, PathSessions}}
	}
	if f.Token != "" {
		if u, p, ok := r.BasicAuth(); !ok || u != "app" || p != f.Token {
			return f.fail(http.StatusUnauthorized, "wrong user or token; create one with 'license-server token add NAME'", nil)
		}
	}
	path := r.URL.EscapedPath()
	switch {
	case r.Method == http.MethodGet && path == PathServerInfo:
		f.calls["GET serverinfo"]++
		pub := f.Key.Public().(ed25519.PublicKey)
		return http.StatusOK, ServerInfo{ComputerName: "srv1", Version: "test", Started: now, Time: now, Node: "srv1",
			ResponseKey: base64.StdEncoding.EncodeToString(pub), ServerLicence: string(f.Licence), Mode: "licensed",
			LeaseSeconds: int(f.lifetime / time.Second)}
	case r.Method == http.MethodPost && path == PathSessions:
		f.calls["POST sessions"]++
		var req CheckoutRequest
		if err := json.Unmarshal(body, &req); err != nil || len(req.ClientSessionID) < 16 {
			return f.fail(http.StatusBadRequest, "ClientSessionID: 16 to 64 characters", nil)
		}
		if f.device != "" {
			return http.StatusForbidden, struct {
				Error
				State string
			}{Error{Code: 403, Text: "Forbidden", Message: "device " + f.device}, f.device}
		}
		if req.Product != f.Product {
			return http.StatusOK, Session{ClientSessionID: req.ClientSessionID, Product: req.Product, KeyID: req.Product,
				Mode: ModeDemo, Granted: now, Features: map[string]int64{"lines": 3}}
		}
		if f.demo {
			return http.StatusOK, Session{ClientSessionID: req.ClientSessionID, Product: req.Product, KeyID: req.Product,
				Mode: ModeDemo, Granted: now, RenewEvery: f.renewEvery, Features: map[string]int64{"lines": 3}}
		}
		if id, ok := f.bySession[req.ClientSessionID]; ok {
			s := f.leases[id]
			s.Expires = now.Add(f.lifetime)
			return http.StatusOK, *s
		}
		if len(f.leases) >= f.seats {
			return f.fail(http.StatusConflict, fmt.Sprintf("%d of %d seats of %s in use", len(f.leases), f.seats, f.Product), func(e *Error) {
				e.Product, e.InUse, e.Seats = f.Product, len(f.leases), f.seats
			})
		}
		f.nextID++
		s := &Session{ID: fmt.Sprintf("L-%04d", f.nextID), ClientSessionID: req.ClientSessionID, Product: req.Product,
			KeyID: req.Product, Mode: ModeLicensed, UserName: req.UserName, ComputerName: req.ComputerName, AppName: req.AppName,
			Granted: now, Expires: now.Add(f.lifetime), RenewEvery: f.renewEvery, Features: map[string]int64{"lines": 1000}}
		f.leases[s.ID], f.bySession[s.ClientSessionID] = s, s.ID
		return http.StatusCreated, *s
	case r.Method == http.MethodPost && strings.HasPrefix(path, PathSessions+"/") && strings.HasSuffix(path, "/renew"):
		f.calls["POST renew"]++
		id := strings.TrimSuffix(strings.TrimPrefix(path, PathSessions+"/"), "/renew")
		if f.lost != "" {
			return f.fail(http.StatusGone, "seat lost", func(e *Error) { e.Reason = f.lost })
		}
		s, ok := f.leases[id]
		if !ok {
			return f.fail(http.StatusNotFound, "unknown or expired lease "+id, nil)
		}
		s.Expires = now.Add(f.lifetime)
		return http.StatusOK, *s
	case r.Method == http.MethodDelete && strings.HasPrefix(path, PathSessions+"/"):
		f.calls["DELETE sessions"]++
		id := strings.TrimPrefix(path, PathSessions+"/")
		s, ok := f.leases[id]
		if !ok {
			return http.StatusAccepted, Release{ID: id}
		}
		delete(f.leases, id)
		delete(f.bySession, s.ClientSessionID)
		return http.StatusOK, Release{ID: id, Released: true}
	}
	return f.fail(http.StatusNotFound, "no such endpoint", nil)
}

// Reclaim drops every lease, as a server does with leases that expired
// while their clients were away.
func (f *FakeServer) Reclaim() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.leases, f.bySession = map[string]*Session{}, map[string]string{}
}

func (f *FakeServer) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	down, tamper := f.down, f.tamper
	f.mu.Unlock()
	if down {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // a reset, as from a dead host
				}
				c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	var in bytes.Buffer
	_, _ = in.ReadFrom(http.MaxBytesReader(w, r.Body, 64<<10))
	f.mu.Lock()
	status, out := f.handle(r, in.Bytes())
	set := "-"
	if len(f.Licence) > 0 {
		set = LicenceSetID([]string{string(f.Licence)})
	}
	f.mu.Unlock()
	body, _ := json.Marshal(out)
	a := &Answer{Req: r, QueryID: r.Header.Get(HeaderQueryID), Method: r.Method, Path: r.URL.EscapedPath(), Status: status,
		Time: f.Clock.Now().UTC().Format(TimeFormat), Body: body, Key: f.Key, KeyID: ResponseKeyID(f.Key.Public().(ed25519.PublicKey))}
	if tamper != nil {
		tamper(a)
	}
	sig := Response{QueryID: a.QueryID, Method: a.Method, Path: a.Path, Status: a.Status, Time: a.Time, Body: a.Body}.Sign(a.Key)
	sent, qid, st := a.Body, a.QueryID, a.Status
	if a.SentBody != nil {
		sent = a.SentBody
	}
	if a.SentQueryID != "" {
		qid = a.SentQueryID
	}
	if a.SentStatus != 0 {
		st = a.SentStatus
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if !a.Unsigned {
		h.Set(HeaderQueryID, qid)
		h.Set(HeaderTime, a.Time)
		h.Set(HeaderKey, a.KeyID)
		h.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
		h.Set(HeaderLicenceSet, set)
	}
	w.WriteHeader(st)
	_, _ = w.Write(sent)
}

package seatserver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/seat"
)

// clientClock gives pkg/seat the test clock; timers run in real time.
type clientClock struct{ c *clock }

func (k clientClock) Now() time.Time                         { return k.c.Now() }
func (k clientClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func (e *env) client(t *testing.T, role string, mut func(*seat.Config)) *seat.Client {
	t.Helper()
	name, secret, _ := strings.Cut(e.tokens[role], ":")
	cfg := seat.Config{Servers: []string{e.base}, Keyring: e.v.ring(), Product: "acme-erp", User: name, Token: secret,
		Clock: clientClock{e.clock}, ManualRenew: true, Attempts: 1}
	if mut != nil {
		mut(&cfg)
	}
	c, err := seat.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestWithClient: the real client package against the real server:
// checkout, idempotent retry, renew, release, no seat, a removed license
// told at the next renewal, demo mode.
func TestWithClient(t *testing.T) {
	e := newEnv(t)
	arm, serial := e.v.issue(t, e.pub, lic{seats: 1, demo: []license.Feature{{Name: "lines", Value: 3}}})
	e.install(arm, 201)
	ctx := context.Background()
	c := e.client(t, client, nil)
	l, err := c.Checkout(ctx, seat.Request{ClientSessionID: sid(1), ComputerName: "ws-1"})
	if err != nil {
		t.Fatal(err)
	}
	info := l.Info()
	if info.Mode != seat.ModeLicensed || info.ID == "" || info.UsedLicence != serial {
		t.Fatalf("lease %+v", info)
	}
	if !c.ClockFloor().Equal(e.clock.Now().Truncate(time.Second)) {
		t.Errorf("clock floor %s, want the signed server time %s", c.ClockFloor(), e.clock.Now())
	}
	// Same ClientSessionID again: the same lease.
	l2, err := c.Checkout(ctx, seat.Request{ClientSessionID: sid(1), ComputerName: "ws-1"})
	if err != nil || l2.Info().ID != info.ID {
		t.Fatalf("retry: %v %+v", err, l2.Info())
	}
	// The only seat is taken.
	if _, err := c.Checkout(ctx, seat.Request{ClientSessionID: sid(2), ComputerName: "ws-2"}); !errors.Is(err, seat.ErrNoSeat) {
		t.Fatalf("second seat: %v", err)
	}
	e.clock.Add(2 * time.Minute)
	if err := c.Renew(ctx, l); err != nil {
		t.Fatal(err)
	}
	if !l.Info().Expires.Equal(e.clock.Now().Add(5 * time.Minute)) {
		t.Fatalf("renewed until %s", l.Info().Expires)
	}
	// The license removed: the next renewal says the seat is lost.
	if r := e.do("DELETE", "/api/licences/"+serial, admin, nil); r.status != 200 {
		t.Fatal(r.status)
	}
	if err := c.Renew(ctx, l); !errors.Is(err, seat.ErrLeaseLost) {
		t.Fatalf("renew after removal: %v", err)
	}
	// The renewal's answer said the server's licenses changed (Licence-
	// Set): the client verified them again, found none, and trusts the
	// server no more (issue 10): not for the release (the server freed the
	// seat when the license went), not for a demo-mode answer.
	if err := c.Release(ctx, l); !errors.Is(err, seat.ErrUntrustedServer) {
		t.Fatalf("release after the removal: %v", err)
	}
	if _, err := c.Checkout(ctx, seat.Request{ClientSessionID: sid(3)}); !errors.Is(err, seat.ErrUntrustedServer) {
		t.Fatalf("checkout from a server whose license was removed: %v", err)
	}
	// A license installed again: trusted again.
	e.install(arm, 201)
	if l3, err := c.Checkout(ctx, seat.Request{ClientSessionID: sid(3)}); err != nil || l3.Mode() != seat.ModeLicensed {
		t.Fatalf("after the license came back: %v", err)
	}
	if r := e.do("DELETE", "/api/licences/"+serial, admin, nil); r.status != 200 {
		t.Fatal(r.status)
	}
	// A new client cannot verify a server that has no license: refused
	// (the product falls back to demo mode on its own).
	fresh := e.client(t, client, nil)
	if _, err := fresh.Checkout(ctx, seat.Request{ClientSessionID: sid(4)}); !errors.Is(err, seat.ErrUntrustedServer) {
		t.Fatalf("server without license: %v", err)
	}
}

// TestClientRefusesFakeServer: a server whose license is signed by another
// vendor (a fake that says "granted" to everyone), or whose license names
// another response key, is refused by the client.
func TestClientRefusesFakeServer(t *testing.T) {
	ctx := context.Background()
	real := newEnv(t)
	// A fake server: its own key, a license it signed itself.
	fake := newEnv(t)
	forged, _ := fake.v.issue(t, fake.pub, lic{seats: 1000})
	fake.install(forged, 201)
	c := fake.client(t, client, func(cfg *seat.Config) { cfg.Keyring = real.v.ring() })
	if _, err := c.Checkout(ctx, seat.Request{ClientSessionID: sid(1)}); !errors.Is(err, seat.ErrUntrustedServer) {
		t.Fatalf("fake server: %v", err)
	}
	// A genuine license copied to a server with another key: the server
	// refuses to install it, and a client never trusts the other key.
	genuine, _ := real.v.issue(t, real.pub, lic{})
	other := newEnv(t, func(cfg *Config) { cfg.Keyring = real.v.ring() })
	if r := other.install(genuine, 400); !strings.Contains(r.apiErr(t).Message, "not named by license") {
		t.Fatal(string(r.body))
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	if seat.ResponseKeyID(otherKey.Public().(ed25519.PublicKey)) == seat.ResponseKeyID(real.pub) {
		t.Fatal("key IDs collide")
	}
}

// tamperProxy stands between the client and the real server and changes
// the answers to checkouts: "alter" flips the seats' mode in the body,
// "replay" answers with the first checkout answer it saw.
type tamperProxy struct {
	target string
	mode   string
	mu     sync.Mutex
	saved  *savedAnswer
}

type savedAnswer struct {
	status int
	header http.Header
	body   []byte
}

func (p *tamperProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, _ := http.NewRequest(r.Method, p.target+r.URL.RequestURI(), r.Body)
	req.Header = r.Header.Clone()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	a := &savedAnswer{res.StatusCode, res.Header.Clone(), body}
	if r.Method == "POST" && r.URL.Path == seat.PathSessions {
		p.mu.Lock()
		switch {
		case p.mode == "alter":
			a.body = bytes.Replace(a.body, []byte(`"Mode":"demo"`), []byte(`"Mode":"licensed"`), 1)
			a.body = bytes.Replace(a.body, []byte(`"RenewEvery":60`), []byte(`"RenewEvery":61`), 1)
		case p.mode == "replay" && p.saved == nil:
			p.saved = a
		case p.mode == "replay":
			a = p.saved
		}
		p.mu.Unlock()
	}
	for k, v := range a.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// TestClientRefusesTamperedAnswers: between the real server and the
// client, an altered answer and a replayed one are refused.
func TestClientRefusesTamperedAnswers(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"alter", "replay"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			arm, _ := e.v.issue(t, e.pub, lic{seats: 5})
			e.install(arm, 201)
			p := &tamperProxy{target: e.base, mode: mode}
			ps := httptest.NewServer(p)
			defer ps.Close()
			c := e.client(t, client, func(cfg *seat.Config) { cfg.Servers = []string{ps.URL} })
			first, err := c.Checkout(ctx, seat.Request{ClientSessionID: sid(1)})
			if mode == "alter" {
				if !errors.Is(err, seat.ErrUntrustedServer) {
					t.Fatalf("altered answer: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The second checkout gets the first answer again.
			_, err = c.Checkout(ctx, seat.Request{ClientSessionID: sid(2)})
			if !errors.Is(err, seat.ErrReplay) && !errors.Is(err, seat.ErrUntrustedServer) {
				t.Fatalf("replayed answer accepted: %v (first lease %s)", err, first.Info().ID)
			}
		})
	}
}

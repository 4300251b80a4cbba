package seat

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/issuer"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
)

// rig is a vendor, a fake clock and fake servers, each with its own
// response key and license.
type rig struct {
	t      *testing.T
	vendor *keys.PrivateKey
	clock  *FakeClock
	srvs   []*FakeServer
}

func newRig(t *testing.T, n, seats int) *rig {
	t.Helper()
	rg := &rig{t: t, vendor: FakeVendor(1), clock: NewFakeClock(FakeEpoch)}
	for i := 0; i < n; i++ {
		key := FakeResponseKey(byte(0x40 + i))
		lic, err := IssueFakeServerLicense(rg.vendor, "srv"+string(rune('1'+i)), key.Public().(ed25519.PublicKey), nil)
		if err != nil {
			t.Fatal(err)
		}
		f := NewFakeServer(rg.clock, key, lic, seats)
		t.Cleanup(f.Close)
		rg.srvs = append(rg.srvs, f)
	}
	return rg
}

func (rg *rig) config(edit func(*Config)) Config {
	cfg := Config{Keyring: keys.NewKeyring(rg.vendor.Public()), Product: "acme-db", Clock: rg.clock, Backoff: time.Second,
		ConnectTimeout: 10 * time.Second, RequestTimeout: 30 * time.Second, Attempts: 1}
	for _, f := range rg.srvs {
		cfg.Servers = append(cfg.Servers, f.URL)
	}
	if edit != nil {
		edit(&cfg)
	}
	return cfg
}

func (rg *rig) client(edit func(*Config)) *Client {
	rg.t.Helper()
	c, err := New(rg.config(edit))
	if err != nil {
		rg.t.Fatal(err)
	}
	return c
}

func manual(c *Config) { c.ManualRenew = true }

const testSession = "session-0123456789abcdef"

func TestCheckoutRenewRelease(t *testing.T) {
	rg := newRig(t, 1, 2)
	c := rg.client(manual)
	ctx := context.Background()
	l, err := c.Checkout(ctx, Request{ClientSessionID: testSession, UserName: "ivanov", ComputerName: "ws-17"})
	if err != nil {
		t.Fatal(err)
	}
	info := l.Info()
	if info.Mode != ModeLicensed || info.ID == "" || info.Product != "acme-db" || info.Server != rg.srvs[0].URL ||
		info.RenewEvery != time.Minute || info.Features["lines"] != 1000 || !info.ServerTime.Equal(FakeEpoch) {
		t.Fatalf("lease %+v", info)
	}
	if got := l.Deadline(); !got.Equal(FakeEpoch.Add(5 * time.Minute)) {
		t.Fatalf("deadline %v", got)
	}
	if !c.ClockFloor().Equal(FakeEpoch) {
		t.Fatalf("clock floor %v", c.ClockFloor())
	}
	// A retry with the same session ID keeps the one seat (idempotent).
	l2, err := c.Checkout(ctx, Request{ClientSessionID: testSession})
	if err != nil || l2.Info().ID != info.ID || rg.srvs[0].InUse() != 1 {
		t.Fatalf("retry: %v, %+v, in use %d", err, l2.Info(), rg.srvs[0].InUse())
	}
	rg.clock.Advance(time.Minute)
	if err := c.Renew(ctx, l); err != nil {
		t.Fatal(err)
	}
	if got := l.Info().Expires; !got.Equal(FakeEpoch.Add(6 * time.Minute)) {
		t.Fatalf("renewed expiry %v", got)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if rg.srvs[0].InUse() != 0 || !errors.Is(l.Err(), ErrClosed) {
		t.Fatalf("after close: in use %d, err %v", rg.srvs[0].InUse(), l.Err())
	}
	// Release of a lease the server no longer holds is not an error.
	if err := c.Release(ctx, l2); err != nil {
		t.Fatal(err)
	}
	// The trust check ran once per server, not per request.
	if n := rg.srvs[0].Calls("GET serverinfo"); n != 1 {
		t.Fatalf("serverinfo fetched %d times", n)
	}
}

// TestRenewCancelledKeepsLease: a renewal the caller cancels (shutdown,
// its own deadline) is not a refusal: the lease is not lost and renews
// afterwards.
func TestRenewCancelledKeepsLease(t *testing.T) {
	rg := newRig(t, 1, 2)
	c := rg.client(manual)
	l, err := c.Checkout(context.Background(), Request{ClientSessionID: testSession})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Renew(ctx, l); !errors.Is(err, context.Canceled) {
		t.Fatalf("renew with a cancelled context: %v", err)
	}
	if err := l.Err(); err != nil {
		t.Fatalf("lease lost by a cancelled renewal: %v", err)
	}
	if err := c.Renew(context.Background(), l); err != nil {
		t.Fatalf("renew afterwards: %v", err)
	}
}

func TestNoSeat(t *testing.T) {
	rg := newRig(t, 1, 1)
	c := rg.client(manual)
	if _, err := c.Checkout(context.Background(), Request{}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Checkout(context.Background(), Request{})
	var ns *NoSeatError
	if !errors.Is(err, ErrNoSeat) || !errors.As(err, &ns) || ns.InUse != 1 || ns.Seats != 1 || ns.Product != "acme-db" || !ns.Verified {
		t.Fatalf("got %v (%+v)", err, ns)
	}
	if !strings.Contains(err.Error(), "1 of 1 seats of acme-db in use") {
		t.Fatalf("message %q", err)
	}
}

func TestDemoMode(t *testing.T) {
	rg := newRig(t, 1, 1)
	rg.srvs[0].SetDemo(true)
	c := rg.client(manual)
	l, err := c.Checkout(context.Background(), Request{})
	if err != nil || l.Mode() != ModeDemo || l.Info().Features["lines"] != 3 {
		t.Fatalf("got %v, %+v", err, l)
	}
}

func TestUnauthorized(t *testing.T) {
	rg := newRig(t, 1, 1)
	rg.srvs[0].Token = "right-token"
	c := rg.client(func(c *Config) { c.ManualRenew, c.User, c.Token = true, "app", "wrong" })
	_, err := c.Checkout(context.Background(), Request{})
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("got %v", err)
	}
	c = rg.client(func(c *Config) { c.ManualRenew, c.User, c.Token = true, "app", "right-token" })
	if _, err := c.Checkout(context.Background(), Request{}); err != nil {
		t.Fatal(err)
	}
}

// TestRefusedResponses: every forged, replayed, altered or stale answer is
// refused, and a server whose license is not the vendor's is never trusted.
func TestRefusedResponses(t *testing.T) {
	otherVendor := FakeVendor(9)
	selfKey := FakeResponseKey(0x77)
	selfLic, err := IssueFakeServerLicense(otherVendor, "fake", selfKey.Public().(ed25519.PublicKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	expired := func(o *issuer.Order) {
		e := FakeEpoch.Add(-time.Hour)
		o.NotBefore = FakeEpoch.Add(-48 * time.Hour)
		o.Expires = &e
	}
	var recorded *Answer
	var recordMu sync.Mutex
	cases := []struct {
		name   string
		setup  func(rg *rig)
		want   []error
		detail string
	}{
		{"replayed answer (another query ID)", func(rg *rig) {
			rg.srvs[0].SetTamper(func(a *Answer) {
				if a.Path == PathSessions {
					a.QueryID = "an-older-query-id-0000" // signed for another query
				}
			})
		}, []error{ErrReplay}, "answers query"},
		{"recorded answer played back", func(rg *rig) {
			rg.srvs[0].SetTamper(func(a *Answer) {
				if a.Path != PathSessions {
					return
				}
				recordMu.Lock()
				defer recordMu.Unlock()
				if recorded == nil {
					cp := *a
					recorded = &cp
					return
				}
				*a = *recorded // the whole signed answer of an earlier query
			})
		}, []error{ErrReplay}, "answers query"},
		{"altered body", func(rg *rig) {
			rg.srvs[0].SetTamper(func(a *Answer) {
				if a.Path == PathSessions {
					a.SentBody = bytes.Replace(a.Body, []byte(`"lines":1000`), []byte(`"lines":9999`), 1)
				}
			})
		}, []error{ErrUntrustedServer}, "signature does not verify"},
		{"altered status", func(rg *rig) {
			rg.srvs[0].SetTamper(func(a *Answer) {
				if a.Path == PathSessions {
					a.SentStatus = 200
				}
			})
		}, []error{ErrUntrustedServer}, "signature does not verify"},
		{"stale time", func(rg *rig) {
			rg.srvs[0].SetTamper(func(a *Answer) {
				if a.Path == PathSessions {
					a.Time = FakeEpoch.Add(-6 * time.Minute).Format(TimeFormat)
				}
			})
		}, []error{ErrReplay, ErrClockSkew}, "from this machine's clock"},
		{"future time", func(rg *rig) {
			rg.srvs[0].SetTamper(func(a *Answer) { a.Time = FakeEpoch.Add(6 * time.Minute).Format(TimeFormat) })
		}, []error{ErrReplay, ErrClockSkew}, "from this machine's clock"},
		{"unknown key", func(rg *rig) {
			rg.srvs[0].SetTamper(func(a *Answer) {
				if a.Path == PathSessions {
					a.Key = selfKey
					a.KeyID = ResponseKeyID(selfKey.Public().(ed25519.PublicKey))
				}
			})
		}, []error{ErrUntrustedServer}, "does not name"},
		{"right key ID, other key", func(rg *rig) {
			rg.srvs[0].SetTamper(func(a *Answer) {
				if a.Path == PathSessions {
					a.Key = selfKey
				}
			})
		}, []error{ErrUntrustedServer}, "signature does not verify"},
		{"unsigned", func(rg *rig) {
			rg.srvs[0].SetTamper(func(a *Answer) { a.Unsigned = true })
		}, []error{ErrUntrustedServer}, "no Licence-QueryID"},
		{"fake server: self-made vendor key and license", func(rg *rig) {
			rg.srvs[0].Key, rg.srvs[0].Licence = selfKey, selfLic
		}, []error{ErrUntrustedServer, license.ErrUnknownKey}, "the server's license"},
		{"fake server: genuine license, own key", func(rg *rig) {
			rg.srvs[0].Key = selfKey
		}, []error{ErrUntrustedServer}, "does not name"},
		{"license seats raised", func(rg *rig) {
			rg.srvs[0].Licence = alterLicense(t, rg.srvs[0].Licence)
		}, []error{ErrUntrustedServer}, "the server's license"},
		{"v1 license", func(rg *rig) {
			rg.srvs[0].Licence = v1License(t, rg.vendor)
		}, []error{ErrUntrustedServer, license.ErrMalformed}, "v1 license"},
		{"no license", func(rg *rig) { rg.srvs[0].Licence = nil }, []error{ErrUntrustedServer}, "no ServerLicence"},
		{"expired license", func(rg *rig) {
			lic, err := IssueFakeServerLicense(rg.vendor, "srv1", rg.srvs[0].Key.Public().(ed25519.PublicKey), expired)
			if err != nil {
				t.Fatal(err)
			}
			rg.srvs[0].Licence = lic
		}, []error{ErrUntrustedServer, license.ErrExpired}, "expired"},
		{"oversized body", func(rg *rig) {
			rg.srvs[0].SetTamper(func(a *Answer) {
				if a.Path == PathSessions {
					a.Body = bytes.Repeat([]byte{' '}, MaxResponseSize+1)
				}
			})
		}, []error{ErrUntrustedServer}, "over"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rg := newRig(t, 1, 5)
			tc.setup(rg)
			c := rg.client(manual)
			ctx := context.Background()
			if tc.name == "recorded answer played back" {
				if _, err := c.Checkout(ctx, Request{}); err != nil {
					t.Fatal(err)
				}
			}
			l, err := c.Checkout(ctx, Request{})
			if err == nil {
				t.Fatalf("accepted: %+v", l.Info())
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("err = %v, want %v", err, w)
				}
			}
			if errors.Is(err, ErrNoSeat) || errors.Is(err, ErrUnreachable) && !errors.Is(err, ErrUntrustedServer) {
				t.Errorf("err = %v: a forged answer must be reported as untrusted", err)
			}
			if !strings.Contains(err.Error(), tc.detail) {
				t.Errorf("err = %v, want it to say %q", err, tc.detail)
			}
		})
	}
}

// alterLicense raises the seat count of a genuine license and keeps its
// signature.
func alterLicense(t *testing.T, arm []byte) []byte {
	t.Helper()
	s, err := license.DecodeServer(arm)
	if err != nil {
		t.Fatal(err)
	}
	s.Seats = 1000
	out, err := s.Armor()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func v1License(t *testing.T, vendor *keys.PrivateKey) []byte {
	t.Helper()
	is := &issuer.Issuer{Key: vendor, Ledger: &issuer.Ledger{Path: filepath.Join(t.TempDir(), "l")}}
	d, err := issuer.Prepare(issuer.Order{Customer: "c", Product: "acme-db", Seats: 5}, FakeEpoch.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	out, err := is.Issue(d, issuer.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out.Armored
}

func TestFailoverAtCheckout(t *testing.T) {
	rg := newRig(t, 2, 5)
	rg.srvs[0].SetDown(true)
	c := rg.client(manual)
	l, err := c.Checkout(context.Background(), Request{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Info().Server != rg.srvs[1].URL {
		t.Fatalf("held by %s", l.Info().Server)
	}
	// A fake first server does not stop the client from reaching the real
	// second one, and is not trusted for anything.
	rg.srvs[0].SetDown(false)
	rg.srvs[0].Key = FakeResponseKey(0x77)
	c = rg.client(manual)
	l, err = c.Checkout(context.Background(), Request{})
	if err != nil || l.Info().Server != rg.srvs[1].URL {
		t.Fatalf("got %v", err)
	}
	// Every server down: unreachable, naming each.
	rg.srvs[1].SetDown(true)
	rg.srvs[0].Key = FakeResponseKey(0x40)
	rg.srvs[0].SetDown(true)
	_, err = rg.client(manual).Checkout(context.Background(), Request{})
	var le *ListError
	if !errors.Is(err, ErrUnreachable) || !errors.As(err, &le) || len(le.Failures) != 2 {
		t.Fatalf("got %v", err)
	}
	// A list with an untrusted server among dead ones reports untrusted.
	rg.srvs[0].SetDown(false)
	rg.srvs[0].Key = FakeResponseKey(0x77)
	_, err = rg.client(manual).Checkout(context.Background(), Request{})
	if !errors.Is(err, ErrUntrustedServer) {
		t.Fatalf("got %v", err)
	}
}

func TestCheckoutRetriesWithBackoff(t *testing.T) {
	rg := newRig(t, 1, 5)
	rg.srvs[0].SetDown(true)
	c := rg.client(func(c *Config) { c.ManualRenew, c.Attempts = true, 3 })
	done := make(chan error, 1)
	go func() { _, err := c.Checkout(context.Background(), Request{}); done <- err }()
	// First pass fails, the client waits Backoff (1 s) then 2 s.
	for _, want := range []time.Duration{time.Second, 2 * time.Second} {
		d, ok := rg.clock.NextTimer()
		if !ok || d != want {
			t.Fatalf("backoff %v (%v), want %v", d, ok, want)
		}
		if want == 2*time.Second {
			rg.srvs[0].SetDown(false) // back before the last pass
		}
		rg.clock.Advance(d)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// events collects the callbacks of a client.
type events struct {
	mu    sync.Mutex
	lost  []error
	at    []time.Time
	modes []string
	lostC chan struct{}
}

func (e *events) install(clock Clock) func(*Config) {
	e.lostC = make(chan struct{}, 1)
	return func(c *Config) {
		c.OnLost = func(l *Lease, err error) {
			e.mu.Lock()
			e.lost = append(e.lost, err)
			e.at = append(e.at, clock.Now())
			e.mu.Unlock()
			e.lostC <- struct{}{}
		}
		c.OnModeChange = func(l *Lease, from, to Mode) {
			e.mu.Lock()
			e.modes = append(e.modes, string(from)+"->"+string(to))
			e.mu.Unlock()
		}
	}
}

// step advances the fake clock to the heartbeat's next timer and waits
// until the heartbeat has acted (set its next timer or ended).
func step(t *testing.T, clock *FakeClock, l *Lease) time.Duration {
	t.Helper()
	d, ok := clock.NextTimer()
	if !ok {
		t.Fatal("the heartbeat set no timer")
	}
	clock.Advance(d)
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); {
		if clock.Waiters() > 0 {
			return d
		}
		select {
		case <-l.Done():
			return d
		default:
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the heartbeat did not act")
	return 0
}

func TestHeartbeatFailoverKeepsSeat(t *testing.T) {
	rg := newRig(t, 2, 5)
	var ev events
	c := rg.client(ev.install(rg.clock))
	l, err := c.Checkout(context.Background(), Request{ClientSessionID: testSession})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	if d := step(t, rg.clock, l); d != time.Minute || rg.srvs[0].Calls("POST renew") != 1 {
		t.Fatalf("renewed after %v, %d renewals", d, rg.srvs[0].Calls("POST renew"))
	}
	rg.srvs[0].SetDown(true)
	step(t, rg.clock, l)
	info := l.Info()
	if info.Server != rg.srvs[1].URL || info.Mode != ModeLicensed || info.ClientSessionID != testSession || l.Err() != nil {
		t.Fatalf("after failover: %+v, %v", info, l.Err())
	}
	if rg.srvs[1].InUse() != 1 || rg.srvs[1].Calls("POST sessions") != 1 {
		t.Fatalf("second server: in use %d", rg.srvs[1].InUse())
	}
	// The lease stays on the second server: renewals go there.
	step(t, rg.clock, l)
	if rg.srvs[1].Calls("POST renew") != 1 {
		t.Fatalf("renewals on the second server: %d", rg.srvs[1].Calls("POST renew"))
	}
	if len(ev.lost) != 0 {
		t.Fatalf("lost: %v", ev.lost)
	}
}

func TestGraceBoundedByExpires(t *testing.T) {
	for _, grace := range []time.Duration{0, 90 * time.Second, time.Hour} {
		t.Run(grace.String(), func(t *testing.T) {
			rg := newRig(t, 2, 5)
			var ev events
			c := rg.client(func(c *Config) { ev.install(rg.clock)(c); c.Grace = grace })
			l, err := c.Checkout(context.Background(), Request{})
			if err != nil {
				t.Fatal(err)
			}
			start := rg.clock.Now()
			// One renewal at +1 min moves the deadline to +6 min.
			step(t, rg.clock, l)
			renewed := rg.clock.Now()
			want := renewed.Add(5 * time.Minute) // the signed Expires
			if grace > 0 && grace < 5*time.Minute {
				want = renewed.Add(grace)
			}
			if !l.Deadline().Equal(want) {
				t.Fatalf("deadline %v, want %v", l.Deadline(), want)
			}
			rg.srvs[0].SetDown(true)
			rg.srvs[1].SetDown(true)
			for i := 0; i < 100 && l.Err() == nil; i++ {
				step(t, rg.clock, l)
				if l.Err() == nil && rg.clock.Now().After(want) {
					t.Fatalf("still held at %v, past %v", rg.clock.Now(), want)
				}
			}
			<-ev.lostC
			if len(ev.lost) != 1 || !errors.Is(ev.lost[0], ErrGraceEnded) || !errors.Is(ev.lost[0], ErrUnreachable) {
				t.Fatalf("lost: %v", ev.lost)
			}
			if !ev.at[0].Equal(want) {
				t.Fatalf("lost at %v (+%v), want %v", ev.at[0], ev.at[0].Sub(start), want)
			}
			if !errors.Is(l.Err(), ErrGraceEnded) {
				t.Fatal(l.Err())
			}
			select {
			case <-l.Done():
			default:
				t.Fatal("Done not closed")
			}
			if err := l.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestGraceRecovers(t *testing.T) {
	rg := newRig(t, 1, 5)
	var ev events
	c := rg.client(ev.install(rg.clock))
	l, err := c.Checkout(context.Background(), Request{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	rg.srvs[0].SetDown(true)
	step(t, rg.clock, l) // +60 s: fails
	step(t, rg.clock, l) // +1 s backoff: fails
	rg.srvs[0].SetDown(false)
	step(t, rg.clock, l) // +2 s: renewed
	if l.Err() != nil || !l.Deadline().Equal(rg.clock.Now().Add(5*time.Minute)) {
		t.Fatalf("err %v deadline %v now %v", l.Err(), l.Deadline(), rg.clock.Now())
	}
	if d := step(t, rg.clock, l); d != time.Minute {
		t.Fatalf("next heartbeat after %v, want the normal minute", d)
	}
}

func TestLostBySever(t *testing.T) {
	rg := newRig(t, 1, 5)
	var ev events
	c := rg.client(ev.install(rg.clock))
	l, err := c.Checkout(context.Background(), Request{})
	if err != nil {
		t.Fatal(err)
	}
	rg.srvs[0].SetLost("license 7K3M-Q9TX was removed")
	step(t, rg.clock, l)
	<-ev.lostC
	if !errors.Is(ev.lost[0], ErrLeaseLost) || !strings.Contains(ev.lost[0].Error(), "7K3M-Q9TX was removed") {
		t.Fatalf("lost: %v", ev.lost)
	}
}

// The server reclaimed the lease while the client was away: the heartbeat
// asks again with the same session ID and gets a seat if one is free, or
// loses the lease with ErrNoSeat.
func TestReclaimedLease(t *testing.T) {
	rg := newRig(t, 1, 1)
	var ev events
	c := rg.client(ev.install(rg.clock))
	l, err := c.Checkout(context.Background(), Request{})
	if err != nil {
		t.Fatal(err)
	}
	first := l.Info().ID
	rg.srvs[0].Reclaim()
	step(t, rg.clock, l)
	if l.Err() != nil || l.Info().ID == first || rg.srvs[0].InUse() != 1 || rg.srvs[0].Calls("POST sessions") != 2 {
		t.Fatalf("after reclaim: %v, %+v, in use %d", l.Err(), l.Info(), rg.srvs[0].InUse())
	}
	// Reclaimed again, and another session takes the only seat meanwhile.
	rg.srvs[0].Reclaim()
	if _, err := rg.client(manual).Checkout(context.Background(), Request{}); err != nil {
		t.Fatal(err)
	}
	step(t, rg.clock, l)
	<-ev.lostC
	if !errors.Is(ev.lost[0], ErrNoSeat) {
		t.Fatalf("lost: %v", ev.lost)
	}
}

func TestModeChange(t *testing.T) {
	rg := newRig(t, 1, 5)
	rg.srvs[0].SetDemo(true)
	var ev events
	c := rg.client(ev.install(rg.clock))
	l, err := c.Checkout(context.Background(), Request{})
	if err != nil || l.Mode() != ModeDemo {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	rg.srvs[0].SetDemo(false) // a license installed
	step(t, rg.clock, l)
	if l.Mode() != ModeLicensed || len(ev.modes) != 1 || ev.modes[0] != "demo->licensed" {
		t.Fatalf("mode %s, changes %v", l.Mode(), ev.modes)
	}
	rg.srvs[0].SetDemo(true)
	rg.srvs[0].SetLost("") // renewals still succeed: the lease stays licensed
	step(t, rg.clock, l)
	if l.Mode() != ModeLicensed {
		t.Fatal(l.Mode())
	}
}

// A demo-mode session holds no seat, so an unreachable server never ends
// it; it keeps asking and becomes licensed when a seat appears.
func TestDemoNeverLost(t *testing.T) {
	rg := newRig(t, 1, 5)
	rg.srvs[0].SetDemo(true)
	var ev events
	c := rg.client(ev.install(rg.clock))
	l, err := c.Checkout(context.Background(), Request{})
	if err != nil || l.Mode() != ModeDemo {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	rg.srvs[0].SetDown(true)
	start := rg.clock.Now()
	for rg.clock.Now().Sub(start) < time.Hour {
		step(t, rg.clock, l)
	}
	if l.Err() != nil {
		t.Fatalf("demo session ended: %v", l.Err())
	}
	rg.srvs[0].SetDown(false)
	rg.srvs[0].SetDemo(false)
	step(t, rg.clock, l)
	if l.Mode() != ModeLicensed {
		t.Fatalf("mode %s", l.Mode())
	}
}

func TestClockFloorSaved(t *testing.T) {
	rg := newRig(t, 1, 5)
	st := license.StateFile{Path: filepath.Join(t.TempDir(), "state.json")}
	c := rg.client(func(c *Config) { c.ManualRenew, c.State = true, st })
	if _, err := c.Checkout(context.Background(), Request{}); err != nil {
		t.Fatal(err)
	}
	got, err := st.Load()
	if err != nil || !got.NewestSeen.Equal(FakeEpoch) {
		t.Fatalf("state %+v, %v", got, err)
	}
	// A client whose clock was set back before the floor refuses the
	// server license (a rolled-back clock cannot revive an expired one).
	rg.clock.Advance(-2 * time.Hour) // beyond license.DefaultSkew
	c2 := rg.client(func(c *Config) { c.ManualRenew, c.State = true, st })
	if _, err := c2.Checkout(context.Background(), Request{}); !errors.Is(err, license.ErrClockRollback) || !errors.Is(err, ErrUntrustedServer) {
		t.Fatalf("got %v", err)
	}
}

func TestNewChecksConfig(t *testing.T) {
	ring := keys.NewKeyring(FakeVendor(1).Public())
	bad := []struct {
		cfg  Config
		want string
	}{
		{Config{Keyring: ring}, "Servers"},
		{Config{Servers: []string{"lic1"}}, "Keyring"},
		{Config{Servers: []string{"ftp://lic1"}, Keyring: ring}, "scheme"},
		{Config{Servers: []string{"http://10.0.0.5:9099"}, Keyring: ring}, "clear text"},
		{Config{Servers: []string{"https://u:p@lic1"}, Keyring: ring}, "credentials"},
		{Config{Servers: []string{"lic1", "https://lic1:9099/"}, Keyring: ring}, "twice"},
		{Config{Servers: []string{"lic1:99999"}, Keyring: ring}, "port"},
		{Config{Servers: []string{"lic1"}, Keyring: ring, CAFile: "/nonexistent/ca.pem"}, "CAFile"},
		{Config{Servers: []string{"lic1"}, Keyring: ring, Grace: -1}, "Grace"},
	}
	for _, b := range bad {
		if _, err := New(b.cfg); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%+v: err = %v, want %q", b.cfg.Servers, err, b.want)
		}
	}
	c, err := New(Config{Servers: []string{"lic1", "lic2:9100", "[::1]", "http://127.0.0.1:8080/", "http://10.0.0.5", "https://lic3/base/"},
		Keyring: ring, AllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://lic1:9099", "https://lic2:9100", "https://[::1]:9099", "http://127.0.0.1:8080", "http://10.0.0.5", "https://lic3/base"}
	if got := c.Servers(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("servers %v", got)
	}
}

func TestRequestValidation(t *testing.T) {
	rg := newRig(t, 1, 5)
	c := rg.client(manual)
	if _, err := c.Checkout(context.Background(), Request{ClientSessionID: "short"}); err == nil || !strings.Contains(err.Error(), "ClientSessionID") {
		t.Fatalf("got %v", err)
	}
	c2 := rg.client(func(c *Config) { c.ManualRenew, c.Product = true, "" })
	if _, err := c2.Checkout(context.Background(), Request{}); err == nil || !strings.Contains(err.Error(), "Product") {
		t.Fatalf("got %v", err)
	}
}

// A server that accepts the connection and never answers costs at most
// the request timeout, then the next server is asked.
func TestHangingServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	rg := newRig(t, 1, 5)
	c := rg.client(func(c *Config) {
		c.ManualRenew, c.RequestTimeout = true, 200*time.Millisecond
		c.Servers = append([]string{"http://" + ln.Addr().String()}, c.Servers...)
	})
	start := time.Now()
	l, err := c.Checkout(context.Background(), Request{})
	if err != nil || l.Info().Server != rg.srvs[0].URL {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 10*time.Second { // 200 ms timeout; generous for a loaded machine
		t.Fatalf("took %v", d)
	}
}

func TestLeaseFile(t *testing.T) {
	f := LeaseFile{Path: filepath.Join(t.TempDir(), "sub", "leases.json")}
	if m, err := f.Load(); err != nil || len(m) != 0 {
		t.Fatalf("missing file: %v %v", m, err)
	}
	info := LeaseInfo{Server: "https://lic1:9099", ID: "L-1", ClientSessionID: testSession, Product: "acme-db", Mode: ModeLicensed,
		Expires: FakeEpoch.Add(5 * time.Minute), RenewEvery: 90 * time.Second, Features: map[string]int64{"lines": 3}}
	if err := f.Put(info); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(f.Path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v %v", st, err)
	}
	m, err := f.Load()
	if err != nil || m[testSession].RenewEvery != 90*time.Second || m[testSession].ID != "L-1" || m[testSession].Features["lines"] != 3 {
		t.Fatalf("round trip: %+v %v", m, err)
	}
	if err := f.Delete(testSession); err != nil {
		t.Fatal(err)
	}
	if m, _ := f.Load(); len(m) != 0 {
		t.Fatal(m)
	}
	if err := os.WriteFile(f.Path, []byte(`{"leases":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Load(); !errors.Is(err, ErrNotLeaseFile) {
		t.Fatalf("got %v", err)
	}
}

// One client, many sessions at once: each gets its own seat, heartbeats
// run side by side, and closing them all frees every seat.
func TestConcurrentSessions(t *testing.T) {
	rg := newRig(t, 2, 20)
	c := rg.client(nil)
	var wg sync.WaitGroup
	leases := make([]*Lease, 20)
	errs := make([]error, 20)
	for i := range leases {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			leases[i], errs[i] = c.Checkout(context.Background(), Request{})
		}(i)
	}
	wg.Wait()
	ids := map[string]bool{}
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		ids[leases[i].Info().ID] = true
	}
	if len(ids) != 20 || rg.srvs[0].InUse() != 20 {
		t.Fatalf("%d distinct leases, %d in use", len(ids), rg.srvs[0].InUse())
	}
	_, err := c.Checkout(context.Background(), Request{})
	if !errors.Is(err, ErrNoSeat) {
		t.Fatalf("21st: %v", err)
	}
	for _, l := range leases {
		wg.Add(1)
		go func(l *Lease) { defer wg.Done(); _ = l.Close(context.Background()) }(l)
	}
	wg.Wait()
	if rg.srvs[0].InUse() != 0 {
		t.Fatalf("%d in use after close", rg.srvs[0].InUse())
	}
}

// clusterLicense signs a license naming one node per key (the HA case).
func clusterLicense(t *testing.T, vendor *keys.PrivateKey, ks ...ed25519.PrivateKey) []byte {
	t.Helper()
	nb := FakeEpoch.Add(-24 * time.Hour)
	sl := &license.ServerLicense{
		License:  license.License{Serial: "CLUSTER-0001", Product: "acme-db", Kind: license.KindMain, Customer: license.Customer{Name: "c"}, IssuedAt: nb, NotBefore: nb, Seats: 10},
		SeatUnit: license.PerSession,
	}
	for i, k := range ks {
		sl.Nodes = append(sl.Nodes, license.Node{Name: "node" + string(rune('1'+i)), ResponseKey: k.Public().(ed25519.PublicKey)})
	}
	if err := sl.Sign(vendor); err != nil {
		t.Fatal(err)
	}
	arm, err := sl.Armor()
	if err != nil {
		t.Fatal(err)
	}
	return arm
}

// Every node named by the license is trusted; a node key the cached
// license does not name makes the client fetch the license again (a node
// added to the cluster), and one that the new license does not name either
// is refused.
func TestClusterKeys(t *testing.T) {
	rg := newRig(t, 1, 10)
	k1, k2, k3 := FakeResponseKey(0x51), FakeResponseKey(0x52), FakeResponseKey(0x53)
	f := rg.srvs[0]
	f.Key, f.Licence = k2, clusterLicense(t, rg.vendor, k1, k2)
	c := rg.client(manual)
	if _, err := c.Checkout(context.Background(), Request{}); err != nil {
		t.Fatalf("second node's key: %v", err)
	}
	// The cluster grows: a new license names node 3, which now answers.
	f.Key, f.Licence = k3, clusterLicense(t, rg.vendor, k1, k2, k3)
	if _, err := c.Checkout(context.Background(), Request{}); err != nil {
		t.Fatalf("new node: %v", err)
	}
	if n := f.Calls("GET serverinfo"); n != 2 {
		t.Fatalf("serverinfo fetched %d times, want 2 (once more for the new key)", n)
	}
	// A key no license names is refused even after fetching again.
	f.Key = FakeResponseKey(0x77)
	if _, err := c.Checkout(context.Background(), Request{}); !errors.Is(err, ErrUntrustedServer) {
		t.Fatalf("unnamed key: %v", err)
	}
}

// The server license is verified again every TrustTTL and at its expiry:
// an expired server license stops being trusted by a running client.
func TestTrustRechecked(t *testing.T) {
	rg := newRig(t, 1, 5)
	f := rg.srvs[0]
	lic, err := IssueFakeServerLicense(rg.vendor, "srv1", f.Key.Public().(ed25519.PublicKey), func(o *issuer.Order) {
		e := FakeEpoch.Add(2*time.Hour + 30*time.Minute)
		o.Expires = &e
	})
	if err != nil {
		t.Fatal(err)
	}
	f.Licence = lic
	c := rg.client(manual)
	ctx := context.Background()
	for i, step := range []time.Duration{0, 30 * time.Minute, 40 * time.Minute} {
		rg.clock.Advance(step)
		if _, err := c.Checkout(ctx, Request{}); err != nil {
			t.Fatalf("checkout %d: %v", i, err)
		}
	}
	if n := f.Calls("GET serverinfo"); n != 2 {
		t.Fatalf("serverinfo fetched %d times in 70 minutes, want 2", n)
	}
	rg.clock.Advance(90 * time.Minute) // past the license's expiry
	if _, err := c.Checkout(ctx, Request{}); !errors.Is(err, ErrUntrustedServer) || !errors.Is(err, license.ErrExpired) {
		t.Fatalf("after expiry: %v", err)
	}
}

// OnModeChange may close the lease (a product that stops rather than run
// in demo mode) without a deadlock.
func TestCloseFromModeChange(t *testing.T) {
	rg := newRig(t, 1, 5)
	closed := make(chan error, 1)
	c := rg.client(func(c *Config) {
		c.OnModeChange = func(l *Lease, from, to Mode) { closed <- l.Close(context.Background()) }
	})
	l, err := c.Checkout(context.Background(), Request{})
	if err != nil {
		t.Fatal(err)
	}
	rg.srvs[0].SetDemo(true)
	rg.srvs[0].Reclaim() // the renewal finds no lease; the checkout answers demo
	step(t, rg.clock, l)
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close from OnModeChange did not return")
	}
	<-l.Done()
	if !errors.Is(l.Err(), ErrClosed) {
		t.Fatal(l.Err())
	}
}

// A server license on the vendor's signed revocation list is not trusted.
func TestRevokedServerLicense(t *testing.T) {
	rg := newRig(t, 1, 5)
	s, err := license.DecodeServer(rg.srvs[0].Licence)
	if err != nil {
		t.Fatal(err)
	}
	rl := (*license.RevocationList)(nil).Next([]string{s.Serial}, FakeEpoch.Add(-time.Hour))
	if err := rl.Sign(rg.vendor); err != nil {
		t.Fatal(err)
	}
	arm, err := rl.Armor()
	if err != nil {
		t.Fatal(err)
	}
	c := rg.client(func(c *Config) { c.ManualRenew, c.Revocations = true, arm })
	if _, err := c.Checkout(context.Background(), Request{}); !errors.Is(err, ErrUntrustedServer) || !errors.Is(err, license.ErrRevoked) {
		t.Fatalf("got %v", err)
	}
}

// TestLicenceChangedMidSession (issue 10): a server whose license is
// removed or replaced while a session runs. The server says so in
// Licence-Set; the client verifies the server's licenses again at once
// (not at the next TrustTTL) and accepts nothing signed by a key that no
// valid vendor-signed license names any more, even from a server that
// goes on granting. A refusal signed by the key trusted until then is
// still the server's verdict (the seat lost).
func TestLicenceChangedMidSession(t *testing.T) {
	ctx := context.Background()
	t.Run("removed, server keeps granting", func(t *testing.T) {
		rg := newRig(t, 1, 5)
		f := rg.srvs[0]
		c := rg.client(manual)
		l, err := c.Checkout(ctx, Request{})
		if err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.Licence = nil // removed; a tampered server renews anyway
		f.mu.Unlock()
		err = c.Renew(ctx, l)
		if !errors.Is(err, ErrUntrustedServer) {
			t.Fatalf("renewal from a server without a license: %v", err)
		}
		// Verified again at the change (and once more by the checkout the
		// renewal falls back to), not at the next TrustTTL.
		if n := f.Calls("GET serverinfo"); n < 2 {
			t.Fatalf("serverinfo fetched %d times, want at least 2 (verified again at the change)", n)
		}
		// Nothing is accepted afterwards either, new checkouts included.
		if _, err := c.Checkout(ctx, Request{}); !errors.Is(err, ErrUntrustedServer) {
			t.Fatalf("checkout after the removal: %v", err)
		}
	})
	t.Run("replaced by a license naming another key", func(t *testing.T) {
		rg := newRig(t, 1, 5)
		f := rg.srvs[0]
		c := rg.client(manual)
		l, err := c.Checkout(ctx, Request{})
		if err != nil {
			t.Fatal(err)
		}
		other := FakeResponseKey(0x61)
		lic, err := IssueFakeServerLicense(rg.vendor, "srv1", other.Public().(ed25519.PublicKey), nil)
		if err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.Licence = lic // still signing with the old key
		f.mu.Unlock()
		if err := c.Renew(ctx, l); !errors.Is(err, ErrUntrustedServer) {
			t.Fatalf("answer signed by a key the new license does not name: %v", err)
		}
	})
	t.Run("removed, server takes the seat away", func(t *testing.T) {
		rg := newRig(t, 1, 5)
		f := rg.srvs[0]
		c := rg.client(manual)
		l, err := c.Checkout(ctx, Request{})
		if err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.Licence = nil
		f.mu.Unlock()
		f.SetLost("the license was removed")
		if err := c.Renew(ctx, l); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("signed refusal after the removal: %v", err)
		}
	})
	t.Run("another license added: still trusted", func(t *testing.T) {
		rg := newRig(t, 1, 5)
		f := rg.srvs[0]
		c := rg.client(manual)
		l, err := c.Checkout(ctx, Request{})
		if err != nil {
			t.Fatal(err)
		}
		lic, err := IssueFakeServerLicense(rg.vendor, "srv1", f.Key.Public().(ed25519.PublicKey), func(o *issuer.Order) { o.Seats = 20 })
		if err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.Licence = lic // a new license for the same key
		f.mu.Unlock()
		if err := c.Renew(ctx, l); err != nil {
			t.Fatalf("renewal after a new license for the same key: %v", err)
		}
		if n := f.Calls("GET serverinfo"); n != 2 {
			t.Fatalf("serverinfo fetched %d times, want 2", n)
		}
		if err := c.Renew(ctx, l); err != nil || f.Calls("GET serverinfo") != 2 {
			t.Fatalf("unchanged set fetched again: %v, %d", err, f.Calls("GET serverinfo"))
		}
	})
}

// TestAnswersWithCaseVariantsRefused (issue 10): a signed answer whose
// JSON names a member twice or in another case than the protocol's means
// one thing to encoding/json (last one wins, case ignored) and another to
// other decoders: the client refuses it. Unknown members are accepted (a
// newer server's additions).
func TestAnswersWithCaseVariantsRefused(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		edit   func(body []byte) []byte
		path   string
		refuse error
	}{
		{"lease: Mode twice", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"Mode":"licensed"`), []byte(`"Mode":"demo","Mode":"licensed"`), 1)
		}, PathSessions, ErrServer},
		{"lease: mode in lower case", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"Mode":"licensed"`), []byte(`"mode":"licensed"`), 1)
		}, PathSessions, ErrServer},
		{"serverinfo: serverlicence", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"ServerLicence":`), []byte(`"serverLicence":`), 1)
		}, PathServerInfo, ErrUntrustedServer},
		{"lease: unknown member", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"Mode":"licensed"`), []byte(`"Mode":"licensed","Colour":"red"`), 1)
		}, PathSessions, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			rg := newRig(t, 1, 5)
			rg.srvs[0].SetTamper(func(a *Answer) {
				if a.Path == c.path {
					a.Body = c.edit(a.Body) // signed as changed: the server says it
				}
			})
			c2 := rg.client(manual)
			_, err := c2.Checkout(ctx, Request{})
			switch {
			case c.refuse == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case c.refuse != nil && !errors.Is(err, c.refuse):
				t.Fatalf("got %v, want %v", err, c.refuse)
			}
		})
	}
}

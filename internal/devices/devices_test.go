package devices

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/license"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newReg(t *testing.T, seats int, opt Options) (*Registry, *MemorySeats, *clock) {
	t.Helper()
	ms := NewMemorySeats(map[string]int{"shop15": seats})
	ms.DemoLimits = []license.Feature{{Name: "lines_per_document", Value: 3}}
	c := &clock{now: t0}
	if opt.Now == nil {
		opt.Now = c.Now
	}
	r, err := New(ms, opt)
	if err != nil {
		t.Fatal(err)
	}
	return r, ms, c
}

func req(code string, ip string) Request {
	return Request{Code: code, Name: "ТСД склад 3", App: "shop15", IP: netip.MustParseAddr(ip)}
}

func mustRegister(t *testing.T, r *Registry, rq Request) Device {
	t.Helper()
	d, err := r.Register(rq)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestFlow walks the state machine step by step; each row is one action
// on the registry and the state (or error) it must give.
func TestFlow(t *testing.T) {
	r, ms, _ := newReg(t, 1, Options{})
	type step struct {
		act   string // register, approve, deny, unlink, check, seats=N, end, renew
		code  string
		want  State
		isErr error
	}
	steps := []step{
		{"check", "A1", "", ErrUnknown},
		{"approve", "A1", "", ErrUnknown},
		{"register", "A1", Pending, nil},
		{"register", "A1", Pending, nil}, // retry: same request
		{"check", "A1", Pending, nil},
		{"approve", "A1", Approved, nil},
		{"approve", "A1", Approved, nil}, // no second seat
		{"register", "A1", Approved, nil},
		{"deny", "A1", "", ErrState}, // holds a seat: unlink instead
		{"register", "B2", Pending, nil},
		{"approve", "B2", NoSeat, nil}, // the only seat is A1's
		{"check", "B2", NoSeat, nil},
		{"unlink", "A1", Approved, nil}, // frees the seat
		{"check", "A1", "", ErrUnknown},
		{"check", "B2", Approved, nil}, // picks up the freed seat
		{"register", "C3", Pending, nil},
		{"deny", "C3", Denied, nil},
		{"check", "C3", Denied, nil},
		{"approve", "C3", "", ErrState},  // must register again
		{"register", "C3", Pending, nil}, // re-register after deny
		{"end", "", "", nil},
		{"check", "B2", SubscriptionEnded, nil},
		{"approve", "C3", SubscriptionEnded, nil},
		{"renew", "", "", nil},
		{"check", "B2", Approved, nil},
		{"check", "C3", NoSeat, nil},
		{"seats=2", "", "", nil},
		{"approve", "C3", Approved, nil},
		{"unlink", "C3", Approved, nil},
		{"unlink", "C3", "", ErrUnknown},
	}
	for i, s := range steps {
		var d Device
		var err error
		switch s.act {
		case "register":
			d, err = r.Register(req(s.code, "10.0.0.5"))
		case "approve":
			d, err = r.Approve(s.code, "root")
		case "deny":
			d, err = r.Deny(s.code, "root")
		case "unlink":
			d, err = r.Unlink(s.code)
		case "check":
			d, err = r.Check(s.code)
		case "seats=2":
			ms.SetSeats("shop15", 2)
			continue
		case "end":
			ms.EndSubscription("shop15", true)
			continue
		case "renew":
			ms.EndSubscription("shop15", false)
			continue
		}
		if s.isErr != nil {
			if !errors.Is(err, s.isErr) {
				t.Fatalf("step %d %s %s: error %v, want %v", i, s.act, s.code, err, s.isErr)
			}
			continue
		}
		if err != nil || d.State != s.want {
			t.Fatalf("step %d %s %s: %v state %q, want %q", i, s.act, s.code, err, d.State, s.want)
		}
		if got := len(ms.Holders("shop15")); got > 2 {
			t.Fatalf("step %d: %d seats held", i, got)
		}
	}
}

func TestDemoLimitsAndRecord(t *testing.T) {
	r, _, c := newReg(t, 0, Options{})
	d := mustRegister(t, r, Request{Code: "dev-1", Name: "Zebra", App: "shop15", IP: netip.MustParseAddr("::ffff:192.168.1.20")})
	if d.IP != "192.168.1.20" || !d.Registered.Equal(t0) {
		t.Fatalf("recorded ip %q time %v", d.IP, d.Registered)
	}
	c.now = t0.Add(time.Hour)
	d, err := r.Approve("dev-1", "root")
	if err != nil || d.State != NoSeat || len(d.DemoLimits) != 1 || d.DemoLimits[0].Value != 3 {
		t.Fatalf("no seat: %v %+v", err, d)
	}
	if d.DecidedBy != "root" || !d.Decided.Equal(t0.Add(time.Hour)) || d.State.Licensed() {
		t.Fatalf("decision record %+v", d)
	}
	if !strings.Contains(d.Message(), "demo mode") {
		t.Fatalf("message %q", d.Message())
	}
}

func TestMessagesDistinct(t *testing.T) {
	seen := map[string]State{}
	for _, s := range []State{Pending, Denied, Approved, NoSeat, SubscriptionEnded} {
		m := s.Message()
		if m == "" || strings.Contains(m, "unknown") {
			t.Fatalf("%s: message %q", s, m)
		}
		if o, dup := seen[m]; dup {
			t.Fatalf("%s and %s share a message", s, o)
		}
		seen[m] = s
	}
	if !strings.Contains(Pending.Message(), "not yet allowed") || !strings.Contains(Denied.Message(), "register again") {
		t.Fatal("seed meanings lost")
	}
}

func TestValidation(t *testing.T) {
	r, _, _ := newReg(t, 1, Options{})
	ok := req("ok-1", "10.0.0.1")
	cases := []struct {
		name string
		mut  func(*Request)
	}{
		{"empty code", func(q *Request) { q.Code = "" }},
		{"long code", func(q *Request) { q.Code = strings.Repeat("a", MaxCode+1) }},
		{"code with slash", func(q *Request) { q.Code = "../../etc" }},
		{"code with space", func(q *Request) { q.Code = "a b" }},
		{"code with escape", func(q *Request) { q.Code = "a\x1b[2J" }},
		{"empty name", func(q *Request) { q.Name = "" }},
		{"long name", func(q *Request) { q.Name = strings.Repeat("я", MaxName) }},
		{"name with newline", func(q *Request) { q.Name = "a\nb" }},
		{"name with bidi", func(q *Request) { q.Name = "a\u202eb" }},
		{"name invalid utf8", func(q *Request) { q.Name = "a\xffb" }},
		{"empty app", func(q *Request) { q.App = "" }},
		{"app with control", func(q *Request) { q.App = "shop\x0015" }},
		{"no ip", func(q *Request) { q.IP = netip.Addr{} }},
	}
	for _, c := range cases {
		q := ok
		c.mut(&q)
		if _, err := r.Register(q); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if n := len(r.List("")); n != 0 {
		t.Fatalf("%d invalid requests stored", n)
	}
	if _, err := r.Register(ok); err != nil {
		t.Fatal(err)
	}
	q := ok
	q.App = "warehouse15"
	if _, err := r.Register(q); !errors.Is(err, ErrState) {
		t.Fatalf("same code, other app: %v", err)
	}
}

func TestPendingCaps(t *testing.T) {
	r, _, c := newReg(t, 1, Options{MaxPendingPerIP: 3, MaxPending: 7, PendingTTL: time.Hour})
	for i := 0; i < 3; i++ {
		mustRegister(t, r, req(fmt.Sprintf("a%d", i), "10.0.0.1"))
	}
	_, err := r.Register(req("a3", "10.0.0.1"))
	var tm *TooManyPendingError
	if !errors.As(err, &tm) || !tm.PerIP || tm.Limit != 3 || !errors.Is(err, ErrTooManyPending) {
		t.Fatalf("4th from one IP: %v", err)
	}
	// The same IPv4 written as IPv4-mapped IPv6 is the same address.
	if _, err := r.Register(req("a4", "::ffff:10.0.0.1")); !errors.As(err, &tm) || !tm.PerIP {
		t.Fatalf("mapped address escaped the cap: %v", err)
	}
	// A retry of a pending request is not a new request.
	mustRegister(t, r, req("a0", "10.0.0.1"))
	// IPv6: one /64 is one client, whatever its interface IDs.
	mustRegister(t, r, req("v0", "2001:db8:1:2::1"))
	mustRegister(t, r, req("v1", "2001:db8:1:2::ffff"))
	mustRegister(t, r, req("v2", "2001:db8:1:2:abcd::9"))
	if _, err := r.Register(req("v3", "2001:db8:1:2:ffff:ffff:ffff:ffff")); !errors.As(err, &tm) || !tm.PerIP {
		t.Fatalf("4th from one /64: %v", err)
	}
	mustRegister(t, r, req("v4", "2001:db8:1:3::1")) // another /64: 7 pending
	if _, err := r.Register(req("b0", "10.9.9.9")); !errors.As(err, &tm) || tm.PerIP || tm.Limit != 7 {
		t.Fatalf("total cap: %v", err)
	}
	if n := r.Count()[Pending]; n != 7 {
		t.Fatalf("%d pending, want 7", n)
	}
	// Deciding a request makes room.
	if _, err := r.Deny("a1", "root"); err != nil {
		t.Fatal(err)
	}
	mustRegister(t, r, req("b0", "10.9.9.9"))
	// Old pending requests expire.
	c.now = t0.Add(2 * time.Hour)
	if n := r.Count()[Pending]; n != 0 {
		t.Fatalf("%d pending after TTL", n)
	}
	if n := r.Count()[Denied]; n != 1 {
		t.Fatalf("denied record dropped: %v", r.Count())
	}
	mustRegister(t, r, req("a9", "10.0.0.1"))
}

func TestListAndLoad(t *testing.T) {
	r, _, c := newReg(t, 5, Options{})
	mustRegister(t, r, req("z", "10.0.0.1"))
	c.now = t0.Add(time.Minute)
	mustRegister(t, r, req("a", "10.0.0.2"))
	if _, err := r.Approve("a", "root"); err != nil {
		t.Fatal(err)
	}
	all := r.List("")
	if len(all) != 2 || all[0].Code != "z" || all[1].Code != "a" {
		t.Fatalf("order %+v", all)
	}
	if p := r.List(Pending); len(p) != 1 || p[0].Code != "z" {
		t.Fatalf("pending %+v", p)
	}
	r2, _, _ := newReg(t, 5, Options{})
	if err := r2.Load(all); err != nil {
		t.Fatal(err)
	}
	if d, err := r2.Get("a"); err != nil || d.State != Approved {
		t.Fatalf("loaded %+v %v", d, err)
	}
	bad := append([]Device(nil), all...)
	bad[1].Name = "x\x1b[31m"
	if err := r2.Load(bad); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "device 2") {
		t.Fatalf("bad name loaded: %v", err)
	}
	bad = append([]Device(nil), all...)
	bad[0].State = "root"
	if err := r2.Load(bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad state loaded: %v", err)
	}
	if err := r2.Load(append(all, all[0])); !errors.Is(err, ErrInvalid) {
		t.Fatalf("duplicate loaded: %v", err)
	}
	if n := len(r2.List("")); n != 2 {
		t.Fatalf("failed load changed the registry: %d", n)
	}
}

// failingSeats fails every call with a non-seat error (e.g. the store is
// down); the registry must keep the device as it was.
type failingSeats struct{}

func (failingSeats) TakeDeviceSeat(string, string) (Grant, error) {
	return Grant{}, errors.New("seat store unavailable")
}
func (failingSeats) ReleaseDeviceSeat(string, string) error {
	return errors.New("seat store unavailable")
}

func TestSeatTakerFailureKeepsState(t *testing.T) {
	r, err := New(failingSeats{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustRegister(t, r, req("d1", "10.0.0.1"))
	if _, err := r.Approve("d1", "root"); err == nil || !strings.Contains(err.Error(), "unavailable") {
		t.Fatalf("approve: %v", err)
	}
	if d, _ := r.Get("d1"); d.State != Pending || d.DecidedBy != "" {
		t.Fatalf("state after failure %+v", d)
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Fatal("nil SeatTaker accepted")
	}
}

// TestConcurrentApprove: admins approving the same devices at once never
// give a device two seats nor more seats than licensed.
func TestConcurrentApprove(t *testing.T) {
	r, ms, _ := newReg(t, 3, Options{})
	for i := 0; i < 10; i++ {
		mustRegister(t, r, req(fmt.Sprintf("c%d", i), fmt.Sprintf("10.0.%d.1", i)))
	}
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 10; i++ {
				_, _ = r.Approve(fmt.Sprintf("c%d", (i+g)%10), "root")
				_, _ = r.Check(fmt.Sprintf("c%d", (i+2*g)%10))
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	held := ms.Holders("shop15")
	approved := r.List(Approved)
	if len(held) != 3 || len(approved) != 3 {
		t.Fatalf("%d held, %d approved, 3 seats", len(held), len(approved))
	}
	for _, d := range approved {
		if !held[d.Code] {
			t.Fatalf("%s approved without a seat", d.Code)
		}
	}
	if n := r.Count()[NoSeat]; n != 7 {
		t.Fatalf("%d in demo mode, want 7", n)
	}
}

package seats

import (
	"encoding/base32"
	"errors"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/license"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

const lifetime = 5 * time.Minute

func tp(t time.Time) *time.Time { return &t }

func lic(serial, product string, kind license.Kind, seats int, edit func(*license.License)) *License {
	l := &license.License{Serial: serial, Product: product, Kind: kind, Seats: seats, NotBefore: t0.Add(-time.Hour),
		Signature: []byte(serial), DemoLimits: []license.Feature{{Name: "lines_per_document", Value: 3}}}
	if edit != nil {
		edit(l)
	}
	return &License{License: l}
}

func mainLic(serial string, seats int) *License {
	return lic(serial, "erp", license.KindMain, seats, nil)
}

func addLic(serial, main string, seats int) *License {
	return lic(serial, "erp", license.KindAdditional, seats, func(l *license.License) { l.MainSerial = main })
}

func counter() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("L-%04d", n) }
}

func req(session, computer string) Request {
	return Request{Product: "erp", ClientSessionID: fmt.Sprintf("session-%010s", session), UserName: "ivanov", ComputerName: computer}
}

func mustInstall(t *testing.T, c *Core, ls ...*License) {
	t.Helper()
	for _, l := range ls {
		if _, err := c.Install(l, t0); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStacking(t *testing.T) {
	demo := lic("D1", "erp", license.KindDemo, 2, func(l *license.License) { l.Expires = tp(t0.Add(24 * time.Hour)) })
	for _, tc := range []struct {
		name    string
		install []*License
		wantErr bool
		seats   int
	}{
		{"main alone", []*License{mainLic("M1", 5)}, false, 5},
		{"main plus additional add up", []*License{mainLic("M1", 5), addLic("A1", "M1", 10)}, false, 15},
		{"two mains add up", []*License{mainLic("M1", 5), mainLic("M2", 3)}, false, 8},
		{"additional without main", []*License{addLic("A1", "M1", 10)}, true, 0},
		{"additional naming another main", []*License{mainLic("M1", 5), addLic("A1", "M9", 10)}, true, 5},
		{"demo alone", []*License{demo}, false, 2},
		{"demo after main", []*License{mainLic("M1", 5), demo}, true, 5},
		{"main after demo", []*License{demo, mainLic("M1", 5)}, true, 2},
		{"other product does not count", []*License{lic("X1", "crm", license.KindMain, 7, nil)}, false, 0},
		{"expired main does not count", []*License{lic("M1", "erp", license.KindMain, 5, func(l *license.License) { l.Expires = tp(t0) })}, false, 0},
		{"not yet valid does not count", []*License{lic("M1", "erp", license.KindMain, 5, func(l *license.License) { l.NotBefore = t0.Add(time.Hour) })}, false, 0},
		{"additional of expired main does not count", []*License{
			lic("M1", "erp", license.KindMain, 5, func(l *license.License) { l.Expires = tp(t0) }), addLic("A1", "M1", 10)}, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(lifetime, counter())
			var err error
			for _, l := range tc.install {
				if _, e := c.Install(l, t0); e != nil {
					err = e
				}
			}
			if (err != nil) != tc.wantErr || err != nil && !errors.Is(err, ErrInstall) {
				t.Fatalf("install error %v, want error %v", err, tc.wantErr)
			}
			if got := c.Capacity("erp", t0).Seats; got != tc.seats {
				t.Fatalf("seats %d, want %d", got, tc.seats)
			}
		})
	}
}

func TestIdempotentCheckout(t *testing.T) {
	c := New(lifetime, counter())
	mustInstall(t, c, mainLic("M1", 1))
	g1, _, err := c.Checkout(req("a", "ws1"), t0)
	if err != nil || !g1.Created {
		t.Fatalf("first checkout: %+v, %v", g1, err)
	}
	g2, _, err := c.Checkout(req("a", "ws1"), t0.Add(time.Minute)) // retry after a blip
	if err != nil || g2.Created || g2.Lease.ID != g1.Lease.ID || !g2.Lease.Expires.After(g1.Lease.Expires) {
		t.Fatalf("retry: %+v, %v", g2, err)
	}
	if c.InUse("erp") != 1 {
		t.Fatalf("in use %d, want 1", c.InUse("erp"))
	}
	_, _, err = c.Checkout(req("b", "ws2"), t0)
	var ns *NoSeatError
	// The core names no holders: a refusal any client can cause copies no
	// lease (the server asks Holders for an admin).
	if !errors.As(err, &ns) || ns.InUse != 1 || ns.Seats != 1 || ns.Holders != nil || ns.Error() != "1 of 1 seats of erp in use" {
		t.Fatalf("second session: %v", err)
	}
}

// TestHolders checks Holders against Leases: the oldest limit leases of the
// product, in the same order, whatever the order they were granted in.
func TestHolders(t *testing.T) {
	c := New(lifetime, counter())
	mustInstall(t, c, mainLic("M1", 500))
	other := mainLic("M2", 500)
	other.Product = "crm"
	mustInstall(t, c, other)
	rng := rand.New(rand.NewSource(1))
	for i := range 300 {
		r := req(fmt.Sprint("s", i), fmt.Sprint("ws", i))
		if i%3 == 0 {
			r.Product = "crm"
		}
		// Granted at random seconds, several at the same one (the ID
		// breaks the tie).
		if _, _, err := c.Checkout(r, t0.Add(time.Duration(rng.Intn(50))*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	for _, product := range []string{"erp", "crm", "none"} {
		all := c.Leases(product)
		if want := map[string]int{"erp": 200, "crm": 100, "none": 0}[product]; len(all) != want {
			t.Fatalf("%s: %d leases, want %d", product, len(all), want)
		}
		for _, limit := range []int{0, 1, 7, len(all) - 1, len(all), len(all) + 5, MaxHolders} {
			got := c.Holders(product, limit)
			want := all[:max(0, min(limit, len(all)))]
			if len(got) != len(want) {
				t.Fatalf("%s, limit %d: %d holders, want %d", product, limit, len(got), len(want))
			}
			for i := range got {
				if got[i].ID != want[i].ID {
					t.Fatalf("%s, limit %d: holder %d is %s, want %s", product, limit, i, got[i].ID, want[i].ID)
				}
			}
		}
	}
	if c.Count() != 300 {
		t.Fatalf("Count %d, want 300", c.Count())
	}
	s3 := req("s3", "").ClientSessionID
	if l, ok := c.SessionLease("crm", s3); !ok || l.ClientSessionID != s3 || l.Product != "crm" {
		t.Fatalf("SessionLease crm %s: %+v %v", s3, l, ok)
	}
	if _, ok := c.SessionLease("erp", s3); ok {
		t.Fatal("SessionLease found s3 under the wrong product")
	}
}

func TestExpiryRenewRelease(t *testing.T) {
	c := New(lifetime, counter())
	mustInstall(t, c, mainLic("M1", 1))
	g, _, _ := c.Checkout(req("a", "ws1"), t0)
	if _, _, err := c.Renew(g.Lease.ID, t0.Add(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Renewed at +4m: alive until +9m.
	if ev := c.Sweep(t0.Add(8 * time.Minute)); len(ev) != 0 || c.InUse("erp") != 1 {
		t.Fatalf("swept a renewed lease: %v", ev)
	}
	ev := c.Sweep(t0.Add(9 * time.Minute))
	if len(ev) != 1 || ev[0].Kind != EventExpire || c.InUse("erp") != 0 {
		t.Fatalf("zombie not reclaimed: %v, in use %d", ev, c.InUse("erp"))
	}
	if _, _, err := c.Renew(g.Lease.ID, t0.Add(10*time.Minute)); !errors.Is(err, ErrUnknownLease) {
		t.Fatalf("renew of a reclaimed lease: %v", err)
	}
	g, _, _ = c.Checkout(req("b", "ws1"), t0.Add(10*time.Minute))
	if ok, _ := c.Release(g.Lease.ID, t0.Add(11*time.Minute), ""); !ok {
		t.Fatal("release failed")
	}
	if ok, _ := c.Release(g.Lease.ID, t0.Add(11*time.Minute), ""); ok {
		t.Fatal("second release reported a lease")
	}
	if c.InUse("erp") != 0 {
		t.Fatal("seat not freed")
	}
	// Renewing after expiry without a sweep: refused, seat freed.
	g, _, _ = c.Checkout(req("c", "ws1"), t0.Add(20*time.Minute))
	if _, _, err := c.Renew(g.Lease.ID, t0.Add(26*time.Minute)); !errors.Is(err, ErrUnknownLease) || c.InUse("erp") != 0 {
		t.Fatalf("late renew: %v, in use %d", err, c.InUse("erp"))
	}
}

func TestPerComputer(t *testing.T) {
	c := New(lifetime, counter())
	l := mainLic("M1", 1)
	l.Unit = license.PerComputer
	mustInstall(t, c, l)
	g1, _, err1 := c.Checkout(req("a", "ws1"), t0)
	g2, _, err2 := c.Checkout(req("b", "ws1"), t0)
	if err1 != nil || err2 != nil || !g2.Created || g1.Lease.ID == g2.Lease.ID || c.InUse("erp") != 1 {
		t.Fatalf("two sessions on one computer: %v %v, in use %d", err1, err2, c.InUse("erp"))
	}
	if _, _, err := c.Checkout(req("c", "ws2"), t0); !errors.Is(err, ErrNoSeat) {
		t.Fatalf("another computer: %v", err)
	}
	c.Release(g1.Lease.ID, t0, "")
	if c.InUse("erp") != 1 {
		t.Fatal("seat freed while a session of the computer still holds it")
	}
	c.Release(g2.Lease.ID, t0, "")
	if _, _, err := c.Checkout(req("c", "ws2"), t0); err != nil {
		t.Fatalf("seat not freed by the last session: %v", err)
	}
}

func TestDemoMode(t *testing.T) {
	c := New(lifetime, counter())
	mustInstall(t, c, lic("M1", "erp", license.KindMain, 5, func(l *license.License) { l.Expires = tp(t0) }))
	g, _, err := c.Checkout(req("a", "ws1"), t0)
	if err != nil || g.Lease.Mode != ModeDemo || g.Lease.ID != "" || g.Created || len(g.Features) != 1 || g.Features[0].Value != 3 {
		t.Fatalf("demo mode: %+v, %v", g, err)
	}
	if c.InUse("erp") != 0 {
		t.Fatal("demo mode took a seat")
	}
}

func TestRemoveTellsAtRenewal(t *testing.T) {
	c := New(lifetime, counter())
	mustInstall(t, c, mainLic("M1", 1), addLic("A1", "M1", 1))
	a, _, _ := c.Checkout(req("a", "ws1"), t0)
	b, _, _ := c.Checkout(req("b", "ws2"), t0.Add(time.Second))
	ev, err := c.Remove("A1", t0.Add(time.Minute))
	if err != nil || len(ev) != 1 || ev[0].Kind != EventLost || ev[0].LeaseID != b.Lease.ID {
		t.Fatalf("remove: %v %v", ev, err)
	}
	if _, _, err := c.Renew(b.Lease.ID, t0.Add(2*time.Minute)); !errors.Is(err, ErrLost) {
		t.Fatalf("renew of the newest lease after remove: %v", err)
	}
	if _, _, err := c.Renew(a.Lease.ID, t0.Add(2*time.Minute)); err != nil {
		t.Fatalf("oldest lease must keep its seat: %v", err)
	}
	if err := c.Check(t0.Add(2 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Revocation works the same way.
	c.Revoke([]string{"M1"}, t0.Add(3*time.Minute))
	if _, _, err := c.Renew(a.Lease.ID, t0.Add(3*time.Minute)); !errors.Is(err, ErrLost) {
		t.Fatalf("renew after revocation: %v", err)
	}
}

func TestRestoreReclaimWindow(t *testing.T) {
	c := New(lifetime, counter())
	mustInstall(t, c, mainLic("M1", 1))
	g, _, _ := c.Checkout(req("a", "ws1"), t0)
	saved := c.Leases("")
	// Server down for 6 minutes: the lease expired meanwhile.
	r := New(lifetime, counter())
	mustInstall(t, r, mainLic("M1", 1))
	restart := t0.Add(6 * time.Minute)
	r.Restore(saved, restart)
	if _, _, err := r.Checkout(req("b", "ws2"), restart); !errors.Is(err, ErrStarting) {
		t.Fatalf("new session during reclaim: %v", err)
	}
	if ev := r.Sweep(restart.Add(time.Minute)); len(ev) != 0 {
		t.Fatalf("expired during reclaim: %v", ev)
	}
	if _, _, err := r.Renew(g.Lease.ID, restart.Add(time.Minute)); err != nil {
		t.Fatalf("renew of a known lease during reclaim: %v", err)
	}
	if _, _, err := r.Checkout(req("b", "ws2"), restart.Add(lifetime+time.Second)); !errors.Is(err, ErrNoSeat) {
		t.Fatalf("after reclaim, the renewed lease still holds the seat: %v", err)
	}
}

func TestRequestValidation(t *testing.T) {
	c := New(lifetime, counter())
	for _, r := range []Request{
		{Product: "erp", ClientSessionID: "short"},
		{Product: "erp", ClientSessionID: "has space in it!!!"},
		{Product: "", ClientSessionID: "0123456789abcdef"},
		{Product: "erp", ClientSessionID: "0123456789abcdef", UserName: "a\x1b[31m"},
	} {
		if _, _, err := c.Checkout(r, t0); !errors.Is(err, ErrRequest) {
			t.Errorf("%+v: %v, want ErrRequest", r, err)
		}
	}
}

// TestProperty runs random interleavings of installs, removals,
// revocations, checkouts (with retries), renewals, releases, sweeps, time
// passing and restarts, and checks after each step that seats in use never
// exceed the seats licensed and no session holds two seats.
func TestProperty(t *testing.T) {
	for seed := int64(0); seed < 200; seed++ {
		runProperty(t, rand.New(rand.NewSource(seed)), 300, 0)
	}
}

// TestPropertyCollisions is TestProperty with the lease indexes' hashes
// cut to two bits: nearly every key collides with another, so the
// indexes' second way (by the key itself) is taken all the time.
func TestPropertyCollisions(t *testing.T) {
	for seed := int64(0); seed < 100; seed++ {
		runProperty(t, rand.New(rand.NewSource(seed)), 300, 3)
	}
}

func FuzzProperty(f *testing.F) {
	f.Add(int64(1), uint16(200))
	f.Fuzz(func(t *testing.T, seed int64, n uint16) {
		runProperty(t, rand.New(rand.NewSource(seed)), int(n%1000), 0)
	})
}

// runProperty drives a core with steps random operations and checks its
// invariants after each; hashMask is the lease indexes' (table.hashMask).
func runProperty(t *testing.T, rnd *rand.Rand, steps int, hashMask uint64) {
	t.Helper()
	ids := counter()
	c := New(lifetime, ids)
	c.live.hashMask = hashMask
	now := t0
	installed := map[string]*License{}
	var leaseIDs []string
	lastOp := -1
	newLic := func() *License {
		n := rnd.Intn(6)
		switch rnd.Intn(4) {
		case 0:
			return addLic(fmt.Sprintf("A%d", n), fmt.Sprintf("M%d", rnd.Intn(3)), 1+rnd.Intn(3))
		case 1:
			return lic(fmt.Sprintf("D%d", n), "erp", license.KindDemo, 1+rnd.Intn(2), func(l *license.License) { l.Expires = tp(now.Add(time.Duration(rnd.Intn(30)) * time.Minute)) })
		}
		l := mainLic(fmt.Sprintf("M%d", n%3), 1+rnd.Intn(3))
		if rnd.Intn(3) == 0 {
			l.Expires = tp(now.Add(time.Duration(1+rnd.Intn(30)) * time.Minute))
		}
		if rnd.Intn(2) == 0 {
			l.Unit = license.PerComputer
		}
		return l
	}
	for i := 0; i < steps; i++ {
		op := rnd.Intn(10)
		lastOp = op
		switch op {
		case 0:
			l := newLic()
			if _, err := c.Install(l, now); err == nil {
				installed[l.Serial] = l
			}
		case 1:
			for s := range installed {
				c.Remove(s, now)
				delete(installed, s)
				break
			}
		case 2:
			c.Revoke([]string{fmt.Sprintf("M%d", rnd.Intn(3))}, now)
		case 3, 4:
			g, _, err := c.Checkout(req(fmt.Sprint(rnd.Intn(8)), fmt.Sprintf("ws%d", rnd.Intn(4))), now)
			if err == nil && g.Lease.ID != "" {
				leaseIDs = append(leaseIDs, g.Lease.ID)
			}
		case 5:
			if len(leaseIDs) > 0 {
				c.Renew(leaseIDs[rnd.Intn(len(leaseIDs))], now)
			}
		case 6:
			if len(leaseIDs) > 0 {
				c.Release(leaseIDs[rnd.Intn(len(leaseIDs))], now, "")
			}
		case 7:
			now = now.Add(time.Duration(rnd.Intn(180)) * time.Second)
			c.Sweep(now)
		case 8:
			// Time passes with no operation: licenses may expire. The
			// invariant holds again after the next operation (every
			// operation, the sweep included, applies license expiry).
			now = now.Add(time.Duration(rnd.Intn(600)) * time.Second)
			continue
		case 9:
			// Restart: a new core with the same licenses and the leases.
			saved := c.Leases("")
			for _, l := range c.lost {
				saved = append(saved, *l)
			}
			r := New(lifetime, ids)
			r.live.hashMask = hashMask
			for _, l := range c.Licenses() {
				cp := *l
				if _, err := r.Install(&cp, now); err != nil {
					// An additional license installed before its main
					// was removed: install order is by serial here.
					continue
				}
			}
			r.Restore(saved, now)
			c = r
		}
		if err := c.Check(now); err != nil {
			t.Fatalf("step %d (op %d): %v", i, lastOp, err)
		}
	}
}

// TestLeasesPage: a page of LeasesPage is the same slice of Leases, for
// every offset and limit, including out-of-range ones.
func TestLeasesPage(t *testing.T) {
	c := New(lifetime, counter())
	mustInstall(t, c, mainLic("M1", 50))
	for i := 0; i < 23; i++ {
		// 17 sessions (6 retries hold the same lease), granted over 5 seconds.
		if _, _, err := c.Checkout(req(fmt.Sprint(i%17), "ws"), t0.Add(time.Duration(i%5)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	all := c.Leases("")
	if len(all) != 17 {
		t.Fatalf("%d leases, want 17", len(all))
	}
	for _, tc := range [][2]int{{0, 5}, {5, 5}, {15, 10}, {0, 100}, {-3, 4}, {40, 5}, {2, 0}, {2, -1}} {
		got, total := c.LeasesPage("", tc[0], tc[1])
		if total != len(all) {
			t.Fatalf("total %d, want %d", total, len(all))
		}
		off := min(max(tc[0], 0), len(all))
		want := all[off:min(off+max(tc[1], 0), len(all))]
		if len(got) != len(want) {
			t.Fatalf("offset %d limit %d: %d leases, want %d", tc[0], tc[1], len(got), len(want))
		}
		for i := range got {
			if got[i].ID != want[i].ID {
				t.Fatalf("offset %d limit %d: lease %d is %s, want %s", tc[0], tc[1], i, got[i].ID, want[i].ID)
			}
		}
	}
	if got, total := c.LeasesPage("other", 0, 10); len(got) != 0 || total != 0 {
		t.Fatalf("other product: %d leases of %d", len(got), total)
	}
}

// TestRandomID: 80 random bits after the second the ID was made, so IDs
// are unguessable and sort by time (a store's index appends new leases).
func TestRandomID(t *testing.T) {
	before := time.Now().Unix()
	a, b := randomID(), randomID()
	after := time.Now().Unix()
	if a == b || len(a) != 26 || a[:2] != "L-" {
		t.Fatalf("randomID() = %q, %q", a, b)
	}
	raw, err := base32.HexEncoding.DecodeString(a[2:])
	if err != nil || len(raw) != 15 {
		t.Fatalf("%q: %v", a, err)
	}
	var sec int64
	for _, c := range raw[:5] {
		sec = sec<<8 | int64(c)
	}
	if sec < before || sec > after {
		t.Errorf("%q: made at second %d, want %d..%d", a, sec, before, after)
	}
	// The encoding keeps the order of the bytes.
	lo, hi := make([]byte, 15), make([]byte, 15)
	hi[4] = 1
	if x, y := base32.HexEncoding.EncodeToString(lo), base32.HexEncoding.EncodeToString(hi); x >= y {
		t.Errorf("%s sorts after %s", x, y)
	}
}

// TestCapacityCache: the cached Capacity equals the one computed afresh at
// every time, forwards and backwards across the licenses' NotBefore and
// Expires, and after installs, removals and revocations.
func TestCapacityCache(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	for round := 0; round < 200; round++ {
		c := New(lifetime, counter())
		var serials []string
		at := func() time.Time { return t0.Add(time.Duration(rnd.Intn(20)-10) * time.Hour) }
		for step := 0; step < 40; step++ {
			now := at()
			switch rnd.Intn(6) {
			case 0, 1:
				serial := fmt.Sprintf("S%03d", rnd.Intn(30))
				kind := []license.Kind{license.KindMain, license.KindMain, license.KindAdditional, license.KindDemo}[rnd.Intn(4)]
				l := lic(serial, "erp", kind, 1+rnd.Intn(9), func(l *license.License) {
					l.NotBefore = at()
					if rnd.Intn(2) == 0 {
						l.Expires = tp(at())
					}
					if len(serials) > 0 {
						l.MainSerial = serials[rnd.Intn(len(serials))]
					}
					if rnd.Intn(2) == 0 {
						l.DemoLimits = []license.Feature{{Name: "lines", Value: int64(rnd.Intn(9))}}
					}
				})
				if _, err := c.Install(l, now); err == nil {
					serials = append(serials, serial)
				}
			case 2:
				if len(serials) > 0 {
					_, _ = c.Remove(serials[rnd.Intn(len(serials))], now)
				}
			case 3:
				if len(serials) > 0 {
					c.Revoke([]string{serials[rnd.Intn(len(serials))]}, now)
				}
			default:
				got, want := c.Capacity("erp", now), c.capacity("erp", now)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("round %d step %d at %s: cached %+v, computed %+v", round, step, now, got, want)
				}
			}
		}
	}
}

// TestStoreLag: the expiry last given to the store stays where a grant,
// a restore or Stored put it while renewals move the lease's expiry on;
// ForgetStored makes the next renewal's lag large.
func TestStoreLag(t *testing.T) {
	c := New(lifetime, counter())
	mustInstall(t, c, mainLic("M1", 2))
	g, _, _ := c.Checkout(req("a", "ws1"), t0)
	id := g.Lease.ID
	lag := func(want time.Duration) {
		t.Helper()
		if got, ok := c.StoreLag(id); !ok || got != want {
			t.Fatalf("StoreLag = %v, %v; want %v", got, ok, want)
		}
	}
	lag(0) // granted: the grant stores it
	if _, _, err := c.Renew(id, t0.Add(time.Minute+time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	lag(time.Minute + time.Millisecond)
	if _, _, err := c.Checkout(req("a", "ws1"), t0.Add(2*time.Minute)); err != nil { // a retried checkout renews
		t.Fatal(err)
	}
	lag(2 * time.Minute)
	if l, ok := c.Stored(id); !ok || !l.Expires.Equal(t0.Add(2*time.Minute+lifetime)) {
		t.Fatalf("Stored = %v, %v", l, ok)
	}
	lag(0)
	c.ForgetStored(id)
	if got, _ := c.StoreLag(id); got < 100*365*24*time.Hour {
		t.Fatalf("after ForgetStored the lag is %v: a renewal would not store the lease", got)
	}
	if _, ok := c.StoreLag("L-none"); ok {
		t.Fatal("StoreLag of an unknown lease")
	}
	// Restored leases are stored as loaded.
	saved := c.Leases("")
	r := New(lifetime, counter())
	mustInstall(t, r, mainLic("M1", 2))
	r.Restore(saved, t0.Add(3*time.Minute))
	if got, ok := r.StoreLag(id); !ok || got != 0 {
		t.Fatalf("restored: StoreLag = %v, %v", got, ok)
	}
	if _, _, err := r.Renew(id, t0.Add(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.StoreLag(id); got != 2*time.Minute {
		t.Fatalf("restored and renewed: StoreLag = %v, want 2m", got)
	}
}

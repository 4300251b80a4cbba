// Package storetest is the conformance suite every seatstore.Store passes:
// Memory, SQLite and PostgreSQL run the same tests, so the server behaves
// the same on each.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/devices"
	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/license"
)

// Options add the tests that need more than one fresh store.
type Options struct {
	// Reopen closes nothing: it opens the database that s (already closed
	// by the suite) used, for the persistence tests of durable stores.
	Reopen func(t *testing.T, s seatstore.Store) seatstore.Store
	// Second opens another store on the database of s, as a second server
	// node would, for the grant race test. Nil skips it.
	Second func(t *testing.T, s seatstore.Store) seatstore.Store
	// RaceRounds is how many times the race test grants the last seat from
	// two stores at once (default 200).
	RaceRounds int
}

// Run runs the suite; open returns a new, empty store (closed by the suite
// or at cleanup).
func Run(t *testing.T, open func(t *testing.T) seatstore.Store) {
	RunWith(t, open, Options{})
}

// RunWith runs the suite with the optional tests opts enables.
func RunWith(t *testing.T, open func(t *testing.T) seatstore.Store, opts Options) {
	o := func(t *testing.T) seatstore.Store {
		s := open(t)
		t.Cleanup(func() { s.Close() })
		return s
	}
	t.Run("Empty", func(t *testing.T) { testEmpty(t, o(t)) })
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, o(t)) })
	t.Run("ReplaceDelete", func(t *testing.T) { testReplaceDelete(t, o(t)) })
	t.Run("LoadSorted", func(t *testing.T) { testLoadSorted(t, o(t)) })
	t.Run("Invalid", func(t *testing.T) { testInvalid(t, o(t)) })
	t.Run("Grant", func(t *testing.T) { testGrant(t, o(t)) })
	t.Run("GrantAtomic", func(t *testing.T) { testGrantAtomic(t, o(t)) })
	t.Run("GrantNew", func(t *testing.T) { testGrantNew(t, o(t)) })
	t.Run("GrantNewGroup", func(t *testing.T) { testGrantNewGroup(t, o(t)) })
	t.Run("Renewals", func(t *testing.T) { testRenewals(t, o(t)) })
	t.Run("Events", func(t *testing.T) { testEvents(t, o(t)) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, o(t)) })
	t.Run("ConcurrentGrants", func(t *testing.T) { testConcurrentGrants(t, o(t)) })
	t.Run("Context", func(t *testing.T) { testContext(t, o(t)) })
	t.Run("Closed", func(t *testing.T) { testClosed(t, o(t)) })
	if opts.Reopen != nil {
		t.Run("Reopen", func(t *testing.T) { testReopen(t, o(t), opts.Reopen) })
	}
	if opts.Second != nil {
		rounds := opts.RaceRounds
		if rounds == 0 {
			rounds = 200
		}
		t.Run("GrantRace", func(t *testing.T) { testGrantRace(t, o(t), opts.Second, rounds) })
		t.Run("RenewReleaseRace", func(t *testing.T) { testRenewReleaseRace(t, o(t), opts.Second, rounds/4) })
	}
}

var ctx = context.Background()

// T0 is a time with nanoseconds in a zone other than UTC: stores return it
// as the same instant in UTC.
var T0 = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("MSK", 3*3600))

// Lease returns a lease of product with every field set.
func Lease(id, product, computer string, at time.Time) seats.Lease {
	return seats.Lease{
		ID: id,
		Request: seats.Request{Product: product, ClientSessionID: "sess-" + id + "-0123456789", AppName: "Склад 15",
			UserName: "Иванов", ComputerName: computer, SessionStarted: at.Add(-time.Minute)},
		Mode: seats.ModeLicensed, Granted: at, Expires: at.Add(5 * time.Minute),
	}
}

func event(at time.Time, kind seats.EventKind, lease string) seats.Event {
	return seats.Event{Time: at, Kind: kind, Product: "acme", LeaseID: lease, Session: "sess-" + lease, User: "Иванов", Detail: "d " + lease}
}

func load(t *testing.T, s seatstore.Store) *seatstore.State {
	t.Helper()
	st, err := s.Load(ctx)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return st
}

func commit(t *testing.T, s seatstore.Store, c seatstore.Change) {
	t.Helper()
	if err := s.Commit(ctx, c); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// AllEvents returns the whole usage log, checking Seq and the hash chain.
func AllEvents(t testing.TB, s seatstore.Store) []seatstore.LoggedEvent {
	t.Helper()
	var out []seatstore.LoggedEvent
	var prev [32]byte
	err := s.Events(ctx, time.Time{}, time.Time{}, func(e seatstore.LoggedEvent) error {
		if e.Seq != int64(len(out))+1 {
			return fmt.Errorf("entry %d has Seq %d: the log has a gap or is out of order", len(out)+1, e.Seq)
		}
		if want := seatstore.ChainHash(prev, e); e.Hash != want {
			return fmt.Errorf("entry %d: hash %x, want %x (chain broken)", e.Seq, e.Hash[:8], want[:8])
		}
		prev = e.Hash
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	return out
}

func fullChange() (seatstore.Change, seatstore.State) {
	raw := []byte("-----BEGIN AIRSEAL LICENSE-----\n\x00\xff\x01binary\n")
	lic := seatstore.LicenseRecord{Serial: "S-2", Raw: raw, ITN: "7707083893", IEC: "773601001", Installed: T0}
	lic2 := seatstore.LicenseRecord{Serial: "S-1", Raw: []byte("123"), Installed: T0.Add(time.Nanosecond)}
	l1 := Lease("L-B", "acme", "PC-1", T0)
	l2 := Lease("L-A", "acme", "PC-2", T0.Add(time.Second))
	l2.Lost = "license S-9 was removed"
	l2.SessionStarted = time.Time{}
	tok := seatstore.TokenRecord{Name: "ci", Role: "client", SHA256: [32]byte{1, 2, 3, 31: 0xff}, Created: T0}
	dev := devices.Device{Code: "TSD-01", Name: "Терминал 1", App: "acme", IP: "10.0.0.7", Registered: T0, State: devices.Approved,
		Decided: T0.Add(time.Hour), DecidedBy: "admin", KeyNo: "S-2",
		DemoLimits: []license.Feature{{Name: "lines", Value: 3}, {Name: "print", Value: 0, IsBool: true}}}
	dev2 := devices.Device{Code: "TSD-00", Name: "new", App: "acme", Registered: T0, State: devices.Pending}
	c := seatstore.Change{
		PutLicenses: []seatstore.LicenseRecord{lic, lic2},
		PutLeases:   []seats.Lease{l1, l2},
		PutTokens:   []seatstore.TokenRecord{tok},
		PutDevices:  []devices.Device{dev, dev2},
		Settings:    map[string]string{"server.id": "node-1", "empty": ""},
		Events:      []seats.Event{event(T0, seats.EventGrant, "L-B")},
	}
	utc := func(t time.Time) time.Time { return t.UTC() }
	lic.Installed, lic2.Installed, tok.Created = utc(lic.Installed), utc(lic2.Installed), utc(tok.Created)
	for _, l := range []*seats.Lease{&l1, &l2} {
		l.Granted, l.Expires = utc(l.Granted), utc(l.Expires)
		if !l.SessionStarted.IsZero() {
			l.SessionStarted = utc(l.SessionStarted)
		}
	}
	dev.Registered, dev.Decided, dev2.Registered = utc(dev.Registered), utc(dev.Decided), utc(dev2.Registered)
	want := seatstore.State{
		Licenses: []seatstore.LicenseRecord{lic2, lic},
		Leases:   []seats.Lease{l2, l1},
		Tokens:   []seatstore.TokenRecord{tok},
		Devices:  []devices.Device{dev2, dev},
		Settings: map[string]string{"server.id": "node-1", "empty": ""},
	}
	return c, want
}

func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func checkState(t *testing.T, got *seatstore.State, want seatstore.State) {
	t.Helper()
	same(t, "licenses", got.Licenses, want.Licenses)
	same(t, "leases", got.Leases, want.Leases)
	same(t, "tokens", got.Tokens, want.Tokens)
	same(t, "devices", got.Devices, want.Devices)
	same(t, "settings", got.Settings, want.Settings)
	for _, l := range got.Leases {
		for _, tm := range []time.Time{l.Granted, l.Expires, l.SessionStarted} {
			if !tm.IsZero() && tm.Location() != time.UTC {
				t.Errorf("lease %s: time %v is not in UTC", l.ID, tm)
			}
		}
	}
}

func testEmpty(t *testing.T, s seatstore.Store) {
	st := load(t, s)
	if len(st.Licenses)+len(st.Leases)+len(st.Tokens)+len(st.Devices)+len(st.Settings) != 0 || st.Settings == nil {
		t.Fatalf("new store not empty (or nil Settings): %+v", st)
	}
	if n := len(AllEvents(t, s)); n != 0 {
		t.Fatalf("new store has %d events", n)
	}
	commit(t, s, seatstore.Change{}) // an empty change is fine
}

func testRoundTrip(t *testing.T, s seatstore.Store) {
	c, want := fullChange()
	commit(t, s, c)
	checkState(t, load(t, s), want)
	evs := AllEvents(t, s)
	if len(evs) != 1 || !evs[0].Time.Equal(T0) || evs[0].Time.Location() != time.UTC || evs[0].Time.Nanosecond() != T0.Nanosecond() {
		t.Fatalf("events %+v, want one at %v (UTC, nanoseconds kept)", evs, T0)
	}
	want0 := event(T0.UTC(), seats.EventGrant, "L-B")
	same(t, "event", evs[0].Event, want0)
	// Extreme but valid times keep their nanoseconds.
	far := time.Date(2261, 12, 31, 23, 59, 59, 999999999, time.UTC)
	old := time.Date(1679, 1, 1, 0, 0, 0, 1, time.UTC)
	l := Lease("L-far", "acme", "PC", far.Add(-time.Hour))
	l.Expires, l.SessionStarted = far, old
	commit(t, s, seatstore.Change{PutLeases: []seats.Lease{l}})
	for _, got := range load(t, s).Leases {
		if got.ID == "L-far" {
			same(t, "far lease", got, l)
		}
	}
}

func testReplaceDelete(t *testing.T, s seatstore.Store) {
	c, _ := fullChange()
	commit(t, s, c)
	l := Lease("L-B", "acme", "PC-9", T0.Add(time.Hour))
	l.Mode = seats.ModeDemo
	lic := seatstore.LicenseRecord{Serial: "S-2", Raw: []byte("other"), Installed: T0.UTC()}
	tok := seatstore.TokenRecord{Name: "ci", Role: "admin", Created: T0.UTC()}
	dev := devices.Device{Code: "TSD-01", Name: "renamed", State: devices.Denied, Registered: T0.UTC()}
	commit(t, s, seatstore.Change{
		PutLicenses: []seatstore.LicenseRecord{lic}, DeleteLicenses: []string{"S-1", "S-missing"},
		PutLeases: []seats.Lease{l}, DeleteLeases: []string{"L-A", "L-missing"},
		PutTokens: []seatstore.TokenRecord{tok}, DeleteTokens: []string{"nobody"},
		PutDevices: []devices.Device{dev}, DeleteDevices: []string{"TSD-00"},
		Settings: map[string]string{"server.id": "node-2"},
	})
	checkState(t, load(t, s), seatstore.State{
		Licenses: []seatstore.LicenseRecord{lic},
		Leases:   []seats.Lease{utcLease(l)},
		Tokens:   []seatstore.TokenRecord{tok},
		Devices:  []devices.Device{dev},
		Settings: map[string]string{"server.id": "node-2", "empty": ""},
	})
	// A put then a delete of one key in one change: deleted.
	commit(t, s, seatstore.Change{DeleteLeases: []string{"L-B"}, DeleteTokens: []string{"ci"}, DeleteLicenses: []string{"S-2"}, DeleteDevices: []string{"TSD-01"}})
	st := load(t, s)
	if len(st.Leases)+len(st.Tokens)+len(st.Licenses)+len(st.Devices) != 0 {
		t.Fatalf("after deleting everything: %+v", st)
	}
}

func utcLease(l seats.Lease) seats.Lease {
	l.Granted, l.Expires, l.SessionStarted = l.Granted.UTC(), l.Expires.UTC(), l.SessionStarted.UTC()
	return l
}

func testLoadSorted(t *testing.T, s seatstore.Store) {
	// Byte order, whatever the database's collation: upper before lower,
	// Cyrillic after Latin.
	keys := []string{"b", "B", "a", "Я", "z", "A-10", "A-9", "ё", "_"}
	var c seatstore.Change
	for _, k := range keys {
		c.PutLeases = append(c.PutLeases, Lease(k, "acme", "PC", T0))
		c.PutLicenses = append(c.PutLicenses, seatstore.LicenseRecord{Serial: k, Raw: []byte(k)})
		c.PutTokens = append(c.PutTokens, seatstore.TokenRecord{Name: k})
		c.PutDevices = append(c.PutDevices, devices.Device{Code: k})
	}
	commit(t, s, c)
	want := slices.Sorted(slices.Values(keys))
	st := load(t, s)
	var got [4][]string
	for _, l := range st.Leases {
		got[0] = append(got[0], l.ID)
	}
	for _, l := range st.Licenses {
		got[1] = append(got[1], l.Serial)
	}
	for _, l := range st.Tokens {
		got[2] = append(got[2], l.Name)
	}
	for _, l := range st.Devices {
		got[3] = append(got[3], l.Code)
	}
	for i, g := range got {
		same(t, fmt.Sprint("order of list ", i), g, want)
	}
}

func testInvalid(t *testing.T, s seatstore.Store) {
	commit(t, s, seatstore.Change{Settings: map[string]string{"keep": "1"}})
	bad := map[string]seatstore.Change{
		"NUL":       {PutLeases: []seats.Lease{Lease("L-1", "ac\x00me", "PC", T0)}},
		"not UTF-8": {PutLicenses: []seatstore.LicenseRecord{{Serial: "S\xff"}}},
		"year 3000": {PutLeases: []seats.Lease{func() seats.Lease {
			l := Lease("L-1", "acme", "PC", T0)
			l.SessionStarted = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
			return l
		}()}},
		"no time":      {Events: []seats.Event{{Kind: seats.EventGrant}}},
		"empty key":    {PutTokens: []seatstore.TokenRecord{{Name: ""}}},
		"NUL detail":   {Events: []seats.Event{{Time: T0, Kind: "grant", Detail: "a\x00"}}},
		"device text":  {PutDevices: []devices.Device{{Code: "D", Name: "\xc3"}}},
		"setting NUL":  {Settings: map[string]string{"k": "\x00"}},
		"negative cap": {Grants: []seatstore.Grant{{Lease: Lease("L-1", "acme", "PC", T0), Seats: -1}}},
	}
	for name, c := range bad {
		c.Settings = mapsWith(c.Settings, "keep", "2")
		c.Events = append(c.Events, event(T0, seats.EventGrant, "x"))
		err := s.Commit(ctx, c)
		if !errors.Is(err, seatstore.ErrInvalid) {
			t.Errorf("%s: Commit = %v, want ErrInvalid", name, err)
		}
	}
	st := load(t, s)
	if st.Settings["keep"] != "1" || len(st.Leases)+len(st.Licenses)+len(st.Tokens)+len(st.Devices) != 0 {
		t.Errorf("a refused change left something: %+v", st)
	}
	if n := len(AllEvents(t, s)); n != 0 {
		t.Errorf("a refused change logged %d events", n)
	}
}

func mapsWith(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		out[a] = b
	}
	return out
}

func grant(id, product, computer string, cap int, perComputer bool) seatstore.Grant {
	l := Lease(id, product, computer, T0)
	g := seatstore.Grant{Lease: l, Seats: cap}
	if perComputer {
		g.SeatKey = seatstore.SeatKey(l, license.PerComputer)
	}
	return g
}

func leaseIDs(t *testing.T, s seatstore.Store) []string {
	t.Helper()
	var ids []string
	for _, l := range load(t, s).Leases {
		ids = append(ids, l.ID)
	}
	return ids
}

func testGrant(t *testing.T, s seatstore.Store) {
	// Per session: two seats.
	commit(t, s, seatstore.Change{Grants: []seatstore.Grant{grant("L-1", "acme", "PC-1", 2, false)}})
	commit(t, s, seatstore.Change{Grants: []seatstore.Grant{grant("L-2", "acme", "PC-1", 2, false)}})
	err := s.Commit(ctx, seatstore.Change{Grants: []seatstore.Grant{grant("L-3", "acme", "PC-1", 2, false)},
		Events: []seats.Event{event(T0, seats.EventGrant, "L-3")}, Settings: map[string]string{"x": "y"}})
	var ns *seats.NoSeatError
	if !errors.Is(err, seats.ErrNoSeat) || !errors.As(err, &ns) || ns.InUse != 2 || ns.Seats != 2 || ns.Product != "acme" {
		t.Fatalf("third grant of 2 seats: %v, want *seats.NoSeatError 2 of 2 acme", err)
	}
	if st := load(t, s); len(st.Leases) != 2 || st.Settings["x"] != "" {
		t.Fatalf("a refused grant stored something: %+v", st)
	}
	if n := len(AllEvents(t, s)); n != 0 {
		t.Fatalf("a refused grant logged %d events", n)
	}
	// Granting an ID again (a retried commit) does not count it twice.
	commit(t, s, seatstore.Change{Grants: []seatstore.Grant{grant("L-2", "acme", "PC-1", 2, false)}})
	// Another product has its own count.
	commit(t, s, seatstore.Change{Grants: []seatstore.Grant{grant("L-o", "other", "PC-1", 1, false)}})
	// A lost lease does not count; a released one frees its seat in the
	// same change that grants it again.
	lost := Lease("L-1", "acme", "PC-1", T0)
	lost.Lost = "license removed"
	commit(t, s, seatstore.Change{PutLeases: []seats.Lease{lost}, Grants: []seatstore.Grant{grant("L-3", "acme", "PC-1", 2, false)}})
	commit(t, s, seatstore.Change{DeleteLeases: []string{"L-3"}, Grants: []seatstore.Grant{grant("L-4", "acme", "PC-1", 2, false)}})
	same(t, "leases", leaseIDs(t, s), []string{"L-1", "L-2", "L-4", "L-o"})
	if err := s.Commit(ctx, seatstore.Change{Grants: []seatstore.Grant{grant("L-5", "acme", "PC-1", 2, false)}}); !errors.Is(err, seats.ErrNoSeat) {
		t.Fatalf("grant over capacity after release/grant: %v", err)
	}
	// Capacity 0 refuses everything.
	if err := s.Commit(ctx, seatstore.Change{Grants: []seatstore.Grant{grant("L-z", "zero", "PC-1", 0, false)}}); !errors.Is(err, seats.ErrNoSeat) {
		t.Fatalf("grant with 0 seats: %v", err)
	}
	// Per computer: a computer holding a seat gets more leases on it.
	for i, pc := range []string{"A", "A", "B", "A", "B"} {
		commit(t, s, seatstore.Change{Grants: []seatstore.Grant{grant(fmt.Sprint("P-", i), "pc", pc, 2, true)}})
	}
	if err := s.Commit(ctx, seatstore.Change{Grants: []seatstore.Grant{grant("P-9", "pc", "C", 2, true)}}); !errors.Is(err, seats.ErrNoSeat) {
		t.Fatalf("third computer on 2 per-computer seats: %v", err)
	}
	// Renewing a granted lease with PutLeases keeps its seat key: computer
	// A still holds one seat, so another lease of A is granted.
	r := Lease("P-0", "pc", "A", T0.Add(time.Minute))
	commit(t, s, seatstore.Change{PutLeases: []seats.Lease{r}, Grants: []seatstore.Grant{grant("P-8", "pc", "A", 2, true)}})
	// Several grants in one change count each other.
	err = s.Commit(ctx, seatstore.Change{Grants: []seatstore.Grant{grant("Q-1", "q", "A", 1, false), grant("Q-2", "q", "A", 1, false)}})
	if !errors.Is(err, seats.ErrNoSeat) {
		t.Fatalf("two grants of 1 seat in one change: %v", err)
	}
	for _, id := range leaseIDs(t, s) {
		if strings.HasPrefix(id, "Q-") {
			t.Fatalf("a refused change stored %s", id)
		}
	}
}

func testGrantAtomic(t *testing.T, s seatstore.Store) {
	commit(t, s, seatstore.Change{Grants: []seatstore.Grant{grant("L-1", "acme", "PC", 1, false)}, Events: []seats.Event{event(T0, seats.EventGrant, "L-1")}})
	// A refused Commit running beside accepted ones fails alone.
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := seatstore.Change{Events: []seats.Event{event(T0, seats.EventRenew, fmt.Sprint("R-", i))},
				PutLeases: []seats.Lease{Lease(fmt.Sprint("R-", i), "free", "PC", T0)}}
			if i%2 == 1 {
				c.Grants = []seatstore.Grant{grant(fmt.Sprint("G-", i), "acme", "PC", 1, false)}
			}
			errs[i] = s.Commit(ctx, c)
		}()
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case i%2 == 0 && err != nil:
			t.Errorf("commit %d without a grant failed: %v", i, err)
		case i%2 == 1 && !errors.Is(err, seats.ErrNoSeat):
			t.Errorf("commit %d granting a taken seat: %v", i, err)
		case err == nil:
			ok++
		}
	}
	if n := len(AllEvents(t, s)); n != 1+ok {
		t.Errorf("%d events logged, want %d (1 + one per accepted commit)", n, 1+ok)
	}
	if n := len(load(t, s).Leases); n != 1+ok {
		t.Errorf("%d leases stored, want %d", n, 1+ok)
	}
}

func newGrant(id, product, computer string, cap int, perComputer bool) seatstore.Grant {
	g := grant(id, product, computer, cap, perComputer)
	g.New = true
	return g
}

// testGrantNew checks Grant.New: a lease not stored is granted as by any
// Grant; a stored one (lost or not, seats free or not) refuses the whole
// Change with ErrLeaseExists and changes nothing.
func testGrantNew(t *testing.T, s seatstore.Store) {
	commit(t, s, seatstore.Change{Grants: []seatstore.Grant{newGrant("L-1", "acme", "PC-1", 3, false)},
		Events: []seats.Event{event(T0, seats.EventGrant, "L-1")}})
	l, ok, err := s.Lease(ctx, "L-1")
	if err != nil || !ok {
		t.Fatalf("Lease(L-1) after a new grant = %v, %v", ok, err)
	}
	same(t, "lease granted new", l, utcLease(Lease("L-1", "acme", "PC-1", T0)))
	notStored := func(what string, c seatstore.Change) {
		t.Helper()
		before := load(t, s)
		nev := len(AllEvents(t, s))
		err := s.Commit(ctx, c)
		if !errors.Is(err, seatstore.ErrLeaseExists) || errors.Is(err, seats.ErrNoSeat) {
			t.Fatalf("%s: %v, want ErrLeaseExists", what, err)
		}
		if !strings.Contains(err.Error(), c.Grants[len(c.Grants)-1].Lease.ID) {
			t.Errorf("%s: %q does not name the lease", what, err)
		}
		checkState(t, load(t, s), *before)
		if n := len(AllEvents(t, s)); n != nev {
			t.Fatalf("%s: a refused Commit logged %d events", what, n-nev)
		}
	}
	// The same ID again, with seats free and everything else of the
	// Change refused with it: a later expiry, another lease, a setting,
	// an event.
	again := newGrant("L-1", "acme", "PC-1", 3, false)
	again.Lease.Expires = T0.Add(time.Hour)
	notStored("stored lease, seats free", seatstore.Change{PutLeases: []seats.Lease{Lease("X-1", "free", "PC", T0)},
		Grants: []seatstore.Grant{again}, Settings: map[string]string{"x": "y"}, Events: []seats.Event{event(T0, seats.EventGrant, "L-1")}})
	// Several grants: the stored one refuses the others of its Change.
	notStored("stored lease after a new one", seatstore.Change{Grants: []seatstore.Grant{newGrant("L-2", "acme", "PC-1", 3, false), again}})
	// Every seat taken: the lease is still reported stored, not refused
	// for lack of a seat (a retried checkout renews its own seat).
	commit(t, s, seatstore.Change{Grants: []seatstore.Grant{grant("L-2", "acme", "PC-1", 2, false)}})
	notStored("stored lease, no seat free", seatstore.Change{Grants: []seatstore.Grant{newGrant("L-2", "acme", "PC-1", 2, false)}})
	// A lost lease is stored too; a plain Grant replaces it.
	lost := Lease("L-1", "acme", "PC-1", T0)
	lost.Lost = "license removed"
	commit(t, s, seatstore.Change{PutLeases: []seats.Lease{lost}})
	notStored("lost lease", seatstore.Change{Grants: []seatstore.Grant{newGrant("L-1", "acme", "PC-1", 3, false)}})
	// A lease put by the same Change is stored for its Grant; one deleted
	// by it is not.
	notStored("lease put by the same change", seatstore.Change{PutLeases: []seats.Lease{Lease("L-3", "acme", "PC-1", T0)},
		Grants: []seatstore.Grant{newGrant("L-3", "acme", "PC-1", 3, false)}})
	if _, ok, _ := s.Lease(ctx, "L-3"); ok {
		t.Fatal("a refused Change stored its PutLeases")
	}
	commit(t, s, seatstore.Change{DeleteLeases: []string{"L-1"}, Grants: []seatstore.Grant{newGrant("L-1", "acme", "PC-1", 2, false)}})
	// New counts seats as any Grant: L-1 and L-2 hold both.
	if err := s.Commit(ctx, seatstore.Change{Grants: []seatstore.Grant{newGrant("L-4", "acme", "PC-1", 2, false)}}); !errors.Is(err, seats.ErrNoSeat) {
		t.Fatalf("new grant over capacity: %v, want ErrNoSeat", err)
	}
	// Per computer: a new lease of a computer holding a seat is granted;
	// a stored one is not.
	commit(t, s, seatstore.Change{Grants: []seatstore.Grant{newGrant("P-1", "pc", "A", 1, true)}})
	commit(t, s, seatstore.Change{Grants: []seatstore.Grant{newGrant("P-2", "pc", "A", 1, true)}})
	notStored("stored per-computer lease", seatstore.Change{Grants: []seatstore.Grant{newGrant("P-1", "pc", "A", 1, true)}})
	same(t, "leases", leaseIDs(t, s), []string{"L-1", "L-2", "P-1", "P-2"})
}

// testGrantNewGroup commits new grants beside grants of stored leases at
// once (one group, where the store groups Commits): each stored one fails
// alone, the log holds exactly the events of the others, in one chain,
// and the seats are counted exactly.
func testGrantNewGroup(t *testing.T, s seatstore.Store) {
	const n = 24
	for i := range n / 2 {
		id := fmt.Sprint("S-", i)
		commit(t, s, seatstore.Change{Grants: []seatstore.Grant{newGrant(id, "acme", "PC", n, false)}, Events: []seats.Event{event(T0, seats.EventGrant, id)}})
	}
	for round := range 4 {
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprint("S-", i/2) // stored
				if i%2 == 1 {
					id = fmt.Sprint("N-", round, "-", i)
				}
				g := newGrant(id, "acme", "PC", n/2+(round+1)*n/2, false)
				g.Lease.Expires = T0.Add(time.Hour)
				errs[i] = s.Commit(ctx, seatstore.Change{Grants: []seatstore.Grant{g}, Events: []seats.Event{event(T0, seats.EventGrant, id)}})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			switch {
			case i%2 == 0 && !errors.Is(err, seatstore.ErrLeaseExists):
				t.Errorf("round %d: new grant of stored S-%d: %v, want ErrLeaseExists", round, i/2, err)
			case i%2 == 1 && err != nil:
				t.Errorf("round %d: new grant %d: %v", round, i, err)
			}
		}
	}
	want := n/2 + 4*n/2
	if got := len(AllEvents(t, s)); got != want {
		t.Errorf("%d events logged, want %d (one per lease granted)", got, want)
	}
	st := load(t, s)
	if len(st.Leases) != want {
		t.Fatalf("%d leases stored, want %d", len(st.Leases), want)
	}
	for _, l := range st.Leases {
		if strings.HasPrefix(l.ID, "S-") && !l.Expires.Equal(T0.Add(5*time.Minute)) {
			t.Errorf("stored lease %s was replaced by a refused new grant (expires %v)", l.ID, l.Expires)
		}
	}
	// Exactly want seats are held: one more is refused at want, granted
	// at want+1.
	if err := s.Commit(ctx, seatstore.Change{Grants: []seatstore.Grant{newGrant("Z-1", "acme", "PC", want, false)}}); !errors.Is(err, seats.ErrNoSeat) {
		t.Fatalf("grant at %d of %d seats: %v, want ErrNoSeat", want, want, err)
	}
	commit(t, s, seatstore.Change{Grants: []seatstore.Grant{newGrant("Z-1", "acme", "PC", want+1, false)}})
}

func testEvents(t *testing.T, s seatstore.Store) {
	var all []seats.Event
	for i := range 30 {
		var c seatstore.Change
		for j := range i % 4 { // some changes log nothing, some several
			e := event(T0.Add(time.Duration(i)*time.Minute+time.Duration(j)), seats.EventKind(fmt.Sprint("k", j)), fmt.Sprint("L-", i, "-", j))
			c.Events = append(c.Events, e)
			all = append(all, e)
		}
		c.Settings = map[string]string{"n": fmt.Sprint(i)}
		commit(t, s, c)
	}
	evs := AllEvents(t, s)
	if len(evs) != len(all) {
		t.Fatalf("%d events, want %d", len(evs), len(all))
	}
	for i, e := range evs {
		w := all[i]
		w.Time = w.Time.UTC()
		same(t, fmt.Sprint("event ", i), e.Event, w)
	}
	// Range: from <= Time < to, in log order.
	from, to := T0.Add(10*time.Minute), T0.Add(20*time.Minute)
	var got []int64
	err := s.Events(ctx, from, to, func(e seatstore.LoggedEvent) error {
		got = append(got, e.Seq)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	for _, e := range evs {
		if !e.Time.Before(from) && e.Time.Before(to) {
			want = append(want, e.Seq)
		}
	}
	if len(want) == 0 {
		t.Fatal("test data has no event in range")
	}
	same(t, "range", got, want)
	// fn's error stops the walk and is returned.
	stop := errors.New("stop")
	n := 0
	err = s.Events(ctx, time.Time{}, time.Time{}, func(seatstore.LoggedEvent) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Fatalf("Events after fn error: %v after %d calls, want stop after 3", err, n)
	}
	// The walk streams: fn may commit while it runs (a report written
	// into the log), and the store stays usable.
	err = s.Events(ctx, time.Time{}, time.Time{}, func(e seatstore.LoggedEvent) error {
		if e.Seq == 1 {
			return s.Commit(ctx, seatstore.Change{Settings: map[string]string{"during": "walk"}})
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Commit inside Events: %v", err)
	}
	if load(t, s).Settings["during"] != "walk" {
		t.Fatal("Commit inside Events was lost")
	}
}

func testConcurrent(t *testing.T, s seatstore.Store) {
	const workers, each = 8, 40
	var wg sync.WaitGroup
	errc := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("L-%d-%03d", w, i)
				c := seatstore.Change{PutLeases: []seats.Lease{Lease(id, "acme", "PC", T0)},
					Events:   []seats.Event{event(T0, seats.EventGrant, id), event(T0, seats.EventRenew, id)},
					Settings: map[string]string{fmt.Sprint("w", w): fmt.Sprint(i)}}
				if i > 0 {
					c.DeleteLeases = []string{fmt.Sprintf("L-%d-%03d", w, i-1)}
				}
				errc <- s.Commit(ctx, c)
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	st := load(t, s)
	if len(st.Leases) != workers {
		t.Fatalf("%d leases, want %d (one per worker)", len(st.Leases), workers)
	}
	for w := range workers {
		if st.Settings[fmt.Sprint("w", w)] != fmt.Sprint(each-1) {
			t.Errorf("worker %d: setting %q", w, st.Settings[fmt.Sprint("w", w)])
		}
	}
	evs := AllEvents(t, s)
	if len(evs) != 2*workers*each {
		t.Fatalf("%d events, want %d", len(evs), 2*workers*each)
	}
	// A change's events stay together, in order.
	for i := 0; i < len(evs); i += 2 {
		if evs[i].Kind != seats.EventGrant || evs[i+1].Kind != seats.EventRenew || evs[i].LeaseID != evs[i+1].LeaseID {
			t.Fatalf("events %d and %d are not one change's pair: %+v %+v", i+1, i+2, evs[i].Event, evs[i+1].Event)
		}
	}
}

func testConcurrentGrants(t *testing.T, s seatstore.Store) {
	const seatsN, tries = 5, 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for i := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Commit(ctx, seatstore.Change{Grants: []seatstore.Grant{grant(fmt.Sprint("G-", i), "acme", "PC", seatsN, false)}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				granted++
			case !errors.Is(err, seats.ErrNoSeat):
				t.Errorf("grant %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if granted != seatsN || len(load(t, s).Leases) != seatsN {
		t.Fatalf("%d grants succeeded, %d leases stored; want exactly %d", granted, len(load(t, s).Leases), seatsN)
	}
}

func testContext(t *testing.T, s seatstore.Store) {
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Commit(cctx, seatstore.Change{Settings: map[string]string{"a": "b"}, Events: []seats.Event{event(T0, "x", "y")}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit with a cancelled context: %v", err)
	}
	if _, err := s.Load(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Load with a cancelled context: %v", err)
	}
	if _, _, err := s.Lease(cctx, "L-1"); !errors.Is(err, context.Canceled) {
		t.Errorf("Lease with a cancelled context: %v", err)
	}
	if err := s.Events(cctx, time.Time{}, time.Time{}, func(seatstore.LoggedEvent) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Events with a cancelled context: %v", err)
	}
	if st := load(t, s); len(st.Settings) != 0 {
		t.Errorf("a cancelled Commit stored %v", st.Settings)
	}
	if n := len(AllEvents(t, s)); n != 0 {
		t.Errorf("a cancelled Commit logged %d events", n)
	}
	// Cancelled in the middle of a walk.
	var c seatstore.Change
	for i := range 50 {
		c.Events = append(c.Events, event(T0, "k", fmt.Sprint(i)))
	}
	commit(t, s, c)
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	n := 0
	err := s.Events(wctx, time.Time{}, time.Time{}, func(seatstore.LoggedEvent) error {
		n++
		if n == 2 {
			wcancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n >= 50 {
		t.Errorf("Events cancelled at entry 2: %v after %d entries", err, n)
	}
	// Commits racing their own cancellation: each is either stored and
	// reported nil, or not stored and reported with an error.
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cc, cancel := context.WithCancel(ctx)
			go cancel()
			errs[i] = s.Commit(cc, seatstore.Change{PutTokens: []seatstore.TokenRecord{{Name: fmt.Sprint("t", i)}}})
		}()
	}
	wg.Wait()
	stored := map[string]bool{}
	for _, tk := range load(t, s).Tokens {
		stored[tk.Name] = true
	}
	for i, err := range errs {
		if (err == nil) != stored[fmt.Sprint("t", i)] {
			t.Errorf("commit %d returned %v but stored=%v", i, err, stored[fmt.Sprint("t", i)])
		}
	}
}

func testClosed(t *testing.T, s seatstore.Store) {
	commit(t, s, seatstore.Change{Settings: map[string]string{"a": "b"}})
	// Close waits for Commits in flight: each returns nil or ErrClosed.
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Commit(ctx, seatstore.Change{Settings: map[string]string{fmt.Sprint(i): "x"}})
		}()
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, seatstore.ErrClosed) {
			t.Errorf("commit %d racing Close: %v", i, err)
		}
	}
	if err := s.Commit(ctx, seatstore.Change{Settings: map[string]string{"a": "c"}}); !errors.Is(err, seatstore.ErrClosed) {
		t.Errorf("Commit after Close: %v", err)
	}
	if _, err := s.Load(ctx); !errors.Is(err, seatstore.ErrClosed) {
		t.Errorf("Load after Close: %v", err)
	}
	if _, _, err := s.Lease(ctx, "x"); !errors.Is(err, seatstore.ErrClosed) {
		t.Errorf("Lease after Close: %v", err)
	}
	if err := s.Events(ctx, time.Time{}, time.Time{}, func(seatstore.LoggedEvent) error { return nil }); !errors.Is(err, seatstore.ErrClosed) {
		t.Errorf("Events after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func testReopen(t *testing.T, s seatstore.Store, reopen func(*testing.T, seatstore.Store) seatstore.Store) {
	c, want := fullChange()
	commit(t, s, c)
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Commit(ctx, seatstore.Change{Events: []seats.Event{event(T0, seats.EventRenew, fmt.Sprint("L-", i))}})
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	before := AllEvents(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := reopen(t, s)
	defer s2.Close()
	checkState(t, load(t, s2), want)
	same(t, "events after reopen", AllEvents(t, s2), before)
	// The log goes on from where it was, chain unbroken.
	commit(t, s2, seatstore.Change{Events: []seats.Event{event(T0, seats.EventRelease, "L-B")}})
	if evs := AllEvents(t, s2); len(evs) != len(before)+1 {
		t.Fatalf("%d events after one more, want %d", len(evs), len(before)+1)
	}
}

func testGrantRace(t *testing.T, s seatstore.Store, second func(*testing.T, seatstore.Store) seatstore.Store, rounds int) {
	s2 := second(t, s)
	defer s2.Close()
	nodes := []seatstore.Store{s, s2}
	for r := range rounds {
		product := fmt.Sprint("race-", r)
		// One seat of two taken; both nodes grant the last one at once.
		commit(t, s, seatstore.Change{Grants: []seatstore.Grant{grant(fmt.Sprint("R", r, "-0"), product, "PC", 2, false)}})
		start := make(chan struct{})
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = n.Commit(ctx, seatstore.Change{Grants: []seatstore.Grant{grant(fmt.Sprint("R", r, "-n", i), product, "PC", 2, false)},
					Events: []seats.Event{event(T0, seats.EventGrant, fmt.Sprint("R", r, "-n", i))}})
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for i, err := range errs {
			if err == nil {
				ok++
			} else if !errors.Is(err, seats.ErrNoSeat) {
				t.Fatalf("round %d node %d: %v", r, i, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d nodes granted the last seat, want exactly 1", r, ok)
		}
	}
	// Both nodes see the same leases and one unbroken log.
	n := 0
	for _, l := range load(t, s2).Leases {
		if strings.HasPrefix(l.Product, "race-") {
			n++
		}
	}
	if n != 2*rounds {
		t.Fatalf("%d race leases stored, want %d", n, 2*rounds)
	}
	if evs := AllEvents(t, s2); len(evs) != rounds {
		t.Fatalf("%d events, want %d", len(evs), rounds)
	}
}

func testRenewals(t *testing.T, s seatstore.Store) {
	commit(t, s, seatstore.Change{Grants: []seatstore.Grant{grant("L-1", "acme", "PC", 2, false)}})
	later := T0.Add(time.Hour + time.Nanosecond)
	commit(t, s, seatstore.Change{Renewals: []seatstore.Renewal{{ID: "L-1", Expires: later}}})
	l, ok, err := s.Lease(ctx, "L-1")
	want := utcLease(Lease("L-1", "acme", "PC", T0))
	want.Expires = later.UTC()
	if err != nil || !ok {
		t.Fatalf("Lease(L-1) = %v, %v", ok, err)
	}
	same(t, "renewed lease", l, want)
	if _, ok, err := s.Lease(ctx, "L-none"); ok || err != nil {
		t.Fatalf("Lease of a missing ID: %v, %v", ok, err)
	}
	// Released (on another node): the renewal is refused and brings
	// nothing back; nothing else of its Change is stored.
	commit(t, s, seatstore.Change{DeleteLeases: []string{"L-1"}})
	err = s.Commit(ctx, seatstore.Change{Renewals: []seatstore.Renewal{{ID: "L-1", Expires: later}},
		Settings: map[string]string{"x": "1"}, Events: []seats.Event{event(T0, seats.EventRenew, "L-1")}})
	if !errors.Is(err, seats.ErrUnknownLease) {
		t.Fatalf("renewal of a released lease: %v, want ErrUnknownLease", err)
	}
	if st := load(t, s); len(st.Leases) != 0 || st.Settings["x"] != "" {
		t.Fatalf("a refused renewal stored something: %+v", st)
	}
	if n := len(AllEvents(t, s)); n != 0 {
		t.Fatalf("a refused renewal logged %d events", n)
	}
	// Lost: refused with the reason.
	lost := Lease("L-2", "acme", "PC", T0)
	lost.Lost = "license S-1 was revoked"
	commit(t, s, seatstore.Change{PutLeases: []seats.Lease{lost}})
	err = s.Commit(ctx, seatstore.Change{Renewals: []seatstore.Renewal{{ID: "L-2", Expires: later}}})
	if !errors.Is(err, seats.ErrLost) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("renewal of a lost lease: %v, want ErrLost with the reason", err)
	}
	if l, ok, _ := s.Lease(ctx, "L-2"); !ok || l.Lost == "" || !l.Expires.Equal(T0.Add(5*time.Minute)) {
		t.Fatalf("lost lease after a refused renewal: %+v %v", l, ok)
	}
	// The seat counts are untouched by all this: two seats, two grants.
	for _, id := range []string{"L-3", "L-4"} {
		commit(t, s, seatstore.Change{Grants: []seatstore.Grant{grant(id, "acme", "PC", 2, false)}})
	}
	if err := s.Commit(ctx, seatstore.Change{Grants: []seatstore.Grant{grant("L-5", "acme", "PC", 2, false)}}); !errors.Is(err, seats.ErrNoSeat) {
		t.Fatalf("third grant of two seats: %v", err)
	}
}

// testRenewReleaseRace: one node releases a lease while another renews
// it at the same instant. The lease never comes back, and its seat is
// free afterwards.
func testRenewReleaseRace(t *testing.T, s seatstore.Store, second func(*testing.T, seatstore.Store) seatstore.Store, rounds int) {
	s2 := second(t, s)
	defer s2.Close()
	for r := range rounds {
		product := fmt.Sprint("rr-", r)
		id := fmt.Sprint("RR-", r)
		commit(t, s, seatstore.Change{Grants: []seatstore.Grant{grant(id, product, "PC", 1, false)}})
		start := make(chan struct{})
		var wg sync.WaitGroup
		var renewErr, releaseErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			releaseErr = s.Commit(ctx, seatstore.Change{DeleteLeases: []string{id}})
		}()
		go func() {
			defer wg.Done()
			<-start
			renewErr = s2.Commit(ctx, seatstore.Change{Renewals: []seatstore.Renewal{{ID: id, Expires: T0.Add(time.Hour)}}})
		}()
		close(start)
		wg.Wait()
		if releaseErr != nil || (renewErr != nil && !errors.Is(renewErr, seats.ErrUnknownLease)) {
			t.Fatalf("round %d: release %v, renew %v", r, releaseErr, renewErr)
		}
		if _, ok, err := s2.Lease(ctx, id); ok || err != nil {
			t.Fatalf("round %d: the released lease is stored again (%v)", r, err)
		}
		// Its one seat is free: exactly one grant fits.
		commit(t, s2, seatstore.Change{Grants: []seatstore.Grant{grant(id+"b", product, "PC", 1, false)}})
		if err := s.Commit(ctx, seatstore.Change{Grants: []seatstore.Grant{grant(id+"c", product, "PC", 1, false)}}); !errors.Is(err, seats.ErrNoSeat) {
			t.Fatalf("round %d: a second grant of one seat: %v", r, err)
		}
	}
}

// Differential applies the same random changes (leases put, deleted,
// granted per session or per computer against small capacities, renewed,
// lost; licenses, tokens, devices, settings, events) to ref (Memory) and
// s, and fails at the first answer or state where they differ: a store's
// seat counts must decide every Grant as the reference does.
func Differential(t *testing.T, ref, s seatstore.Store, seed uint64, steps int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	id := func() string { return fmt.Sprint("L-", rng.IntN(12)) }
	kind := func(err error) string {
		switch {
		case err == nil:
			return "ok"
		case errors.Is(err, seats.ErrNoSeat):
			return "no seat"
		case errors.Is(err, seats.ErrUnknownLease):
			return "unknown lease"
		case errors.Is(err, seats.ErrLost):
			return "lost"
		case errors.Is(err, seatstore.ErrLeaseExists):
			return "lease exists"
		}
		return "error: " + err.Error()
	}
	at := T0
	for step := range steps {
		at = at.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
		var c seatstore.Change
		for range 1 + rng.IntN(3) {
			switch rng.IntN(9) {
			case 0, 1:
				l := Lease(id(), pick("a", "b", "c"), pick("PC-1", "PC-2", "PC-3"), at)
				if rng.IntN(4) == 0 {
					l.Lost = "taken away at step " + fmt.Sprint(step)
				}
				c.PutLeases = append(c.PutLeases, l)
			case 2:
				c.DeleteLeases = append(c.DeleteLeases, id())
			case 3, 4, 5:
				l := Lease(id(), pick("a", "b", "c"), pick("PC-1", "PC-2", "PC-3"), at)
				unit := license.PerSession
				if rng.IntN(2) == 0 {
					unit = license.PerComputer
				}
				c.Grants = append(c.Grants, seatstore.Grant{Lease: l, SeatKey: seatstore.SeatKey(l, unit), Seats: rng.IntN(4), New: rng.IntN(3) == 0})
			case 6:
				c.Renewals = append(c.Renewals, seatstore.Renewal{ID: id(), Expires: at.Add(time.Hour)})
			case 7:
				c.PutLicenses = append(c.PutLicenses, seatstore.LicenseRecord{Serial: pick("S-1", "S-2"), Raw: []byte(fmt.Sprint(step)), Installed: at})
				c.DeleteTokens = append(c.DeleteTokens, pick("t1", "t2"))
				c.PutDevices = append(c.PutDevices, devices.Device{Code: pick("D1", "D2"), State: devices.Pending, Registered: at})
			case 8:
				c.DeleteLicenses = append(c.DeleteLicenses, pick("S-1", "S-2"))
				c.PutTokens = append(c.PutTokens, seatstore.TokenRecord{Name: pick("t1", "t2"), Created: at})
				c.DeleteDevices = append(c.DeleteDevices, pick("D1", "D2"))
				c.Settings = map[string]string{pick("x", "y"): fmt.Sprint(step)}
			}
		}
		c.Events = []seats.Event{event(at, seats.EventKind(fmt.Sprint("k", step)), id())}
		e1, e2 := ref.Commit(ctx, c), s.Commit(ctx, c)
		if kind(e1) != kind(e2) {
			t.Fatalf("seed %d step %d: reference says %v, store says %v\nchange %+v", seed, step, e1, e2, c)
		}
		if step%25 == 24 || step == steps-1 {
			a, b := load(t, ref), load(t, s)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("seed %d step %d: states differ:\n ref   %+v\n store %+v", seed, step, a, b)
			}
		}
	}
	same(t, "usage log", AllEvents(t, s), AllEvents(t, ref))
}

package seats

import (
	"fmt"
	"testing"
	"time"
)

// TestStamp: a time kept in a record comes back as the same instant in
// the same zone (UTC, Local, a fixed offset), the zero time included.
func TestStamp(t *testing.T) {
	for _, tm := range []time.Time{
		{},
		t0,
		time.Now(),
		time.Now().Round(0),
		time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.FixedZone("MSK", 3*3600)),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(1600, 6, 1, 0, 0, 0, 5, time.Local),
	} {
		got := toStamp(tm).time()
		_, wantOff := tm.Zone()
		_, gotOff := got.Zone()
		if !got.Equal(tm) || gotOff != wantOff || got.IsZero() != tm.IsZero() {
			t.Errorf("%v: got back %v", tm, got)
		}
		if tm.Location() == time.UTC || tm.Location() == time.Local {
			if got.Location() != tm.Location() || got != tm.Round(0) {
				t.Errorf("%v (%v): got back %v (%v)", tm, tm.Location(), got, got.Location())
			}
		}
	}
}

// TestSweepDue: a sweep expires exactly the leases past their expiry,
// whatever second they were granted or renewed in; renewing moves a
// lease's expiry, and a lease renewed is not swept at its old one.
func TestSweepDue(t *testing.T) {
	c := New(lifetime, counter())
	mustInstall(t, c, mainLic("M1", 1000))
	var ids []string
	for i := 0; i < 1000; i++ {
		at := t0.Add(time.Duration(i) * 300 * time.Millisecond)
		g, _, err := c.Checkout(req(fmt.Sprint(i), "ws"), at)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, g.Lease.ID)
	}
	// Lease 5 (granted at +1.5 s) is renewed at +2 s: it expires at
	// lifetime + 2 s, no longer at lifetime + 1.5 s.
	if _, _, err := c.Renew(ids[5], t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	// At lifetime + 1.5 s the leases granted at 0, 0.3 ... 1.5 s are due
	// (six), but lease 5.
	ev := c.Sweep(t0.Add(lifetime + 1500*time.Millisecond))
	if len(ev) != 5 || c.InUse("erp") != 995 {
		t.Fatalf("swept %d (%v), in use %d; want 5 and 995", len(ev), ev, c.InUse("erp"))
	}
	for i, e := range ev {
		if e.Kind != EventExpire || e.LeaseID == ids[5] {
			t.Errorf("event %d: %+v", i, e)
		}
	}
	if ev := c.Sweep(t0.Add(lifetime + 1999*time.Millisecond)); len(ev) != 1 || ev[0].LeaseID != ids[6] {
		t.Fatalf("at +1.999 s: %v, want lease %s (granted at +1.8 s) only", ev, ids[6])
	}
	if ev := c.Sweep(t0.Add(lifetime + 2*time.Second)); len(ev) != 1 || ev[0].LeaseID != ids[5] {
		t.Fatalf("at +2 s: %v, want lease %s (renewed at +2 s) only", ev, ids[5])
	}
	if ev := c.Sweep(t0.Add(time.Hour)); len(ev) != 993 || c.InUse("erp") != 0 {
		t.Fatalf("an hour later: %d swept, in use %d", len(ev), c.InUse("erp"))
	}
	if err := c.Check(t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if len(c.live.expiry) != 0 || len(c.live.seconds) != 0 {
		t.Fatalf("expiry buckets left: %d, seconds %d", len(c.live.expiry), len(c.live.seconds))
	}
}

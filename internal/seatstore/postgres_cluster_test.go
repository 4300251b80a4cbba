package seatstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
)

func pgLease(id, computer string, expires time.Time) seats.Lease {
	return seats.Lease{ID: id, Request: seats.Request{Product: "acme", ClientSessionID: "session-" + id, UserName: "u", ComputerName: computer},
		Mode: seats.ModeLicensed, Granted: expires.Add(-time.Minute), Expires: expires}
}

// TestPostgresSweepExpired: a sweep deletes the expired leases (lost ones
// silently), logs one expiry per live one, keeps the seat counts right (a
// Grant afterwards sees exactly the seats freed), and a second sweep, on
// another node, finds nothing.
func TestPostgresSweepExpired(t *testing.T) {
	url := newPGDatabase(t)
	a, b := openPG(t, url), openPG(t, url)
	defer a.Close()
	defer b.Close()
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	grant := func(st seatstore.Store, l seats.Lease, key string, capacity int) error {
		return st.Commit(ctx, seatstore.Change{Grants: []seatstore.Grant{{Lease: l, SeatKey: key, Seats: capacity}}})
	}
	for _, g := range []struct {
		l   seats.Lease
		key string
	}{
		{pgLease("L-1", "pc1", t0.Add(time.Minute)), ""},
		{pgLease("L-2", "pc2", t0.Add(10*time.Minute)), ""},
		{pgLease("L-3", "pc3", t0.Add(time.Minute)), "c:pc3"},
		{pgLease("L-4", "pc3", t0.Add(time.Minute)), "c:pc3"},
	} {
		if err := grant(a, g.l, g.key, 3); err != nil {
			t.Fatal(err)
		}
	}
	lost := pgLease("L-5", "pc5", t0.Add(time.Minute))
	lost.Lost = "license removed"
	if err := a.Commit(ctx, seatstore.Change{PutLeases: []seats.Lease{lost}}); err != nil {
		t.Fatal(err)
	}
	if err := grant(b, pgLease("L-6", "pc6", t0.Add(time.Hour)), "", 3); !errors.Is(err, seats.ErrNoSeat) {
		t.Fatalf("4th seat of 3 before the sweep: %v", err)
	}
	gone, err := b.SweepExpired(ctx, t0.Add(5*time.Minute), t0.Add(5*time.Minute), "not renewed")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, l := range gone {
		ids[l.ID] = true
	}
	if len(gone) != 3 || !ids["L-1"] || !ids["L-3"] || !ids["L-4"] {
		t.Fatalf("swept %v, want L-1, L-3, L-4", ids)
	}
	st, err := a.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Leases) != 1 || st.Leases[0].ID != "L-2" {
		t.Fatalf("left after the sweep: %+v", st.Leases)
	}
	// Two seats free again, not more.
	for i, id := range []string{"L-6", "L-7"} {
		if err := grant(a, pgLease(id, fmt.Sprint("pc", 6+i), t0.Add(time.Hour)), "", 3); err != nil {
			t.Fatalf("grant %s after the sweep: %v", id, err)
		}
	}
	if err := grant(b, pgLease("L-8", "pc8", t0.Add(time.Hour)), "", 3); !errors.Is(err, seats.ErrNoSeat) {
		t.Fatalf("4th seat of 3 after the sweep: %v", err)
	}
	if gone, err := a.SweepExpired(ctx, t0.Add(5*time.Minute), t0.Add(5*time.Minute), "not renewed"); err != nil || len(gone) != 0 {
		t.Fatalf("second sweep: %v, %v", gone, err)
	}
	expiries := 0
	if err := a.Events(ctx, time.Time{}, time.Time{}, func(e seatstore.LoggedEvent) error {
		if e.Kind == seats.EventExpire {
			expiries++
		}
		return nil
	}); err != nil || expiries != 3 {
		t.Fatalf("%d expiries logged (%v), want 3", expiries, err)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var inUse int
	if err := db.QueryRow(`SELECT in_use FROM seat_products WHERE product = 'acme'`).Scan(&inUse); err != nil || inUse != 3 {
		t.Fatalf("seat_products.in_use %d (%v), want 3", inUse, err)
	}
}

// TestPostgresSweepRenewRace: a renewal on one node and a sweep on another
// at the same instant, 100 times: either the renewal wins (the lease is
// kept with its new expiry) or the sweep does (the renewal is refused as
// unknown); never a renewal acknowledged for a lease the sweep deleted.
func TestPostgresSweepRenewRace(t *testing.T) {
	url := newPGDatabase(t)
	a, b := openPG(t, url), openPG(t, url)
	defer a.Close()
	defer b.Close()
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	renewed, swept := 0, 0
	for i := range 100 {
		id := fmt.Sprintf("L-R%03d", i)
		if err := a.Commit(ctx, seatstore.Change{Grants: []seatstore.Grant{{Lease: pgLease(id, "pc", t0), Seats: 1}}}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var renewErr, sweepErr error
		var gone []seats.Lease
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			renewErr = a.Commit(ctx, seatstore.Change{Renewals: []seatstore.Renewal{{ID: id, Expires: t0.Add(time.Hour)}}})
		}()
		go func() {
			defer wg.Done()
			<-start
			gone, sweepErr = b.SweepExpired(ctx, t0.Add(time.Second), t0.Add(time.Second), "not renewed")
		}()
		close(start)
		wg.Wait()
		if sweepErr != nil {
			t.Fatal(sweepErr)
		}
		l, stored, err := a.Lease(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case renewErr == nil && stored && l.Expires.Equal(t0.Add(time.Hour)) && len(gone) == 0:
			renewed++
		case errors.Is(renewErr, seats.ErrUnknownLease) && !stored && len(gone) == 1:
			swept++
		default:
			t.Fatalf("round %d: renew %v, swept %d, stored %v (expires %s)", i, renewErr, len(gone), stored, l.Expires)
		}
		// Free the seat for the next round.
		if err := a.Commit(ctx, seatstore.Change{DeleteLeases: []string{id}}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("renewal first %d times, sweep first %d times", renewed, swept)
}

package seatstore

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/pgtest"
	"github.com/airseal/airseal/internal/seats"
)

// TestPostgresLoadCached: a node's LoadCached gives what Load gives while
// another node grants, renews, marks lost, releases and grants again
// under the same ID; it reads in full only what changed (a cached lease
// whose row did not change is served from the cache, even when the cache
// is wrong), and the full read every leaseCacheFullEvery calls corrects a
// cache that went wrong all the same.
func TestPostgresLoadCached(t *testing.T) {
	srv := pgtest.Require(t)
	schema, err := srv.NewSchema()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	open := func() *Postgres {
		p, err := OpenPostgres(ctx, srv.URL(schema))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
	a, b := open(), open()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	lease := func(id, computer string) seats.Lease {
		return seats.Lease{ID: id, Request: seats.Request{Product: "acme", ClientSessionID: "session-" + id, UserName: "u", ComputerName: computer},
			Mode: seats.ModeLicensed, Granted: t0, Expires: t0.Add(time.Hour)}
	}
	grant := func(ids ...string) {
		t.Helper()
		var ch Change
		for _, id := range ids {
			ch.Grants = append(ch.Grants, Grant{Lease: lease(id, "pc-"+id), Seats: 100})
		}
		if err := a.Commit(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	var c LeaseCache
	same := func(step string) *State {
		t.Helper()
		want, err := b.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := b.LoadCached(ctx, &c)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: LoadCached gives\n%+v\nLoad gives\n%+v", step, got.Leases, want.Leases)
		}
		return got
	}
	same("empty")
	grant("L1", "L2", "L3", "L4")
	same("granted")
	// Changed on node a, each seen by node b at its next load.
	if err := a.Commit(ctx, Change{Renewals: []Renewal{{ID: "L1", Expires: t0.Add(2 * time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	if st := same("renewed"); st.Leases[0].ID != "L1" || !st.Leases[0].Expires.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("renewal not seen: %+v", st.Leases[0])
	}
	lost := lease("L2", "pc-L2")
	lost.Lost = "license removed"
	if err := a.Commit(ctx, Change{PutLeases: []seats.Lease{lost}}); err != nil {
		t.Fatal(err)
	}
	same("marked lost")
	if err := a.Commit(ctx, Change{DeleteLeases: []string{"L3", "L4"}}); err != nil {
		t.Fatal(err)
	}
	if st := same("released"); len(st.Leases) != 2 {
		t.Fatalf("%d leases after two of four released, want 2", len(st.Leases))
	}
	if err := a.Commit(ctx, Change{Grants: []Grant{{Lease: lease("L3", "another-pc"), Seats: 100}}}); err != nil {
		t.Fatal(err)
	}
	if st := same("granted again"); st.Leases[2].ComputerName != "another-pc" {
		t.Fatalf("lease granted again under its ID: %+v", st.Leases[2])
	}
	for i := range 5 {
		grant(fmt.Sprintf("M%d-1", i), fmt.Sprintf("M%d-2", i))
		same(fmt.Sprintf("grants %d", i))
	}

	// Only changed rows are read: a cache entry gone wrong under an
	// unchanged row version is served as it is until the full read.
	for c.loads >= leaseCacheFullEvery-2 {
		same("up to the full read")
	}
	c.byID["L1"].l.ComputerName = "not stored"
	stale := 0
	for range leaseCacheFullEvery + 1 {
		st, err := b.LoadCached(ctx, &c)
		if err != nil {
			t.Fatal(err)
		}
		if st.Leases[0].ComputerName != "not stored" {
			break
		}
		stale++
	}
	if stale == 0 || stale >= leaseCacheFullEvery {
		t.Fatalf("the wrong cache entry was served %d times, want between 1 and %d (incremental reads, then a full one)", stale, leaseCacheFullEvery-1)
	}
	same("after the full read")
}

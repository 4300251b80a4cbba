package seatstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
)

// TestPostgresCrowdedGrants drives PostgreSQL's two-round-trip checkout
// path (postgres_fast.go) from two nodes with many committers at once,
// mixed with Commits it must leave to the general path (a setting, a
// grant of a lease stored already): exactly the capacity is granted, the
// seat count stays right, re-grants never count twice, and the usage log
// is one unbroken hash chain in commit order.
func TestPostgresCrowdedGrants(t *testing.T) {
	url := newPGDatabase(t)
	a, b := openPG(t, url), openPG(t, url)
	defer a.Close()
	defer b.Close()
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	const capacity, workers, tries = 100, 16, 4
	lease := func(id string) seats.Lease {
		l := pgLease(id, "pc-"+id, t0.Add(time.Hour))
		l.Product = "crowd"
		return l
	}
	var granted, refused, logged atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 2*workers*tries*3+8)
	for n, st := range []*seatstore.Postgres{a, b} {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []string
				for i := range tries {
					id := fmt.Sprintf("C-%d-%02d-%d", n, w, i)
					err := st.Commit(ctx, seatstore.Change{Grants: []seatstore.Grant{{Lease: lease(id), Seats: capacity}},
						Events: []seats.Event{{Time: t0, Kind: seats.EventGrant, Product: "crowd", LeaseID: id}}})
					switch {
					case err == nil:
						granted.Add(1)
						logged.Add(1)
						mine = append(mine, id)
					case errors.Is(err, seats.ErrNoSeat):
						refused.Add(1)
					default:
						errc <- err
					}
					// Left to the general path: a setting, and a retried
					// grant of a lease this worker holds (its own seat).
					if err := st.Commit(ctx, seatstore.Change{Settings: map[string]string{fmt.Sprintf("w%d-%d", n, w): fmt.Sprint(i)},
						Events: []seats.Event{{Time: t0, Kind: seats.EventRefuse, Product: "other", Detail: "mixed in"}}}); err != nil {
						errc <- err
					} else {
						logged.Add(1)
					}
					if len(mine) > 0 {
						if err := st.Commit(ctx, seatstore.Change{Grants: []seatstore.Grant{{Lease: lease(mine[0]), Seats: capacity}}}); err != nil {
							errc <- fmt.Errorf("re-grant of %s: %w", mine[0], err)
						}
					}
				}
			}()
		}
	}
	// Settings committed all along: some are queued while a fast
	// transaction waits for the products' lock, taken by it and
	// committed after it.
	done := make(chan struct{})
	var spam sync.WaitGroup
	for n, st := range []*seatstore.Postgres{a, b} {
		for w := range 4 {
			spam.Add(1)
			go func() {
				defer spam.Done()
				for i := 0; ; i++ {
					select {
					case <-done:
						return
					default:
					}
					if err := st.Commit(ctx, seatstore.Change{Settings: map[string]string{fmt.Sprintf("s%d-%d", n, w): fmt.Sprint(i)}}); err != nil {
						errc <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(done)
	spam.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if granted.Load() != capacity || refused.Load() != 2*workers*tries-capacity {
		t.Fatalf("%d granted, %d refused; want %d and %d", granted.Load(), refused.Load(), capacity, 2*workers*tries-capacity)
	}
	n := 0
	for _, l := range load(t, a).Leases {
		if l.Product == "crowd" {
			n++
		}
	}
	if n != capacity {
		t.Fatalf("%d leases stored, want %d", n, capacity)
	}
	// The count is exact: full now, one seat free after one release.
	extra := seatstore.Change{Grants: []seatstore.Grant{{Lease: lease("C-extra"), Seats: capacity}}}
	if err := b.Commit(ctx, extra); !errors.Is(err, seats.ErrNoSeat) {
		t.Fatalf("grant over capacity: %v, want a refusal", err)
	}
	if err := a.Commit(ctx, seatstore.Change{DeleteLeases: []string{"C-0-00-0"}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx, extra); err != nil {
		t.Fatalf("grant after a release: %v", err)
	}
	// One chain, numbered from 1 without gaps.
	var prev [32]byte
	var got int64
	err := a.Events(ctx, time.Time{}, time.Time{}, func(e seatstore.LoggedEvent) error {
		got++
		if e.Seq != got {
			return fmt.Errorf("event %d has seq %d", got, e.Seq)
		}
		if e.Hash != seatstore.ChainHash(prev, e) {
			return fmt.Errorf("event %d: hash does not chain", e.Seq)
		}
		prev = e.Hash
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != logged.Load() {
		t.Fatalf("%d events logged, want %d", got, logged.Load())
	}
}

func load(t *testing.T, s seatstore.Store) *seatstore.State {
	t.Helper()
	st, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

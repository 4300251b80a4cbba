package seatserver

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/seat"
)

// putCounter counts, by lease, the lease puts and renew events committed.
type putCounter struct {
	*seatstore.Memory
	mu     sync.Mutex
	puts   map[string]int
	renews map[string]int
}

func (s *putCounter) Commit(ctx context.Context, c seatstore.Change) error {
	s.mu.Lock()
	for _, l := range c.PutLeases {
		s.puts[l.ID]++
	}
	for _, e := range c.Events {
		if e.Kind == seats.EventRenew {
			s.renews[e.LeaseID]++
		}
	}
	s.mu.Unlock()
	return s.Memory.Commit(ctx, c)
}

func (s *putCounter) counts(id string) (puts, renews int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts[id], s.renews[id]
}

// renewAt renews lease id and returns the expiry the server promised.
func (e *env) renewAt(t *testing.T, id string) time.Time {
	t.Helper()
	r := e.do("POST", seat.RenewPath(id), client, nil)
	var s seat.Session
	r.decode(t, &s)
	if r.status != 200 {
		t.Fatalf("renew %s: %d %s", id, r.status, r.body)
	}
	return s.Expires
}

// TestRenewalWriteBehind: a single server stores a renewed lease only once
// its expiry is half a lifetime past the stored one (storeLagDivisor), so
// a client renewing every RenewEvery (a fifth of the lifetime) costs one
// lease write every third renewal, not one each; every renewal is logged;
// the stored expiry is never half a lifetime behind the promised one, so
// a reader of the store never sees a lease renewed on schedule expired;
// and after a restart, even with a shorter lifetime, the lease is not
// reclaimed before the expiry its last renewal promised, stored or not.
func TestRenewalWriteBehind(t *testing.T) {
	st := &putCounter{puts: map[string]int{}, renews: map[string]int{}}
	e := newEnv(t, func(c *Config) {
		st.Memory = c.Store.(*seatstore.Memory)
		c.Store = st
	})
	arm, _ := e.v.issue(t, e.pub, lic{seats: 1})
	e.install(arm, 201)
	var a seat.Session
	e.checkout(client, "acme-erp", sid(1), "ws-1").decode(t, &a)
	every := time.Duration(a.RenewEvery) * time.Second
	if every != e.cfg.Lease/5 {
		t.Fatalf("RenewEvery %v, want a fifth of the lifetime %v", every, e.cfg.Lease)
	}
	const renewals = 32
	var promised time.Time
	for i := 0; i < renewals; i++ {
		e.clock.Add(every)
		promised = e.renewAt(t, a.ID)
		stored, ok, err := st.Lease(context.Background(), a.ID)
		if err != nil || !ok {
			t.Fatalf("renewal %d: the lease is not stored: %v", i+1, err)
		}
		if !e.clock.Now().Before(stored.Expires) {
			t.Fatalf("renewal %d: the store shows the lease expired (%v) at %v", i+1, stored.Expires, e.clock.Now())
		}
		if lag := promised.Sub(stored.Expires); lag < 0 || lag >= e.cfg.Lease/2 {
			t.Fatalf("renewal %d: stored expiry %v, promised %v: %v behind", i+1, stored.Expires, promised, lag)
		}
	}
	puts, renews := st.counts(a.ID)
	// The grant, then every third renewal (3 minutes past the stored
	// expiry is the first lag of at least 2.5).
	if want := 1 + renewals/3; puts != want || renews != renewals {
		t.Fatalf("%d renewals: %d lease puts, %d renew events stored; want %d puts, %d events", renewals, puts, renews, want, renewals)
	}
	stored, _, _ := st.Lease(context.Background(), a.ID)
	if !stored.Expires.Before(promised) {
		t.Fatalf("test set-up: the last renewal was stored (%v), want it behind (%v)", stored.Expires, promised)
	}

	// Restart with 1-minute leases; then step past the stored expiry and
	// past the new lifetime's reclaim window, still before the promised
	// expiry: the lease keeps its seat and renews.
	e.stop()
	e.clock.Add(time.Minute)
	e.cfg.Lease = time.Minute
	e.start()
	e.clock.Add(promised.Sub(e.clock.Now()) - time.Minute)
	if !e.clock.Now().After(stored.Expires) || !e.clock.Now().After(e.srv.started.Add(e.cfg.Lease)) {
		t.Fatalf("test set-up: now %v, stored expiry %v, started %v", e.clock.Now(), stored.Expires, e.srv.started)
	}
	if err := e.srv.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := e.checkout(client, "acme-erp", sid(2), "ws-2"); r.status == 201 {
		t.Fatalf("a second session got the only seat before the first one's promised expiry %v: %s", promised, r.body)
	}
	e.renewAt(t, a.ID)
}

// TestRenewalWriteBehindFailedCommit: a lease whose put was in a commit
// that failed is stored again at its next renewal or retried checkout,
// even though its expiry moved less than half a lifetime since.
func TestRenewalWriteBehindFailedCommit(t *testing.T) {
	fs := &failingStore{Store: seatstore.NewMemory()}
	e := newEnv(t, func(c *Config) {
		st, _ := c.Store.Load(context.Background())
		_ = fs.Store.Commit(context.Background(), seatstore.Change{PutTokens: st.Tokens})
		c.Store = fs
	})
	arm, _ := e.v.issue(t, e.pub, lic{seats: 2})
	e.install(arm, 201)
	var a seat.Session
	e.checkout(client, "acme-erp", sid(1), "ws-1").decode(t, &a)
	e.clock.Add(3 * time.Minute)
	fs.fail = true
	if r := e.do("POST", seat.RenewPath(a.ID), client, nil); r.status != 503 {
		t.Fatalf("renew with a failing store: %d %s", r.status, r.body)
	}
	fs.fail = false
	e.clock.Add(time.Second)
	promised := e.renewAt(t, a.ID)
	if l, ok, _ := fs.Lease(context.Background(), a.ID); !ok || !l.Expires.Equal(promised) {
		t.Fatalf("after a failed commit the next renewal did not store the lease: stored %v, promised %v", l.Expires, promised)
	}
}

// TestRenewalWriteBehindSecondProcess: another process reading the SQLite
// database while the server renews (license-server status, backup) never
// finds a lease renewed on schedule expired.
func TestRenewalWriteBehindSecondProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seats.db")
	e := newEnv(t, func(c *Config) {
		sq, err := seatstore.OpenSQLite(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sq.Close() })
		st, _ := c.Store.Load(context.Background())
		if err := sq.Commit(context.Background(), seatstore.Change{PutTokens: st.Tokens}); err != nil {
			t.Fatal(err)
		}
		c.Store = sq
	})
	arm, _ := e.v.issue(t, e.pub, lic{seats: 1})
	e.install(arm, 201)
	var a seat.Session
	e.checkout(client, "acme-erp", sid(1), "ws-1").decode(t, &a)
	for i := 0; i < 12; i++ {
		e.clock.Add(time.Duration(a.RenewEvery) * time.Second)
		promised := e.renewAt(t, a.ID)
		guest, err := seatstore.OpenSQLite(path)
		if err != nil {
			t.Fatal(err)
		}
		state, err := guest.Load(context.Background())
		if cerr := guest.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(state.Leases) != 1 || state.Leases[0].ID != a.ID {
			t.Fatalf("renewal %d: the second process reads %d leases", i+1, len(state.Leases))
		}
		if got := state.Leases[0].Expires; !e.clock.Now().Before(got) || promised.Sub(got) >= e.cfg.Lease/2 {
			t.Fatalf("renewal %d at %v: the second process reads expiry %v, promised %v", i+1, e.clock.Now(), got, promised)
		}
	}
}

package seatserver

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/seat"
)

// lossyStore loses every lazy change, as a crash right after it was
// acknowledged may; the others it keeps.
type lossyStore struct {
	*seatstore.Memory
	lazy, synced atomic.Int64
}

func (s *lossyStore) Commit(ctx context.Context, c seatstore.Change) error {
	if c.Lazy {
		s.lazy.Add(1)
		return nil
	}
	s.synced.Add(1)
	return s.Memory.Commit(ctx, c)
}

// TestLazyRenewalLost: renewals are the only changes acknowledged before
// they are synced (seatstore.Change.Lazy), and one lost in a crash costs
// the client nothing: after the restart no lease is reclaimed before the
// expiry that renewal promised, even when the server comes back with a
// shorter lease lifetime.
func TestLazyRenewalLost(t *testing.T) {
	st := &lossyStore{}
	e := newEnv(t, func(c *Config) {
		// The tokens are in the environment's store: wrap it.
		st.Memory = c.Store.(*seatstore.Memory)
		c.Store = st
	})
	arm, _ := e.v.issue(t, e.pub, lic{seats: 1})
	e.install(arm, 201)
	e.clock.Add(6 * time.Minute) // past the first reclaim window
	var a seat.Session
	e.checkout(client, "acme-erp", sid(1), "ws-1").decode(t, &a)
	if st.lazy.Load() != 0 {
		t.Fatalf("%d lazy changes before any renewal: only renewals may be lazy", st.lazy.Load())
	}
	e.clock.Add(3 * time.Minute)
	r := e.do("POST", seat.RenewPath(a.ID), client, nil)
	var renewed seat.Session
	r.decode(t, &renewed)
	if r.status != 200 || st.lazy.Load() != 1 {
		t.Fatalf("renew: %d %s; %d lazy changes, want 1", r.status, r.body, st.lazy.Load())
	}
	promised := renewed.Expires
	// The crash loses the renewal; the server comes back a minute later
	// with 1-minute leases. 2.5 minutes after that the stored expiry
	// (checkout + 5m) and the new lifetime's reclaim window have passed,
	// the promised expiry (renewal + 5m) has not.
	e.stop()
	e.clock.Add(time.Minute)
	e.cfg.Lease = time.Minute
	e.start()
	e.clock.Add(150 * time.Second)
	if err := e.srv.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !e.clock.Now().Before(promised) {
		t.Fatalf("test set-up: now %v is not before the promised expiry %v", e.clock.Now(), promised)
	}
	if r := e.checkout(client, "acme-erp", sid(2), "ws-2"); r.status == 201 {
		t.Fatalf("a second session got the only seat before the first one's promised expiry %v: %s", promised, r.body)
	}
	if r := e.do("POST", seat.RenewPath(a.ID), client, nil); r.status != 200 {
		t.Fatalf("renewing the lease whose last renewal was lost: %d %s", r.status, r.body)
	}
	// The releases, checkouts and the restart's own writes were all synced.
	if st.synced.Load() == 0 {
		t.Fatal("no synced change")
	}
}

package seatserver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/pgtest"
	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/seat"
)

// sharedMemory is seatstore.Memory playing a database several nodes
// share, so the cluster tests run without PostgreSQL; the same tests run
// against PostgreSQL with AIRSEAL_INTEGRATION=1. down makes every call
// fail, as a database the node cannot reach.
type sharedMemory struct {
	*seatstore.Memory
	down *atomic.Bool
}

var errTestDown = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

func (m sharedMemory) Shared() bool { return true }

func (m sharedMemory) Commit(ctx context.Context, c seatstore.Change) error {
	if m.down.Load() {
		return errTestDown
	}
	return m.Memory.Commit(ctx, c)
}

func (m sharedMemory) Load(ctx context.Context) (*seatstore.State, error) {
	if m.down.Load() {
		return nil, errTestDown
	}
	return m.Memory.Load(ctx)
}

func (m sharedMemory) Lease(ctx context.Context, id string) (seats.Lease, bool, error) {
	if m.down.Load() {
		return seats.Lease{}, false, errTestDown
	}
	return m.Memory.Lease(ctx, id)
}

// SweepExpired, for the tests: not atomic against a renewal on another
// node as PostgreSQL's is (the tests do not race sweeps with renewals on
// the memory store).
func (m sharedMemory) SweepExpired(ctx context.Context, before, now time.Time, detail string) ([]seats.Lease, error) {
	if m.down.Load() {
		return nil, errTestDown
	}
	st, err := m.Memory.Load(ctx)
	if err != nil {
		return nil, err
	}
	var gone []seats.Lease
	var ch seatstore.Change
	for _, l := range st.Leases {
		if l.Expires.Before(before) {
			ch.DeleteLeases = append(ch.DeleteLeases, l.ID)
			if l.Lost == "" {
				gone = append(gone, l)
				ch.Events = append(ch.Events, leaseEvent(now, seats.EventExpire, &l, detail))
			}
		}
	}
	return gone, m.Memory.Commit(ctx, ch)
}

// backend opens the stores of a cluster: open returns one node's store
// on the same database each time it is called.
type backend struct {
	name string
	open func(t *testing.T) func() seatstore.Store
}

func backends(t *testing.T) []backend {
	bs := []backend{{"memory", func(t *testing.T) func() seatstore.Store {
		mem := seatstore.NewMemory()
		down := &atomic.Bool{}
		return func() seatstore.Store { return sharedMemory{mem, down} }
	}}}
	if pgtest.Enabled() {
		bs = append(bs, backend{"postgres", func(t *testing.T) func() seatstore.Store {
			pg := sharedPG(t)
			schema, err := pg.NewSchema()
			if err != nil {
				t.Fatal(err)
			}
			return func() seatstore.Store {
				st, err := seatstore.OpenPostgres(context.Background(), pg.URL(schema))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				return st
			}
		}})
	}
	return bs
}

// testPG is the PostgreSQL server of this package's tests, started at
// the first that needs it and stopped by TestMain.
var testPG struct {
	once sync.Once
	srv  *pgtest.Server
	err  error
}

func sharedPG(t *testing.T) *pgtest.Server {
	t.Helper()
	if !pgtest.Enabled() {
		t.Skip("needs PostgreSQL: set AIRSEAL_INTEGRATION=1 (and install Debian's postgresql package)")
	}
	testPG.once.Do(func() { testPG.srv, testPG.err = pgtest.Start() })
	if testPG.err != nil {
		t.Fatal(testPG.err)
	}
	return testPG.srv
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testPG.srv != nil {
		testPG.srv.Close()
	}
	os.Exit(code)
}

// clusterEnv is several nodes, each its own Server, store connection and
// response key, on one database, under one license naming them all.
type clusterEnv struct {
	t     *testing.T
	v     *vendor
	clock *clock
	nodes []*env
	open  func() seatstore.Store
}

func newClusterEnv(t *testing.T, open func() seatstore.Store, n int) *clusterEnv {
	t.Helper()
	c := &clusterEnv{t: t, v: newVendor(t), clock: newClock(), open: open}
	first := open()
	tokens := map[string]string{}
	for _, role := range []string{seat.RoleClient, seat.RoleIntegration, seat.RoleAdmin} {
		tok, err := NewToken(context.Background(), first, role+"1", role, c.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		tokens[role] = role + "1:" + tok
	}
	for i := range n {
		st := first
		if i > 0 {
			st = open()
		}
		e := &env{t: t, v: c.v, store: st, clock: c.clock, tokens: tokens}
		_, e.key, _ = ed25519.GenerateKey(rand.Reader)
		e.pub = e.key.Public().(ed25519.PublicKey)
		e.cfg = Config{Store: st, Key: e.key, Keyring: c.v.ring(), Machine: bareMetal, Now: c.clock.Now, Version: "test",
			Node: fmt.Sprintf("node%d", i+1), Lease: 5 * time.Minute}
		e.start()
		t.Cleanup(func() { e.stop() })
		if !e.srv.Cluster() {
			t.Fatal("a server on a shared store does not serve in cluster mode")
		}
		c.nodes = append(c.nodes, e)
	}
	return c
}

// license issues a license naming every node and installs it on the
// first node; the others see it at their next refresh.
func (c *clusterEnv) license(product string, seatsN int, unit license.SeatUnit) {
	c.t.Helper()
	var nodes []license.Node
	for i, e := range c.nodes {
		nodes = append(nodes, license.Node{Name: fmt.Sprintf("node%d", i+1), ResponseKey: e.pub})
	}
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sl := &license.ServerLicense{
		License: license.License{Serial: fmt.Sprintf("C%015d", c.v.n.Add(1)), Product: product, Kind: license.KindMain,
			Customer: license.Customer{Name: "Romashka LLC"}, IssuedAt: nb, NotBefore: nb, Seats: seatsN},
		SeatUnit: unit, Nodes: nodes,
	}
	if err := sl.Sign(c.v.key); err != nil {
		c.t.Fatal(err)
	}
	arm, err := sl.Armor()
	if err != nil {
		c.t.Fatal(err)
	}
	c.nodes[0].install(string(arm), http.StatusCreated)
	c.refresh()
}

func (c *clusterEnv) refresh() {
	c.t.Helper()
	for _, e := range c.nodes {
		if err := e.srv.refreshCluster(context.Background()); err != nil {
			c.t.Fatal(err)
		}
	}
}

func (c *clusterEnv) storedLeases() []seats.Lease {
	c.t.Helper()
	st, err := c.nodes[0].store.Load(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	return st.Leases
}

func forEachBackend(t *testing.T, fn func(t *testing.T, open func() seatstore.Store)) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) { fn(t, b.open(t)) })
	}
}

// TestClusterOneSeatCount: two nodes on one database grant the license's
// seats once for the cluster, not once per node. On a server that counts
// in its own memory (before issue 12 item 2) the two nodes granted 3
// seats each.
func TestClusterOneSeatCount(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() seatstore.Store) {
		c := newClusterEnv(t, open, 2)
		c.license("acme-erp", 3, license.PerSession)
		created, refused := 0, 0
		for i := range 8 {
			r := c.nodes[i%2].checkout(seat.RoleClient, "acme-erp", sid(i), fmt.Sprintf("pc%d", i))
			switch r.status {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
				refused++
				if ae := r.apiErr(t); ae.InUse != 3 || ae.Seats != 3 {
					t.Fatalf("refusal on node %d: %s", i%2+1, r.body)
				}
			default:
				t.Fatalf("checkout %d on node %d: %d %s", i, i%2+1, r.status, r.body)
			}
		}
		if created != 3 || refused != 5 {
			t.Fatalf("two nodes granted %d seats of 3 (refused %d)", created, refused)
		}
		if n := len(c.storedLeases()); n != 3 {
			t.Fatalf("%d leases stored, want 3", n)
		}
		// Per computer: one computer's sessions share a seat on any node.
		c.license("acme-crm", 1, license.PerComputer)
		for i := range 4 {
			if r := c.nodes[i%2].checkout(seat.RoleClient, "acme-crm", sid(100+i), "pc-shared"); r.status != http.StatusCreated {
				t.Fatalf("per-computer checkout %d: %d %s", i, r.status, r.body)
			}
		}
		if r := c.nodes[1].checkout(seat.RoleClient, "acme-crm", sid(200), "pc-other"); r.status != http.StatusConflict {
			t.Fatalf("a second computer got the one per-computer seat: %d %s", r.status, r.body)
		}
	})
}

// TestClusterCheckoutRetryOtherNode: a client whose checkout node 1
// acknowledged retries it on node 2 (it never saw the answer) and gets
// its one seat back with 200, not a second one.
func TestClusterCheckoutRetryOtherNode(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() seatstore.Store) {
		c := newClusterEnv(t, open, 2)
		c.license("acme-erp", 2, license.PerSession)
		r1 := c.nodes[0].checkout(seat.RoleClient, "acme-erp", sid(1), "pc1")
		r2 := c.nodes[1].checkout(seat.RoleClient, "acme-erp", sid(1), "pc1")
		if r1.status != http.StatusCreated || r2.status != http.StatusOK {
			t.Fatalf("checkout on node 1: %d, retried on node 2: %d %s", r1.status, r2.status, r2.body)
		}
		var s1, s2 seat.Session
		r1.decode(t, &s1)
		r2.decode(t, &s2)
		if s1.ID != s2.ID || s1.ID == "" {
			t.Fatalf("lease %q on node 1, %q on node 2", s1.ID, s2.ID)
		}
		if n := len(c.storedLeases()); n != 1 {
			t.Fatalf("%d leases stored for one session", n)
		}
		// The other seat is still free for another session.
		if r := c.nodes[1].checkout(seat.RoleClient, "acme-erp", sid(2), "pc2"); r.status != http.StatusCreated {
			t.Fatalf("second session: %d %s", r.status, r.body)
		}
		// Every seat taken: a retry still renews its own seat (200).
		if r := c.nodes[0].checkout(seat.RoleClient, "acme-erp", sid(2), "pc2"); r.status != http.StatusOK {
			t.Fatalf("second session retried with every seat taken: %d %s", r.status, r.body)
		}
		if r := c.nodes[0].checkout(seat.RoleClient, "acme-erp", sid(3), "pc3"); r.status != http.StatusConflict {
			t.Fatalf("third session of 2 seats: %d %s", r.status, r.body)
		}
		if r := c.nodes[0].do("DELETE", "/api/sessions/"+s1.ID, seat.RoleClient, nil); r.status != http.StatusOK {
			t.Fatalf("release: %d %s", r.status, r.body)
		}
		// One session asking both nodes at the same instant holds one
		// lease, the same on both answers.
		for round := range 20 {
			var wg sync.WaitGroup
			res := make([]*resp, 2)
			start := make(chan struct{})
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					res[i] = c.nodes[i].checkout(seat.RoleClient, "acme-erp", sid(1000+round), "pc-same")
				}()
			}
			close(start)
			wg.Wait()
			var ids [2]string
			for i, r := range res {
				if r.status != http.StatusCreated && r.status != http.StatusOK {
					t.Fatalf("round %d node %d: %d %s", round, i+1, r.status, r.body)
				}
				var s seat.Session
				r.decode(t, &s)
				ids[i] = s.ID
			}
			if ids[0] != ids[1] || len(c.storedLeases()) != 2 {
				t.Fatalf("round %d: one session, leases %v, %d stored (want 2: this one and sid(2))", round, ids, len(c.storedLeases()))
			}
			if r := c.nodes[round%2].do("DELETE", "/api/sessions/"+ids[0], seat.RoleClient, nil); r.status != http.StatusOK {
				t.Fatalf("round %d release: %d %s", round, r.status, r.body)
			}
		}
	})
}

// TestClusterRenewReleaseAnyNode: a lease granted on node 1 renews and
// releases on node 2; afterwards node 1 knows it no more (404), a second
// release is 202, and an admin force-release on either node frees a seat.
func TestClusterRenewReleaseAnyNode(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() seatstore.Store) {
		c := newClusterEnv(t, open, 2)
		c.license("acme-erp", 1, license.PerSession)
		var s seat.Session
		c.nodes[0].checkout(seat.RoleClient, "acme-erp", sid(1), "pc1").decode(t, &s)
		c.clock.Add(time.Minute)
		// Node 2 shows the lease at once (read from the store, not its cache).
		if r := c.nodes[1].do("GET", "/api/sessions/"+s.ID, seat.RoleAdmin, nil); r.status != http.StatusOK {
			t.Fatalf("GET the lease on node 2: %d %s", r.status, r.body)
		}
		r := c.nodes[1].do("POST", "/api/sessions/"+s.ID+"/renew", seat.RoleClient, nil)
		var rs seat.Session
		r.decode(t, &rs)
		if r.status != http.StatusOK || !rs.ExpireTime.After(s.ExpireTime) {
			t.Fatalf("renew on node 2: %d %s", r.status, r.body)
		}
		if r := c.nodes[1].do("DELETE", "/api/sessions/"+s.ID, seat.RoleClient, nil); r.status != http.StatusOK {
			t.Fatalf("release on node 2: %d %s", r.status, r.body)
		}
		if r := c.nodes[0].do("POST", "/api/sessions/"+s.ID+"/renew", seat.RoleClient, nil); r.status != http.StatusNotFound {
			t.Fatalf("renew on node 1 after release on node 2: %d %s", r.status, r.body)
		}
		if r := c.nodes[0].do("GET", "/api/sessions/"+s.ID, seat.RoleAdmin, nil); r.status != http.StatusNotFound {
			t.Fatalf("GET on node 1 after release on node 2: %d %s", r.status, r.body)
		}
		if r := c.nodes[0].do("DELETE", "/api/sessions/"+s.ID, seat.RoleClient, nil); r.status != http.StatusAccepted {
			t.Fatalf("second release: %d %s", r.status, r.body)
		}
		// The seat is free for another session on node 1.
		var s2 seat.Session
		r = c.nodes[0].checkout(seat.RoleClient, "acme-erp", sid(2), "pc2")
		r.decode(t, &s2)
		if r.status != http.StatusCreated {
			t.Fatalf("checkout after release: %d %s", r.status, r.body)
		}
		if r := c.nodes[1].do("DELETE", "/api/sessions/"+s2.ID, seat.RoleAdmin, nil); r.status != http.StatusOK {
			t.Fatalf("admin force-release on node 2: %d %s", r.status, r.body)
		}
		if r := c.nodes[0].checkout(seat.RoleClient, "acme-erp", sid(3), "pc3"); r.status != http.StatusCreated {
			t.Fatalf("checkout after force-release: %d %s", r.status, r.body)
		}
	})
}

// TestClusterListingFollowsRefresh: a node's listing shows, after its next
// refresh, what another node did meanwhile: leases granted there, renewed
// (the new expiry), released, and granted again under the same ID. On
// PostgreSQL a refresh reads only the leases changed since the last one
// (seatstore.Postgres.LoadCached): a renewal or release it missed would
// stay in the listing.
func TestClusterListingFollowsRefresh(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() seatstore.Store) {
		c := newClusterEnv(t, open, 2)
		c.license("acme-erp", 5, license.PerSession)
		listed := func() map[string]seat.Session {
			t.Helper()
			c.refresh()
			var ss seat.Sessions
			r := c.nodes[1].do("GET", "/api/sessions", seat.RoleAdmin, nil)
			r.decode(t, &ss)
			m := map[string]seat.Session{}
			for _, s := range ss.Sessions {
				m[s.ID] = s
			}
			return m
		}
		var s1, s2 seat.Session
		c.nodes[0].checkout(seat.RoleClient, "acme-erp", sid(1), "pc1").decode(t, &s1)
		c.nodes[0].checkout(seat.RoleClient, "acme-erp", sid(2), "pc2").decode(t, &s2)
		if m := listed(); len(m) != 2 || !m[s1.ID].ExpireTime.Equal(s1.ExpireTime) {
			t.Fatalf("node 2 lists %+v after two checkouts on node 1", m)
		}
		c.clock.Add(time.Minute)
		var r1 seat.Session
		c.nodes[0].do("POST", "/api/sessions/"+s1.ID+"/renew", seat.RoleClient, nil).decode(t, &r1)
		if m := listed(); !r1.ExpireTime.After(s1.ExpireTime) || !m[s1.ID].ExpireTime.Equal(r1.ExpireTime) {
			t.Fatalf("node 2 lists expiry %v after the renewal to %v on node 1", m[s1.ID].ExpireTime, r1.ExpireTime)
		}
		if r := c.nodes[0].do("DELETE", "/api/sessions/"+s2.ID, seat.RoleClient, nil); r.status != http.StatusOK {
			t.Fatalf("release: %d %s", r.status, r.body)
		}
		if m := listed(); len(m) != 1 || m[s2.ID].ID != "" {
			t.Fatalf("node 2 lists %+v after the release on node 1", m)
		}
		c.clock.Add(time.Minute)
		var again seat.Session
		c.nodes[0].checkout(seat.RoleClient, "acme-erp", sid(2), "pc2").decode(t, &again)
		if m := listed(); len(m) != 2 || again.ID != s2.ID || !m[s2.ID].ExpireTime.Equal(again.ExpireTime) {
			t.Fatalf("node 2 lists %+v after the session took its seat again (%s)", m, again.ID)
		}
	})
}

// TestClusterSharedSettings: a license installed and a token added on
// one node reach the other at its next refresh; a license removed stops
// counting there, and the leases over the seats left are marked lost in
// the store (410 at their next renewal on any node).
func TestClusterSharedSettings(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() seatstore.Store) {
		c := newClusterEnv(t, open, 2)
		if r := c.nodes[1].checkout(seat.RoleClient, "acme-erp", sid(1), "pc1"); r.status != http.StatusOK {
			t.Fatalf("demo checkout before any license: %d %s", r.status, r.body)
		}
		c.license("acme-erp", 2, license.PerSession)
		var ls seat.Licences
		c.nodes[1].do("GET", "/api/licences", seat.RoleAdmin, nil).decode(t, &ls)
		if len(ls.Licences) != 1 {
			t.Fatalf("node 2 lists %d licenses after the install on node 1", len(ls.Licences))
		}
		var s seat.Session
		if r := c.nodes[1].checkout(seat.RoleClient, "acme-erp", sid(2), "pc2"); r.status != http.StatusCreated {
			t.Fatalf("node 2 checkout under the license installed on node 1: %d %s", r.status, r.body)
		} else {
			r.decode(t, &s)
		}
		tok, err := NewToken(context.Background(), c.nodes[0].store, "late", seat.RoleClient, c.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		c.refresh()
		if r := c.nodes[1].checkout("late:"+tok, "acme-erp", sid(9), "pc9"); r.status != http.StatusCreated {
			t.Fatalf("token added through node 1's store, used on node 2: %d %s", r.status, r.body)
		}
		if r := c.nodes[0].do("DELETE", "/api/licences/"+ls.Licences[0].KeyNo, seat.RoleAdmin, nil); r.status != http.StatusOK {
			t.Fatalf("remove: %d %s", r.status, r.body)
		}
		c.refresh()
		r := c.nodes[1].do("POST", "/api/sessions/"+s.ID+"/renew", seat.RoleClient, nil)
		if r.status != http.StatusGone {
			t.Fatalf("renew on node 2 after the license was removed on node 1: %d %s", r.status, r.body)
		}
		if r := c.nodes[1].checkout(seat.RoleClient, "acme-erp", sid(3), "pc3"); r.status != http.StatusOK || !strings.Contains(string(r.body), `"demo"`) {
			t.Fatalf("node 2 checkout after the removal: %d %s (want demo mode)", r.status, r.body)
		}
		// A license again: the session whose lease was lost checks out
		// again and gets a new seat (201) on either node, not the lost
		// lease renewed.
		c.license("acme-erp", 2, license.PerSession)
		var again seat.Session
		if r := c.nodes[0].checkout(seat.RoleClient, "acme-erp", sid(2), "pc2"); r.status != http.StatusCreated {
			t.Fatalf("checkout again of the session whose lease was lost: %d %s", r.status, r.body)
		} else {
			r.decode(t, &again)
		}
		if r := c.nodes[1].do("POST", "/api/sessions/"+again.ID+"/renew", seat.RoleClient, nil); r.status != http.StatusOK {
			t.Fatalf("renew of the lease granted again: %d %s", r.status, r.body)
		}
	})
}

// TestClusterSweep: any node reclaims expired leases in the store, once
// (a second sweep finds nothing); a node inside its reclaim window after
// a start sweeps nothing, so leases that could not renew while the
// cluster was down are not reclaimed before they could.
func TestClusterSweep(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() seatstore.Store) {
		c := newClusterEnv(t, open, 2)
		c.license("acme-erp", 1, license.PerSession)
		var s seat.Session
		c.nodes[0].checkout(seat.RoleClient, "acme-erp", sid(1), "pc1").decode(t, &s)
		// Both nodes go down; node 2 starts again with the lease stored:
		// its reclaim window is open, and it reclaims nothing.
		c.nodes[0].stop()
		c.nodes[1].stop()
		c.clock.Add(6 * time.Minute)
		c.nodes[1].start()
		if !c.nodes[1].srv.ReclaimUntil().After(c.clock.Now()) {
			t.Fatal("a node started over stored leases opened no reclaim window")
		}
		if err := c.nodes[1].srv.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := len(c.storedLeases()); n != 1 {
			t.Fatalf("a node in its reclaim window reclaimed: %d leases left", n)
		}
		if r := c.nodes[1].checkout(seat.RoleClient, "acme-erp", sid(2), "pc2"); r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Fatalf("new session in the reclaim window, the seat held by an expired lease: %d %s", r.status, r.body)
		}
		// The session renews through node 2 in the window.
		if r := c.nodes[1].do("POST", "/api/sessions/"+s.ID+"/renew", seat.RoleClient, nil); r.status != http.StatusOK {
			t.Fatalf("renew in the reclaim window: %d %s", r.status, r.body)
		}
		c.clock.Add(11 * time.Minute) // window over, lease expired again
		if err := c.nodes[1].srv.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := len(c.storedLeases()); n != 0 {
			t.Fatalf("after the window: %d leases left, want 0", n)
		}
		if err := c.nodes[1].srv.Sweep(context.Background()); err != nil {
			t.Fatalf("second sweep: %v", err)
		}
		expiries := 0
		err := c.nodes[1].store.Events(context.Background(), time.Time{}, time.Time{}, func(e seatstore.LoggedEvent) error {
			if e.Kind == seats.EventExpire {
				expiries++
			}
			return nil
		})
		if err != nil || expiries != 1 {
			t.Fatalf("%d expiries logged (%v), want 1", expiries, err)
		}
		if r := c.nodes[1].do("POST", "/api/sessions/"+s.ID+"/renew", seat.RoleClient, nil); r.status != http.StatusNotFound {
			t.Fatalf("renew after the sweep: %d %s", r.status, r.body)
		}
		if r := c.nodes[1].checkout(seat.RoleClient, "acme-erp", sid(2), "pc2"); r.status != http.StatusCreated {
			t.Fatalf("checkout of the reclaimed seat: %d %s", r.status, r.body)
		}
	})
}

// TestClusterRaceLastSeat: two nodes asked for the last seat at the same
// instant, 200 times over HTTP: exactly one gets it each time.
func TestClusterRaceLastSeat(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() seatstore.Store) {
		c := newClusterEnv(t, open, 2)
		c.license("acme-erp", 1, license.PerSession)
		rounds := 200
		if testing.Short() {
			rounds = 50
		}
		for round := range rounds {
			var wg sync.WaitGroup
			res := make([]*resp, 2)
			start := make(chan struct{})
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					res[i] = c.nodes[i].checkout(seat.RoleClient, "acme-erp", sid(2*round+i), fmt.Sprintf("pc%d", i))
				}()
			}
			close(start)
			wg.Wait()
			won := -1
			for i, r := range res {
				switch r.status {
				case http.StatusCreated:
					if won >= 0 {
						t.Fatalf("round %d: both nodes granted the last seat", round)
					}
					won = i
				case http.StatusConflict:
				default:
					t.Fatalf("round %d node %d: %d %s", round, i+1, r.status, r.body)
				}
			}
			if won < 0 {
				t.Fatalf("round %d: neither node granted the free seat", round)
			}
			var s seat.Session
			res[won].decode(t, &s)
			if r := c.nodes[1-won].do("DELETE", "/api/sessions/"+s.ID, seat.RoleClient, nil); r.status != http.StatusOK {
				t.Fatalf("round %d release: %d %s", round, r.status, r.body)
			}
		}
	})
}

// TestClusterDatabaseDown: a node that cannot reach the database grants
// and renews nothing: 503 with Retry-After and a message naming the
// database, /healthz 503; once it is back the node serves again and opens
// a reclaim window (sessions could not renew meanwhile).
func TestClusterDatabaseDown(t *testing.T) {
	mem := seatstore.NewMemory()
	down := &atomic.Bool{}
	c := newClusterEnv(t, func() seatstore.Store { return sharedMemory{mem, down} }, 2)
	c.license("acme-erp", 2, license.PerSession)
	var s seat.Session
	c.nodes[0].checkout(seat.RoleClient, "acme-erp", sid(1), "pc1").decode(t, &s)
	m := NewMetrics()
	m.Attach(c.nodes[0].srv)
	down.Store(true)
	checkDown(t, c.nodes[0], s.ID)
	checkStoreUp(t, m, "0")
	down.Store(false)
	if err := c.nodes[0].srv.refreshCluster(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkBack(t, c, c.nodes[0], s.ID)
	checkStoreUp(t, m, "1")
}

// checkStoreUp scrapes m and checks the airseal_store_up gauge.
func checkStoreUp(t *testing.T, m *Metrics, want string) {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if line := "\nairseal_store_up " + want + "\n"; !strings.Contains(rec.Body.String(), line) {
		t.Fatalf("/metrics lacks %q", strings.TrimSpace(line))
	}
}

func checkDown(t *testing.T, e *env, lease string) {
	t.Helper()
	for _, r := range []*resp{
		e.checkout(seat.RoleClient, "acme-erp", sid(50), "pc50"),
		e.checkout(seat.RoleClient, "acme-erp", sid(1), "pc1"), // a retry of a held lease
		e.do("POST", "/api/sessions/"+lease+"/renew", seat.RoleClient, nil),
		e.do("DELETE", "/api/sessions/"+lease, seat.RoleClient, nil),
	} {
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Fatalf("with the database unreachable: %d %s", r.status, r.body)
		}
		if ae := r.apiErr(t); !strings.Contains(ae.Message, "database") || ae.RetryAfter < 1 {
			t.Fatalf("with the database unreachable: %s", r.body)
		}
	}
	if r := e.do("GET", "/healthz", "", nil); r.status != http.StatusServiceUnavailable {
		t.Fatalf("/healthz with the database unreachable: %d %s", r.status, r.body)
	}
}

func checkBack(t *testing.T, c *clusterEnv, e *env, lease string) {
	t.Helper()
	if r := e.do("GET", "/healthz", "", nil); r.status != http.StatusOK {
		t.Fatalf("/healthz with the database back: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/sessions/"+lease+"/renew", seat.RoleClient, nil); r.status != http.StatusOK {
		t.Fatalf("renew with the database back: %d %s", r.status, r.body)
	}
	if !e.srv.ReclaimUntil().After(c.clock.Now()) {
		t.Fatal("no reclaim window after the database came back")
	}
	if r := e.checkout(seat.RoleClient, "acme-erp", sid(51), "pc51"); r.status != http.StatusCreated {
		t.Fatalf("checkout with the database back: %d %s", r.status, r.body)
	}
}

// TestClusterCutOff: the same as TestClusterDatabaseDown with PostgreSQL,
// the node's connections going through a TCP proxy the test cuts: the
// node answers 503 promptly (clients fail over), the other node goes on
// granting, and the cut node serves again when the proxy is mended.
func TestClusterCutOff(t *testing.T) {
	pg := sharedPG(t)
	schema, err := pg.NewSchema()
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := pg.NewProxy()
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	n := 0
	c := newClusterEnv(t, func() seatstore.Store {
		url := pg.URL(schema)
		if n++; n == 1 {
			url = proxy.URL(schema)
		}
		st, err := seatstore.OpenPostgres(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}, 2)
	c.license("acme-erp", 3, license.PerSession)
	var s seat.Session
	c.nodes[0].checkout(seat.RoleClient, "acme-erp", sid(1), "pc1").decode(t, &s)
	proxy.Cut()
	start := time.Now()
	checkDown(t, c.nodes[0], s.ID)
	if d := time.Since(start); d > 2*ClusterTimeout {
		t.Fatalf("the cut-off node took %s to refuse", d)
	}
	// The other node grants and renews meanwhile, within the one count.
	if r := c.nodes[1].do("POST", "/api/sessions/"+s.ID+"/renew", seat.RoleClient, nil); r.status != http.StatusOK {
		t.Fatalf("renew on the other node: %d %s", r.status, r.body)
	}
	if r := c.nodes[1].checkout(seat.RoleClient, "acme-erp", sid(2), "pc2"); r.status != http.StatusCreated {
		t.Fatalf("checkout on the other node: %d %s", r.status, r.body)
	}
	proxy.Mend()
	if err := c.nodes[0].srv.refreshCluster(context.Background()); err != nil {
		t.Fatalf("refresh after the proxy was mended: %v", err)
	}
	checkBack(t, c, c.nodes[0], s.ID)
	if r := c.nodes[0].checkout(seat.RoleClient, "acme-erp", sid(52), "pc52"); r.status != http.StatusConflict {
		t.Fatalf("4th seat of 3: %d %s", r.status, r.body)
	}
	// A partition: the database stops answering without closing anything.
	// The node answers 503 within its timeout instead of hanging or
	// guessing.
	if r := c.nodes[0].do("DELETE", "/api/sessions/"+clusterLeaseID("acme-erp", sid(51)), seat.RoleClient, nil); r.status != http.StatusOK {
		t.Fatalf("release: %d %s", r.status, r.body)
	}
	proxy.Blackhole()
	start = time.Now()
	for _, r := range []*resp{
		c.nodes[0].checkout(seat.RoleClient, "acme-erp", sid(53), "pc53"),
		c.nodes[0].do("POST", "/api/sessions/"+s.ID+"/renew", seat.RoleClient, nil),
	} {
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), "database") {
			t.Fatalf("behind a partition: %d %s", r.status, r.body)
		}
	}
	if d := time.Since(start); d > 3*ClusterTimeout {
		t.Fatalf("behind a partition the node took %s to refuse twice", d)
	}
	if r := c.nodes[1].checkout(seat.RoleClient, "acme-erp", sid(53), "pc53"); r.status != http.StatusCreated {
		t.Fatalf("the other node during the partition: %d %s", r.status, r.body)
	}
	proxy.Mend()
	if err := c.nodes[0].srv.refreshCluster(context.Background()); err != nil {
		t.Fatalf("refresh after the partition: %v", err)
	}
	if r := c.nodes[0].do("POST", "/api/sessions/"+s.ID+"/renew", seat.RoleClient, nil); r.status != http.StatusOK {
		t.Fatalf("renew after the partition: %d %s", r.status, r.body)
	}
}

// TestRefreshWait: a node refreshes every period, or less often when a
// refresh takes long, so refreshing takes at most a twentieth of its time.
func TestRefreshWait(t *testing.T) {
	for _, c := range []struct{ took, want time.Duration }{
		{10 * time.Millisecond, 2 * time.Second},
		{100 * time.Millisecond, 2 * time.Second},
		{300 * time.Millisecond, 6 * time.Second},
	} {
		if got := refreshWait(2*time.Second, c.took); got != c.want {
			t.Errorf("refresh took %s: wait %s, want %s", c.took, got, c.want)
		}
	}
}

// TestClusterNodeNotNamed: a license that names only node 1 counts on
// node 1; node 2 does not count it (demo mode there) and, above all, does
// not take node 1's leases away for the seats it cannot see.
func TestClusterNodeNotNamed(t *testing.T) {
	mem := seatstore.NewMemory()
	c := newClusterEnv(t, func() seatstore.Store { return sharedMemory{mem, &atomic.Bool{}} }, 2)
	arm, _ := c.v.issue(t, c.nodes[0].pub, lic{seats: 2})
	c.nodes[0].install(arm, http.StatusCreated)
	var s seat.Session
	c.nodes[0].checkout(seat.RoleClient, "acme-erp", sid(1), "pc1").decode(t, &s)
	c.refresh()
	c.refresh()
	for _, l := range c.storedLeases() {
		if l.Lost != "" {
			t.Fatalf("node 2, which the license does not name, took lease %s away: %s", l.ID, l.Lost)
		}
	}
	if r := c.nodes[0].do("POST", "/api/sessions/"+s.ID+"/renew", seat.RoleClient, nil); r.status != http.StatusOK {
		t.Fatalf("renew on node 1: %d %s", r.status, r.body)
	}
	if r := c.nodes[1].checkout(seat.RoleClient, "acme-erp", sid(2), "pc2"); r.status != http.StatusOK || !strings.Contains(string(r.body), `"demo"`) {
		t.Fatalf("checkout on the node the license does not name: %d %s (want demo mode)", r.status, r.body)
	}
}

// TestClusterDevices: a device registered on node 1 is approved on node 2
// after its refresh; its seat is a lease in the shared count (one session
// beside it fits in two seats on either node, not two), node 1 sees it
// approved after its refresh, and unlinking on node 1 frees the seat.
func TestClusterDevices(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() seatstore.Store) {
		c := newClusterEnv(t, open, 2)
		c.license("acme-erp", 2, license.PerSession)
		if r := c.nodes[0].register("TSD-0001", "acme-erp"); r.status != http.StatusAccepted {
			t.Fatalf("register on node 1: %d %s", r.status, r.body)
		}
		c.refresh()
		r := c.nodes[1].do("POST", PathDevices+"/TSD-0001/approve", seat.RoleAdmin, nil)
		if r.status != http.StatusOK || deviceState(t, r) != "approved" {
			t.Fatalf("approve on node 2: %d %s", r.status, r.body)
		}
		c.refresh()
		if r := c.nodes[0].do("GET", PathDevices+"/TSD-0001", "", nil); r.status != http.StatusOK || deviceState(t, r) != "approved" {
			t.Fatalf("device check on node 1: %d %s", r.status, r.body)
		}
		if r := c.nodes[0].checkout(seat.RoleClient, "acme-erp", sid(1), "ws-1"); r.status != http.StatusCreated {
			t.Fatalf("session beside the device: %d %s", r.status, r.body)
		}
		if r := c.nodes[1].checkout(seat.RoleClient, "acme-erp", sid(2), "ws-2"); r.status != http.StatusConflict {
			t.Fatalf("third seat on node 2: %d %s", r.status, r.body)
		}
		if r := c.nodes[0].do("DELETE", PathDevices+"/TSD-0001", seat.RoleAdmin, nil); r.status != http.StatusOK {
			t.Fatalf("unlink on node 1: %d %s", r.status, r.body)
		}
		if r := c.nodes[1].checkout(seat.RoleClient, "acme-erp", sid(2), "ws-2"); r.status != http.StatusCreated {
			t.Fatalf("the device's seat after the unlink: %d %s", r.status, r.body)
		}
	})
}

// TestClusterStoreErr: only a failure to reach the database marks the
// node down (503); a refusal, a value the store cannot keep or a closed
// store does not.
func TestClusterStoreErr(t *testing.T) {
	mem := seatstore.NewMemory()
	c := newClusterEnv(t, func() seatstore.Store { return sharedMemory{mem, &atomic.Bool{}} }, 1)
	s, ctx := c.nodes[0].srv, context.Background()
	for _, err := range []error{
		&seats.NoSeatError{Product: "p", InUse: 1, Seats: 1},
		fmt.Errorf("lease L: %w", seats.ErrUnknownLease),
		fmt.Errorf("lease L: %w", seats.ErrLost),
		fmt.Errorf("%w: Product: control character", seatstore.ErrInvalid),
		seatstore.ErrClosed,
	} {
		if got := s.storeErr(ctx, err); errors.Is(got, ErrDatabaseUnreachable) || s.DatabaseDown() {
			t.Fatalf("%v: marked the database unreachable", err)
		}
	}
	if got := s.storeErr(ctx, errTestDown); !errors.Is(got, ErrDatabaseUnreachable) || !s.DatabaseDown() {
		t.Fatalf("connection refused: %v, down %v", got, s.DatabaseDown())
	}
	if s.storeErr(ctx, nil) != nil || s.DatabaseDown() {
		t.Fatal("a success did not mark the database reachable again")
	}
}

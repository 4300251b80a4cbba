package seatserver

// Cluster serving (issue 12 item 2): several nodes share one PostgreSQL
// database, and the seat count is the cluster's. See
// docs/spec/seat-protocol-v1.md, "Several nodes".

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/seat"
)

// ClusterStore is a store several server nodes share (seatstore.Postgres).
// A server whose Config.Store is one (directly or wrapped by Metrics.Store)
// serves in cluster mode: the store, not the server's memory, decides
// every seat.
type ClusterStore interface {
	seatstore.Store
	// Shared reports whether other nodes may commit to the store.
	Shared() bool
	// SweepExpired deletes the leases that expired before before, logs
	// an expiry (at now, with detail) for each live one and returns those.
	SweepExpired(ctx context.Context, before, now time.Time, detail string) ([]seats.Lease, error)
}

// Cluster timings.
const (
	// DefaultClusterRefresh is how often a cluster node reloads the
	// shared state (licenses, tokens, settings, leases for listings).
	DefaultClusterRefresh = 2 * time.Second
	// ClusterTimeout bounds one request's wait for the database: a node
	// cut off from it answers 503 within this time, so clients fail over.
	ClusterTimeout = 5 * time.Second
	// DatabaseRetryAfter is the Retry-After of a 503 for a database the
	// node cannot reach.
	DatabaseRetryAfter = 2
)

// ErrDatabaseUnreachable: a cluster node could not reach the shared
// database; it grants and renews nothing until it can (503).
var ErrDatabaseUnreachable = errors.New("the seat database is unreachable from this node")

// clusterOf returns the shared store under st, or nil.
func clusterOf(st seatstore.Store) ClusterStore {
	for st != nil {
		if cs, ok := st.(ClusterStore); ok && cs.Shared() {
			return cs
		}
		u, ok := st.(interface{ Unwrap() seatstore.Store })
		if !ok {
			return nil
		}
		st = u.Unwrap()
	}
	return nil
}

// cluster is a node's cluster-mode state.
type cluster struct {
	store ClusterStore

	mu sync.Mutex
	// reclaimUntil ends this node's reclaim window: opened at start (when
	// leases are stored) and again whenever the node reaches the database
	// after losing it; the node sweeps nothing inside it.
	reclaimUntil time.Time
	down         bool
	lastRefresh  time.Time
	// verified caches the licenses checked for this node, by raw text,
	// so a refresh verifies only new ones.
	verified map[string]*installed

	// loadMu guards leases, the refresh's copy of the stored leases when
	// the store keeps one up to date (seatstore.Postgres.LoadCached).
	loadMu sync.Mutex
	leases seatstore.LeaseCache
}

// cachedLoader is a shared store that reloads only the leases changed
// since the last load (seatstore.Postgres).
type cachedLoader interface {
	LoadCached(ctx context.Context, c *seatstore.LeaseCache) (*seatstore.State, error)
}

// loadShared loads the shared state for a refresh: only the leases
// changed since the last refresh when the store can (a full read every
// so often all the same), else all of it.
func (s *Server) loadShared(ctx context.Context) (*seatstore.State, error) {
	cl, ok := s.cl.store.(cachedLoader)
	if !ok {
		return s.cfg.Store.Load(ctx)
	}
	s.cl.loadMu.Lock()
	defer s.cl.loadMu.Unlock()
	return cl.LoadCached(ctx, &s.cl.leases)
}

// Cluster reports whether the server serves in cluster mode (a shared
// store decides every seat).
func (s *Server) Cluster() bool { return s.cl != nil }

// clusterLeaseID is the lease ID of a session in cluster mode: derived
// from the product and the ClientSessionID, so a checkout retried on
// another node finds the lease the first one granted (one seat, 200)
// instead of taking a second. The ID is no secret: the ClientSessionID it
// comes from already names the lease to a checkout.
func clusterLeaseID(product, session string) string {
	h := sha256.Sum256([]byte("airseal cluster lease\x00" + product + "\x00" + session))
	return "L-" + base32.StdEncoding.EncodeToString(h[:10])
}

func (c *cluster) reclaiming(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return now.Before(c.reclaimUntil)
}

// storeErr classifies a store error of a cluster operation: refusals and
// the caller's own cancellation pass through; anything else means the
// database could not be reached, which marks the node down.
func (s *Server) storeErr(ctx context.Context, err error) error {
	if err == nil {
		s.storeUp()
		return nil
	}
	if errors.Is(err, seats.ErrNoSeat) || errors.Is(err, seats.ErrUnknownLease) || errors.Is(err, seats.ErrLost) ||
		errors.Is(err, seatstore.ErrLeaseExists) {
		s.storeUp()
		return err
	}
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return err // the client went away
	}
	if errors.Is(err, seatstore.ErrInvalid) || errors.Is(err, seatstore.ErrClosed) {
		return err // a value the store refuses, or shutting down: not the database
	}
	s.cl.mu.Lock()
	was := s.cl.down
	s.cl.down = true
	s.cl.mu.Unlock()
	if !was {
		s.log.Error("the seat database is unreachable: granting and renewing nothing until it is back", "err", err)
	}
	return fmt.Errorf("%w: %w", ErrDatabaseUnreachable, err)
}

// storeUp records a successful database operation. Coming back after the
// database was lost opens a reclaim window: sessions could not renew
// meanwhile, so their leases are not reclaimed before they could.
func (s *Server) storeUp() {
	s.cl.mu.Lock()
	defer s.cl.mu.Unlock()
	if !s.cl.down {
		return
	}
	s.cl.down = false
	now := s.now()
	if until := now.Add(s.cfg.Lease); until.After(s.cl.reclaimUntil) {
		s.cl.reclaimUntil = until
	}
	s.log.Info("the seat database is reachable again; reclaim window opened", "reclaim_until", s.cl.reclaimUntil.UTC().Format(seat.TimeFormat))
}

// DatabaseDown reports whether a cluster node's last database operation
// failed (false for a single node).
func (s *Server) DatabaseDown() bool {
	if s.cl == nil {
		return false
	}
	s.cl.mu.Lock()
	defer s.cl.mu.Unlock()
	return s.cl.down
}

// commitCluster commits ch to the shared store within ClusterTimeout.
func (s *Server) commitCluster(ctx context.Context, ch seatstore.Change) error {
	if s.cfg.ReadOnly {
		return ErrReadOnly
	}
	cctx, cancel := context.WithTimeout(ctx, ClusterTimeout)
	defer cancel()
	err := s.commitWithin(cctx, ch)
	if retryOnce(cctx, err) {
		// A connection the database dropped (it restarted, a network
		// cut) fails once before the pool opens a new one. Committing
		// again is safe: a Grant of the same lease ID, a Renewal and a
		// delete give the same result twice (a Grant with New: the lease
		// stored by the first try is found, and the checkout renews it).
		err = s.commitWithin(cctx, ch)
	}
	return s.storeErr(cctx, err)
}

// commitWithin commits ch, waiting no longer than ctx: a Commit already
// in a transaction waits for its outcome, which a database behind a
// partition gives only after the store's own timeout, later than the 503
// that lets the client fail over. The Commit goes on meanwhile; whatever
// its outcome, the client's retry on another node (the same lease ID)
// finds it.
func (s *Server) commitWithin(ctx context.Context, ch seatstore.Change) error {
	done := make(chan error, 1)
	go func() { done <- s.cfg.Store.Commit(ctx, ch) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done:
			return err
		default:
		}
		return fmt.Errorf("no answer from the seat store in time, the commit's outcome is not known: %w", ctx.Err())
	}
}

// retryOnce reports whether a failed store call is worth one more try:
// not a refusal, and time is left.
func retryOnce(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() == nil && !errors.Is(err, seats.ErrNoSeat) &&
		!errors.Is(err, seats.ErrUnknownLease) && !errors.Is(err, seats.ErrLost) && !errors.Is(err, ErrReadOnly) &&
		!errors.Is(err, seatstore.ErrLeaseExists) &&
		!errors.Is(err, seatstore.ErrInvalid) && !errors.Is(err, seatstore.ErrClosed)
}

// storedLease reads a lease from the shared store within ClusterTimeout.
func (s *Server) storedLease(ctx context.Context, id string) (seats.Lease, bool, error) {
	cctx, cancel := context.WithTimeout(ctx, ClusterTimeout)
	defer cancel()
	l, ok, err := s.cfg.Store.Lease(cctx, id)
	if retryOnce(cctx, err) {
		l, ok, err = s.cfg.Store.Lease(cctx, id)
	}
	return l, ok, s.storeErr(cctx, err)
}

func leaseEvent(now time.Time, k seats.EventKind, l *seats.Lease, detail string) seats.Event {
	return seats.Event{Time: now, Kind: k, Product: l.Product, LeaseID: l.ID, Session: l.ClientSessionID, User: l.UserName, Detail: detail}
}

// clusterCheckout is Checkout decided by the shared store: the lease the
// session holds on any node is renewed (200), else a Grant inserts it
// only while the product's seats in use, counted by the store under its
// product lock, stay within the seats licensed now (201), else the same
// refusal as a single node (409).
func (s *Server) clusterCheckout(ctx context.Context, r seats.Request) (seat.Session, seats.Lease, bool, error) {
	if err := r.Validate(); err != nil {
		return seat.Session{}, seats.Lease{}, false, err
	}
	now := s.now()
	s.mu.Lock()
	cp := s.core.Capacity(r.Product, now)
	s.mu.Unlock()
	if cp.Seats == 0 {
		l := seats.Lease{Request: r, Mode: seats.ModeDemo, Granted: now, Expires: now.Add(s.cfg.Lease)}
		if err := s.commitCluster(ctx, seatstore.Change{Events: []seats.Event{leaseEvent(now, seats.EventRefuse, &l, "no valid license: demo mode")}}); err != nil {
			return seat.Session{}, l, false, err
		}
		return s.session(l, cp.DemoLimits, now), l, false, nil
	}
	id := clusterLeaseID(r.Product, r.ClientSessionID)
	l := seats.Lease{ID: id, Request: r, Mode: seats.ModeLicensed, Granted: now, Expires: now.Add(s.cfg.Lease)}
	g := seatstore.Grant{Lease: l, SeatKey: seatstore.SeatKey(l, cp.Unit), Seats: cp.Seats, New: true}
	grant := func() error {
		return s.commitCluster(ctx, seatstore.Change{Grants: []seatstore.Grant{g}, Events: []seats.Event{leaseEvent(now, seats.EventGrant, &l, "")}})
	}
	// A new session (the common case) is one Commit: the store inserts
	// the lease only if its ID is not stored. Only a retry reads it.
	err := grant()
	if errors.Is(err, seatstore.ErrLeaseExists) {
		old, ok, rerr := s.storedLease(ctx, id)
		if rerr != nil {
			return seat.Session{}, seats.Lease{}, false, rerr
		}
		if ok && old.Lost == "" {
			exp := now.Add(s.cfg.Lease)
			err := s.commitCluster(ctx, seatstore.Change{Renewals: []seatstore.Renewal{{ID: id, Expires: exp}},
				Events: []seats.Event{leaseEvent(now, seats.EventRenew, &old, "checkout retried with the same ClientSessionID")}})
			if err == nil {
				old.Expires = exp
				return s.session(old, cp.Features, now), old, false, nil
			}
			if !errors.Is(err, seats.ErrUnknownLease) && !errors.Is(err, seats.ErrLost) {
				return seat.Session{}, seats.Lease{}, false, err
			}
		}
		// Lost, or released or reclaimed meanwhile: a new seat, replacing
		// a lost lease.
		g.New = false
		err = grant()
	}
	var nse *seats.NoSeatError
	if errors.As(err, &nse) {
		// The refusal is logged as on a single node; failing to log it
		// does not change the answer.
		if lerr := s.commitCluster(ctx, seatstore.Change{Events: []seats.Event{leaseEvent(now, seats.EventRefuse, &l,
			fmt.Sprintf("%d of %d seats in use", nse.InUse, nse.Seats))}}); lerr != nil {
			s.log.Warn("logging a refusal", "err", lerr)
		}
		if s.cl.reclaiming(now) {
			s.mu.Lock()
			expired := s.core.HoldsExpired(r.Product, now)
			s.mu.Unlock()
			if expired {
				return seat.Session{}, l, false, fmt.Errorf("%w: try again after %s", seats.ErrStarting, s.ReclaimUntil().UTC().Format(time.RFC3339))
			}
		}
		return seat.Session{}, l, false, &seats.NoSeatError{Product: nse.Product, InUse: nse.InUse, Seats: nse.Seats}
	}
	if err != nil {
		return seat.Session{}, seats.Lease{}, false, err
	}
	return s.session(l, cp.Features, now), l, true, nil
}

// session describes l (cluster mode: from the store, not the core).
func (s *Server) session(l seats.Lease, features []license.Feature, now time.Time) seat.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessionLocked(l, features, now)
}

// clusterRenew renews a lease stored by any node.
func (s *Server) clusterRenew(ctx context.Context, id string) (seat.Session, error) {
	l, ok, err := s.storedLease(ctx, id)
	switch {
	case err != nil:
		return seat.Session{}, err
	case !ok:
		return seat.Session{}, seats.ErrUnknownLease
	case l.Lost != "":
		return seat.Session{}, seatsLost(l.Lost)
	}
	now := s.now()
	exp := now.Add(s.cfg.Lease)
	err = s.commitCluster(ctx, seatstore.Change{Renewals: []seatstore.Renewal{{ID: id, Expires: exp}},
		Events: []seats.Event{leaseEvent(now, seats.EventRenew, &l, "")}})
	if err != nil {
		return seat.Session{}, err
	}
	l.Expires = exp
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessionLocked(l, s.core.Capacity(l.Product, now).Features, now), nil
}

// clusterRelease deletes a lease stored by any node; false when there
// was none.
func (s *Server) clusterRelease(ctx context.Context, id, detail string) (bool, error) {
	l, ok, err := s.storedLease(ctx, id)
	if err != nil || !ok {
		return false, err
	}
	if l.Lost != "" {
		detail = "lost lease released"
	}
	now := s.now()
	err = s.commitCluster(ctx, seatstore.Change{DeleteLeases: []string{id}, Events: []seats.Event{leaseEvent(now, seats.EventRelease, &l, detail)}})
	return err == nil, err
}

// clusterSweep reclaims the leases expired in the shared store (outside
// this node's reclaim window) and saves the clock floor.
func (s *Server) clusterSweep(ctx context.Context) error {
	now := s.now()
	s.mu.Lock()
	var ch seatstore.Change
	if now.Sub(s.floorSaved) >= time.Minute {
		s.floorSaved = now
		ch.Settings = map[string]string{settingClockFloor: now.UTC().Format(time.RFC3339)}
	}
	s.mu.Unlock()
	if !ch.Empty() {
		if err := s.commitCluster(ctx, ch); err != nil {
			return err
		}
	}
	if s.cl.reclaiming(now) || s.cfg.ReadOnly {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, ClusterTimeout)
	defer cancel()
	gone, err := s.cl.store.SweepExpired(cctx, now, now, "not renewed")
	if retryOnce(cctx, err) {
		gone, err = s.cl.store.SweepExpired(cctx, now, now, "not renewed")
	}
	if err = s.storeErr(cctx, err); err != nil {
		return err
	}
	if len(gone) > 0 {
		s.log.Info("expired leases reclaimed", "leases", len(gone))
	}
	return nil
}

// refreshCluster reloads the shared state into this node's memory: the
// licenses (verified for this node), tokens, revocations, peaks, devices
// and the leases (on PostgreSQL, only those changed since the last
// refresh are read in full). Listings, the console, metrics and the capacity a Grant is
// given come from it, so they are at most one refresh period (plus the
// database's answer time) old; seats themselves are decided by the store.
// License expiry and removal are enforced here: leases over the seats now
// licensed are marked lost in the store, newest first.
func (s *Server) refreshCluster(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, ClusterTimeout)
	defer cancel()
	st, err := s.loadShared(cctx)
	if retryOnce(cctx, err) {
		st, err = s.loadShared(cctx)
	}
	if err = s.storeErr(cctx, err); err != nil {
		return err
	}
	now := s.now()
	core := seats.New(s.cfg.Lease, s.cfg.NewLeaseID)
	records := map[string]seatstore.LicenseRecord{}
	armored := map[string]string{}
	sort.SliceStable(st.Licenses, func(i, j int) bool {
		return !isAdditional(st.Licenses[i].Raw) && isAdditional(st.Licenses[j].Raw)
	})
	// skipped: a stored license this node does not count (it does not name
	// this node, say). Its seats are then missing from this node's view
	// only, so the node must not take leases away for their lack.
	skipped := false
	for _, rec := range st.Licenses {
		s.cl.mu.Lock()
		il := s.cl.verified[string(rec.Raw)]
		s.cl.mu.Unlock()
		if il == nil {
			if il, err = s.checkInstalled(rec.Raw, now); err != nil {
				s.log.Error("installed license refused on this node; it counts on the nodes it names", "serial", rec.Serial, "err", err)
				skipped = true
				continue
			}
			s.cl.mu.Lock()
			s.cl.verified[string(rec.Raw)] = il
			s.cl.mu.Unlock()
		}
		if _, err := core.Install(il.core, now); err != nil {
			s.log.Error("installed license", "serial", rec.Serial, "err", err)
			skipped = true
			continue
		}
		records[rec.Serial], armored[rec.Serial] = rec, il.armored
	}
	peak := map[string]int{}
	revSeen := map[keys.ID]uint64{}
	var revoked []string
	for k, v := range st.Settings {
		switch {
		case len(k) > len(settingPeak) && k[:len(settingPeak)] == settingPeak:
			if n, err := strconv.Atoi(v); err == nil {
				peak[k[len(settingPeak):]] = n
			}
		case len(k) > len(settingRevSeq) && k[:len(settingRevSeq)] == settingRevSeq:
			if n, err := strconv.ParseUint(v, 10, 64); err == nil {
				revSeen[keys.ID(k[len(settingRevSeq):])] = n
			}
		case k == settingRevSerials:
			revoked = splitList(v)
		}
	}
	core.Revoke(revoked, now)
	live := make([]seats.Lease, 0, len(st.Leases))
	for _, l := range st.Leases {
		if l.Lost != "" && !now.Before(l.Expires) {
			continue
		}
		live = append(live, l)
	}
	ev := core.Restore(live, now)
	var ch seatstore.Change
	s.mu.Lock()
	s.core, s.records, s.armored = core, records, armored
	s.tokens = map[string]seatstore.TokenRecord{}
	for _, t := range st.Tokens {
		s.tokens[t.Name] = t
	}
	for k, v := range revSeen {
		if v > s.revSeen[k] {
			s.revSeen[k] = v
		}
	}
	for _, sr := range revoked {
		s.revokedExtra[sr] = true
	}
	for p, n := range peak {
		s.peak[p] = max(s.peak[p], n)
	}
	for _, l := range core.Licenses() {
		if n := core.InUse(l.Product); n > s.peak[l.Product] {
			s.peak[l.Product] = n
			if ch.Settings == nil {
				ch.Settings = map[string]string{}
			}
			ch.Settings[settingPeak+l.Product] = strconv.Itoa(n)
		}
	}
	for _, e := range ev {
		if e.Kind != seats.EventLost || skipped {
			continue
		}
		if l, ok := core.Lost(e.LeaseID); ok {
			ch.PutLeases = append(ch.PutLeases, l)
			ch.Events = append(ch.Events, e)
		}
	}
	s.mu.Unlock()
	// Devices (issue 11) registered, approved or unlinked on any node.
	if s.ext != nil && s.ext.reg != nil {
		if err := s.ext.reg.Load(st.Devices); err != nil {
			s.log.Error("reloading devices", "err", err)
		}
	}
	s.cl.mu.Lock()
	s.cl.lastRefresh = now
	s.cl.mu.Unlock()
	if ch.Empty() || s.cfg.ReadOnly {
		return nil
	}
	return s.commitCluster(ctx, ch)
}

// Package seats is the pure seat-accounting core of the license server:
// licenses installed (main, additional, demo) for several products, and
// seats leased to sessions. It does no I/O and reads no clock: every
// operation takes the time, so tests (and a property test) drive it as a
// state machine. The server keeps one Core behind a mutex and makes every
// change durable (internal/seatstore) before it acknowledges it.
//
// Rules (docs/spec/seat-protocol-v1.md):
//   - The seats of a product are those of its valid licenses combined as
//     license.Combine does: a main license plus the additional licenses
//     naming it; a demo license alone. Expired, not yet valid, revoked or
//     removed licenses stop counting at once.
//   - A lease is keyed by product and the client-chosen ClientSessionID:
//     a checkout with an ID that already holds a lease returns that lease
//     (lifetime extended) and never takes a second seat.
//   - Per-computer counting: all leases of one ComputerName share a seat.
//   - Seats in use never exceed the seats licensed. When seats disappear
//     (a license removed, revoked or expired) the newest leases over the
//     count are taken away and remembered as lost, so the session is told
//     at its next renewal instead of losing its seat silently.
//   - Leases past their expiry are reclaimed by Sweep (no zombie seats),
//     except during the reclaim window after a restart (Restore), when
//     renewals of known leases succeed and new seats are refused with
//     ErrStarting rather than handed out from leases not yet renewed.
package seats

import (
	"container/heap"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/pkg/license"
)

// Errors returned by Core operations; the server maps them to statuses.
var (
	// ErrNoSeat: every seat of the product is in use (409).
	ErrNoSeat = errors.New("no seat free")
	// ErrStarting: the server is in its reclaim window after a restart and
	// the seat asked for may belong to a lease not yet renewed (503).
	ErrStarting = errors.New("server is reclaiming leases after a restart")
	// ErrUnknownLease: no such lease, or it expired and was reclaimed (404).
	ErrUnknownLease = errors.New("unknown or expired lease")
	// ErrLost: the lease was taken away because its license was removed,
	// revoked or expired (410); the error text gives the reason.
	ErrLost = errors.New("seat lost")
	// ErrInstall: a license cannot be installed (stacking rule) (400).
	ErrInstall = errors.New("license cannot be installed")
	// ErrRequest: a checkout request field is invalid (400).
	ErrRequest = errors.New("invalid request")
)

// License is an installed license as the core sees it.
type License struct {
	*license.License
	// Unit is what one seat counts (v2 server licenses say; v1 licenses
	// count per session).
	Unit license.SeatUnit
	// Revoked is set by a signed revocation list.
	Revoked bool
}

// valid reports whether l counts at now.
func (l *License) valid(now time.Time) bool {
	return !l.Revoked && !now.Before(l.NotBefore) && (l.Expires == nil || now.Before(*l.Expires))
}

// Request is a checkout (1C: POST /api/sessions).
type Request struct {
	Product         string
	ClientSessionID string
	AppName         string
	UserName        string
	ComputerName    string
	SessionStarted  time.Time
}

// Validate checks every field that came from the client before it is
// stored, signed or printed.
func (r *Request) Validate() error {
	if err := CheckSessionID(r.ClientSessionID); err != nil {
		return fmt.Errorf("%w: ClientSessionID: %v", ErrRequest, err)
	}
	if r.Product == "" {
		return fmt.Errorf("%w: Product: must not be empty", ErrRequest)
	}
	for _, f := range []struct{ name, v string }{{"Product", r.Product}, {"AppName", r.AppName}, {"UserName", r.UserName}, {"ComputerName", r.ComputerName}} {
		if err := safetext.Check(f.name, f.v); err != nil {
			return fmt.Errorf("%w: %v", ErrRequest, err)
		}
	}
	return nil
}

// CheckSessionID accepts 16 to 64 characters of A-Z, a-z, 0-9, '_', '-'
// (a client session ID or a query ID).
func CheckSessionID(s string) error {
	if len(s) < 16 || len(s) > 64 {
		return fmt.Errorf("%d characters, want 16 to 64", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("character %q: use only A-Z, a-z, 0-9, '_' and '-'", c)
		}
	}
	return nil
}

// Mode says how a checkout was answered.
type Mode string

// Modes.
const (
	ModeLicensed Mode = "licensed"
	ModeDemo     Mode = "demo"
)

// Lease is a seat held by a session.
type Lease struct {
	ID string
	Request
	Mode    Mode
	Granted time.Time
	Expires time.Time
	// Lost is, for a lease taken away, why.
	Lost string
}

// Grant is the answer to a checkout.
type Grant struct {
	Lease Lease
	// Created is true when a seat was taken now, false when the session
	// already held this lease (or in demo mode, when no seat is held).
	Created bool
	// Features are the product's entitlements (the demo limits in demo mode).
	Features []license.Feature
}

// NoSeatError is ErrNoSeat with how many seats are in use.
type NoSeatError struct {
	Product string
	InUse   int
	Seats   int
	// Holders are who holds the seats, for an admin caller only: the
	// server fills it (Core.Holders, at most MaxHolders, the oldest
	// first); Checkout leaves it empty, so that a refusal, which any
	// client can cause as often as it likes, costs no copy of the leases.
	Holders []Lease
}

func (e *NoSeatError) Error() string {
	return fmt.Sprintf("%d of %d seats of %s in use", e.InUse, e.Seats, e.Product)
}

// Unwrap returns ErrNoSeat.
func (e *NoSeatError) Unwrap() error { return ErrNoSeat }

// EventKind names a usage-log event.
type EventKind string

// Event kinds.
const (
	EventGrant   EventKind = "grant"
	EventRenew   EventKind = "renew"
	EventRelease EventKind = "release"
	EventExpire  EventKind = "expire"
	EventRefuse  EventKind = "refuse"
	EventLost    EventKind = "lost"
)

// Event is one entry of the usage log.
type Event struct {
	Time    time.Time
	Kind    EventKind
	Product string
	LeaseID string
	Session string
	User    string
	Detail  string
}

// Core is the accounting state. The zero value is not usable; use New.
type Core struct {
	lifetime time.Duration
	newID    func() string
	licenses map[string]*License // by serial
	// live is the live leases, kept for the garbage collector to have
	// little to mark (table.go).
	live table
	lost map[string]*Lease // by ID
	// lostExpiry orders the lost leases' expiries (when they are
	// forgotten); stale entries (a lost lease released) are skipped.
	lostExpiry expiryHeap
	// use is the seats in use by product.
	use          map[string]*usage
	reclaimUntil time.Time
	// caps caches Capacity by product: every renewal needs it (twice),
	// and computing it sorts and combines the licenses. An entry holds
	// for the times in [from, until), between two validity boundaries
	// (NotBefore, Expires) of the product's licenses; Install, Remove and
	// Revoke drop the cache.
	caps map[string]capEntry
}

type capEntry struct {
	cp          Capacity
	from, until time.Time // until zero: no end
}

type sessionKey struct{ product, session string }

// usage is the seats of a product in use: one for each lease counted per
// session, one for each computer for the leases counted per computer.
type usage struct {
	sessions  int
	computers map[string]int // ComputerName → leases sharing its seat
}

func (u *usage) inUse() int { return u.sessions + len(u.computers) }

// New returns an empty core with the given lease lifetime. newID makes
// lease IDs; nil uses 80 random bits.
func New(lifetime time.Duration, newID func() string) *Core {
	if newID == nil {
		newID = randomID
	}
	return &Core{lifetime: lifetime, newID: newID, licenses: map[string]*License{}, live: newTable(),
		lost: map[string]*Lease{}, use: map[string]*usage{}}
}

// randomID is "L-" and 24 characters: the Unix second it was made (40
// bits) then 80 random bits, in base32hex, whose alphabet sorts as the
// values do. Random bits keep IDs unguessable; the time prefix makes new
// IDs sort after the older ones, so a store keyed by ID appends new
// leases at the end of its index (one page written for a group of
// checkouts, not one random page each).
func randomID() string {
	var b [15]byte
	t := uint64(time.Now().Unix())
	for i := 4; i >= 0; i-- {
		b[i] = byte(t)
		t >>= 8
	}
	if _, err := rand.Read(b[5:]); err != nil {
		panic(err)
	}
	return "L-" + base32.HexEncoding.EncodeToString(b[:])
}

// Lifetime returns the lease lifetime.
func (c *Core) Lifetime() time.Duration { return c.lifetime }

// Install adds a license. The stacking rules: an additional license needs
// its main license installed; a demo license cannot be installed with any
// other license of its product. Installing the same license again is a
// no-op. Like every operation it first applies license expiry at now.
func (c *Core) Install(l *License, now time.Time) ([]Event, error) {
	ev := c.enforceAll(now)
	if old, ok := c.licenses[l.Serial]; ok {
		if string(old.Signature) == string(l.Signature) && old.Unit == l.Unit {
			return ev, nil
		}
		return ev, fmt.Errorf("%w: a different license with serial %s is installed; remove it first", ErrInstall, l.Serial)
	}
	for _, o := range c.licenses {
		if o.Product != l.Product {
			continue
		}
		if o.Kind == license.KindDemo || l.Kind == license.KindDemo {
			return ev, fmt.Errorf("%w: demo license %s cannot be used with other licenses of %s (%s is installed); remove it first",
				ErrInstall, pick(o.Kind == license.KindDemo, o.Serial, l.Serial), l.Product, o.Serial)
		}
	}
	if l.Kind == license.KindAdditional {
		m, ok := c.licenses[l.MainSerial]
		if !ok || m.Kind != license.KindMain || m.Product != l.Product {
			return ev, fmt.Errorf("%w: additional license %s needs its main license %s installed on this server first", ErrInstall, l.Serial, l.MainSerial)
		}
	}
	if l.Unit == 0 {
		l.Unit = license.PerSession
	}
	c.licenses[l.Serial] = l
	clear(c.caps)
	return ev, nil
}

func pick(b bool, x, y string) string {
	if b {
		return x
	}
	return y
}

// Remove uninstalls a license; the seats it gave go at once (the newest
// leases over the count are lost, told at their next renewal). Additional
// licenses naming a removed main license stop counting.
func (c *Core) Remove(serial string, now time.Time) ([]Event, error) {
	ev := c.enforceAll(now)
	l, ok := c.licenses[serial]
	if !ok {
		return ev, fmt.Errorf("no license %s is installed", serial)
	}
	delete(c.licenses, serial)
	clear(c.caps)
	return append(ev, c.enforce(l.Product, now, "license "+serial+" was removed")...), nil
}

// Revoke marks the installed licenses with these serials revoked.
func (c *Core) Revoke(serials []string, now time.Time) []Event {
	ev := c.enforceAll(now)
	for _, s := range serials {
		if l, ok := c.licenses[s]; ok && !l.Revoked {
			l.Revoked = true
			clear(c.caps)
			ev = append(ev, c.enforce(l.Product, now, "license "+s+" was revoked")...)
		}
	}
	return ev
}

// Licenses returns the installed licenses, by product then serial.
func (c *Core) Licenses() []*License {
	out := make([]*License, 0, len(c.licenses))
	for _, l := range c.licenses {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Product != out[j].Product {
			return out[i].Product < out[j].Product
		}
		return out[i].Serial < out[j].Serial
	})
	return out
}

// Capacity is what a product's valid licenses give at a time.
type Capacity struct {
	Seats    int
	Unit     license.SeatUnit
	Features []license.Feature
	// Demo limits of the product's licenses, for demo mode.
	DemoLimits []license.Feature
	// Main is the serial of the valid main (or demo) license the seats
	// come from (the first by serial); "" when none is valid.
	Main string
}

// Capacity returns the seats, unit and features of product at now. The
// slices in it are shared: the caller must not modify them.
func (c *Core) Capacity(product string, now time.Time) Capacity {
	if e, ok := c.caps[product]; ok && !now.Before(e.from) && (e.until.IsZero() || now.Before(e.until)) {
		return e.cp
	}
	cp := c.capacity(product, now)
	// The licenses' validity, and so cp, is the same between the
	// boundaries around now (the clock may also go back: from).
	var e capEntry
	e.cp = cp
	for _, l := range c.licenses {
		if l.Product != product {
			continue
		}
		bounds := [2]time.Time{l.NotBefore}
		if l.Expires != nil {
			bounds[1] = *l.Expires
		}
		for _, b := range bounds {
			switch {
			case b.IsZero():
			case !now.Before(b):
				if b.After(e.from) {
					e.from = b
				}
			case e.until.IsZero() || b.Before(e.until):
				e.until = b
			}
		}
	}
	if c.caps == nil {
		c.caps = map[string]capEntry{}
	}
	c.caps[product] = e
	return cp
}

// capacity computes Capacity.
func (c *Core) capacity(product string, now time.Time) Capacity {
	var valid []*license.License
	validSerial := map[string]*License{}
	cp := Capacity{Unit: license.PerSession}
	demoFrom := "" // the serial DemoLimits come from: the first by serial
	for _, l := range c.licenses {
		if l.Product != product {
			continue
		}
		if len(l.DemoLimits) > 0 && (cp.DemoLimits == nil || l.Serial < demoFrom) {
			cp.DemoLimits, demoFrom = l.DemoLimits, l.Serial
		}
		if l.valid(now) {
			validSerial[l.Serial] = l
		}
	}
	serials := make([]string, 0, len(validSerial))
	for s := range validSerial {
		serials = append(serials, s)
	}
	sort.Strings(serials)
	unitSet := false
	for _, s := range serials {
		l := validSerial[s]
		if l.Kind == license.KindAdditional {
			if m := validSerial[l.MainSerial]; m == nil {
				continue
			}
		} else if !unitSet {
			cp.Unit, unitSet = l.Unit, true
			cp.Main = l.Serial
		}
		valid = append(valid, l.License)
	}
	if len(valid) == 0 {
		return cp
	}
	e, err := license.Combine(valid)
	if err != nil { // Install keeps this from happening; count nothing.
		return Capacity{Unit: cp.Unit, DemoLimits: cp.DemoLimits}
	}
	cp.Seats, cp.Features = e.Seats, e.Features
	return cp
}

// InUse returns the seats of product in use.
func (c *Core) InUse(product string) int {
	if u := c.use[product]; u != nil {
		return u.inUse()
	}
	return 0
}

// Leases returns the live leases of product ("" for all), oldest first.
func (c *Core) Leases(product string) []Lease {
	ps := c.sorted(product)
	if len(ps) == 0 {
		return nil
	}
	out := make([]Lease, len(ps))
	for i, r := range ps {
		out[i] = c.live.lease(r)
	}
	return out
}

// Count returns how many leases are live, of every product, without
// copying them.
func (c *Core) Count() int { return c.live.n }

// MaxHolders bounds the holders named to an admin in a refusal
// (NoSeatError.Holders, Core.Holders): the oldest ones.
const MaxHolders = 100

// Holders returns at most limit live leases of product, the oldest first
// (as Leases orders them). It visits every live lease once but sorts only
// the ones it keeps, so naming who holds the seats of a product with
// 100,000 leases costs one pass, not a sort of all of them.
func (c *Core) Holders(product string, limit int) []Lease {
	if limit <= 0 {
		return nil
	}
	recs := c.live.recs
	older := func(a, b int32) bool {
		if n := recs[a].granted.compare(recs[b].granted); n != 0 {
			return n < 0
		}
		return c.live.id(a) < c.live.id(b)
	}
	// kept is sorted oldest first and holds at most limit records.
	kept := make([]int32, 0, min(limit, c.live.n))
	for i := range recs {
		r := int32(i)
		if !recs[i].live || c.live.product(r) != product {
			continue
		}
		if len(kept) == limit && !older(r, kept[len(kept)-1]) {
			continue
		}
		at, _ := slices.BinarySearchFunc(kept, r, func(k, r int32) int {
			if older(k, r) {
				return -1
			}
			return 1
		})
		if len(kept) == limit {
			kept = kept[:limit-1]
		}
		kept = slices.Insert(kept, at, r)
	}
	out := make([]Lease, len(kept))
	for i, r := range kept {
		out[i] = c.live.lease(r)
	}
	return out
}

// LeasesPage returns limit live leases of product ("" for all) from
// offset, oldest first, and how many there are in all. Only the page is
// copied, so a console showing 50 of 100,000 leases does not copy them all.
func (c *Core) LeasesPage(product string, offset, limit int) ([]Lease, int) {
	ps := c.sorted(product)
	offset = min(max(offset, 0), len(ps))
	page := ps[offset:min(offset+max(limit, 0), len(ps))]
	out := make([]Lease, len(page))
	for i, r := range page {
		out[i] = c.live.lease(r)
	}
	return out, len(ps)
}

// sorted returns the records of the live leases of product ("" for all)
// by Granted, then ID: record numbers are sorted, not leases, so that
// sorting 100,000 of them moves little memory.
func (c *Core) sorted(product string) []int32 {
	recs := c.live.recs
	ps := make([]int32, 0, c.live.n)
	for i := range recs {
		if recs[i].live && (product == "" || c.live.product(int32(i)) == product) {
			ps = append(ps, int32(i))
		}
	}
	slices.SortFunc(ps, func(a, b int32) int {
		if n := recs[a].granted.compare(recs[b].granted); n != 0 {
			return n
		}
		return strings.Compare(c.live.id(a), c.live.id(b))
	})
	return ps
}

// Lease returns a live lease by ID.
func (c *Core) Lease(id string) (Lease, bool) {
	i, ok := c.live.byIDGet(id)
	if !ok {
		return Lease{}, false
	}
	return c.live.lease(i), true
}

// StoreLag returns how far live lease id's expiry is past the expiry its
// store was last given (Stored; at a grant or Restore, the lease's own),
// and false when id is not a live lease. A renewal moves the expiry on
// and not the stored one: a single server stores a renewal's lease only
// once this lag reaches half a lifetime (docs/spec/seat-protocol-v1.md,
// "Stored expiry").
func (c *Core) StoreLag(id string) (time.Duration, bool) {
	i, ok := c.live.byIDGet(id)
	if !ok {
		return 0, false
	}
	r := &c.live.recs[i]
	return r.expires.sub(r.stored), true
}

// Stored returns live lease id, as Lease does, and records its expiry as
// the one its store was given: the caller queues the lease to the store.
func (c *Core) Stored(id string) (Lease, bool) {
	i, ok := c.live.byIDGet(id)
	if !ok {
		return Lease{}, false
	}
	r := &c.live.recs[i]
	r.stored = r.expires
	return c.live.lease(i), true
}

// ForgetStored marks live lease id as not stored: its next renewal makes
// StoreLag large enough that the server stores it. The server calls it
// when a commit that carried the lease failed or gave up, so that a lease
// the store may lack is stored again at its next renewal (or retried
// checkout).
func (c *Core) ForgetStored(id string) {
	if i, ok := c.live.byIDGet(id); ok {
		c.live.recs[i].stored = stamp{sec: math.MinInt64 / 2}
	}
}

// SessionLease returns the live lease a ClientSessionID holds for
// product, found through the session index (no pass over the leases).
func (c *Core) SessionLease(product, session string) (Lease, bool) {
	i, ok := c.live.bySessGet(product, session)
	if !ok {
		return Lease{}, false
	}
	return c.live.lease(i), true
}

// Lost returns a lease taken away because its license went (Lease.Lost
// says why). It is kept until the session renews (and is told), releases
// it, or it expires.
func (c *Core) Lost(id string) (Lease, bool) {
	l, ok := c.lost[id]
	if !ok {
		return Lease{}, false
	}
	return *l, true
}

// ReclaimUntil returns the end of the reclaim window (zero before Restore).
func (c *Core) ReclaimUntil() time.Time { return c.reclaimUntil }

// Reclaiming reports whether now is inside the reclaim window.
func (c *Core) Reclaiming(now time.Time) bool { return now.Before(c.reclaimUntil) }

// HoldReclaim makes sure no lease is reclaimed before t: after a restart,
// Restore holds reclaims for the current lifetime; a server whose previous
// run promised longer leases holds them for that one too.
func (c *Core) HoldReclaim(t time.Time) {
	if t.After(c.reclaimUntil) {
		c.reclaimUntil = t
	}
}

// Checkout takes a seat for a session, or returns the lease the session
// already holds (lifetime extended). With no valid license of the product
// it answers demo mode (no seat is held, the lease has no ID). Errors:
// ErrRequest, *NoSeatError (ErrNoSeat), ErrStarting.
func (c *Core) Checkout(r Request, now time.Time) (Grant, []Event, error) {
	if err := r.Validate(); err != nil {
		return Grant{}, nil, err
	}
	ev := c.enforceAll(now)
	cp := c.Capacity(r.Product, now)
	if i, ok := c.live.bySessGet(r.Product, r.ClientSessionID); ok {
		if c.expired(i, now) && !c.Reclaiming(now) {
			ev = append(ev, c.drop(i, now, EventExpire, "lease expired before it was renewed"))
		} else {
			c.live.setExpires(i, now.Add(c.lifetime))
			l := c.live.lease(i)
			ev = append(ev, event(now, EventRenew, &l, "checkout retried with the same ClientSessionID"))
			return Grant{Lease: l, Features: cp.Features}, ev, nil
		}
	}
	if cp.Seats == 0 {
		l := Lease{Request: r, Mode: ModeDemo, Granted: now, Expires: now.Add(c.lifetime)}
		ev = append(ev, event(now, EventRefuse, &l, "no valid license: demo mode"))
		return Grant{Lease: l, Features: cp.DemoLimits}, ev, nil
	}
	id := c.newID()
	for c.known(id) {
		id = c.newID() // never reuse a live ID (a restarted counter in tests)
	}
	l := Lease{ID: id, Request: r, Mode: ModeLicensed, Granted: now, Expires: now.Add(c.lifetime)}
	perComputer := cp.Unit == license.PerComputer
	inUse := c.InUse(r.Product)
	if (!perComputer || c.computerSeat(r.Product, r.ComputerName) == 0) && inUse >= cp.Seats {
		ev = append(ev, event(now, EventRefuse, &l, fmt.Sprintf("%d of %d seats in use", inUse, cp.Seats)))
		if c.Reclaiming(now) && c.HoldsExpired(r.Product, now) {
			return Grant{}, ev, fmt.Errorf("%w: try again after %s", ErrStarting, c.reclaimUntil.UTC().Format(time.RFC3339))
		}
		return Grant{}, ev, &NoSeatError{Product: r.Product, InUse: inUse, Seats: cp.Seats}
	}
	i := c.add(&l, perComputer)
	l = c.live.lease(i)
	ev = append(ev, event(now, EventGrant, &l, ""))
	return Grant{Lease: l, Created: true, Features: cp.Features}, ev, nil
}

// known reports whether id names a live or a lost lease.
func (c *Core) known(id string) bool {
	_, ok := c.live.byIDGet(id)
	return ok || c.lost[id] != nil
}

// computerSeat returns how many leases of product share computer's seat.
func (c *Core) computerSeat(product, computer string) int {
	if u := c.use[product]; u != nil {
		return u.computers[computer]
	}
	return 0
}

// expired reports whether live lease i is past its expiry at now.
func (c *Core) expired(i int32, now time.Time) bool {
	return !toStamp(now).before(c.live.recs[i].expires)
}

// HoldsExpired reports whether a lease of product past its expiry still
// holds a seat (only in the reclaim window): a seat the restart may free.
// It visits every live lease: call it only in the reclaim window.
func (c *Core) HoldsExpired(product string, now time.Time) bool {
	for i := range c.live.recs {
		if c.live.recs[i].live && c.live.product(int32(i)) == product && c.expired(int32(i), now) {
			return true
		}
	}
	return false
}

// add makes l a live lease holding a seat (its own, or its computer's)
// and returns its record.
func (c *Core) add(l *Lease, perComputer bool) int32 {
	i := c.live.insert(l, perComputer)
	u := c.use[l.Product]
	if u == nil {
		u = &usage{}
		c.use[l.Product] = u
	}
	if perComputer {
		if u.computers == nil {
			u.computers = map[string]int{}
		}
		u.computers[c.live.computer(i)]++
	} else {
		u.sessions++
	}
	return i
}

// drop removes live lease i and frees its seat.
func (c *Core) drop(i int32, now time.Time, kind EventKind, detail string) Event {
	l := c.live.lease(i)
	if u := c.use[l.Product]; u != nil {
		if !c.live.recs[i].perComputer {
			u.sessions--
		} else if u.computers[l.ComputerName]--; u.computers[l.ComputerName] <= 0 {
			delete(u.computers, l.ComputerName)
		}
	}
	c.live.remove(i)
	return event(now, kind, &l, detail)
}

func event(now time.Time, k EventKind, l *Lease, detail string) Event {
	return Event{Time: now, Kind: k, Product: l.Product, LeaseID: l.ID, Session: l.ClientSessionID, User: l.UserName, Detail: detail}
}

// Renew extends a lease. Errors: ErrUnknownLease, ErrLost (with reason).
func (c *Core) Renew(id string, now time.Time) (Lease, []Event, error) {
	ev := c.enforceAll(now)
	if l, ok := c.lost[id]; ok {
		return Lease{}, ev, fmt.Errorf("%w: %s", ErrLost, l.Lost)
	}
	i, ok := c.live.byIDGet(id)
	if !ok {
		return Lease{}, ev, ErrUnknownLease
	}
	if c.expired(i, now) && !c.Reclaiming(now) {
		ev = append(ev, c.drop(i, now, EventExpire, "lease expired before it was renewed"))
		return Lease{}, ev, ErrUnknownLease
	}
	c.live.setExpires(i, now.Add(c.lifetime))
	l := c.live.lease(i)
	return l, append(ev, event(now, EventRenew, &l, "")), nil
}

// Release ends a lease. It reports false when there was no such lease
// (release is idempotent).
func (c *Core) Release(id string, now time.Time, detail string) (bool, []Event) {
	ev := c.enforceAll(now)
	if l, ok := c.lost[id]; ok {
		delete(c.lost, id)
		return true, append(ev, event(now, EventRelease, l, "lost lease released"))
	}
	i, ok := c.live.byIDGet(id)
	if !ok {
		return false, ev
	}
	return true, append(ev, c.drop(i, now, EventRelease, detail))
}

// Sweep reclaims expired leases (work proportional to what expires) and
// applies license expiry. Inside the reclaim window nothing expires.
func (c *Core) Sweep(now time.Time) []Event {
	ev := c.enforceAll(now)
	if c.Reclaiming(now) {
		return ev
	}
	c.live.expiring(toStamp(now), func(i int32) {
		ev = append(ev, c.drop(i, now, EventExpire, "not renewed"))
	})
	for c.lostExpiry.Len() > 0 && !now.Before(c.lostExpiry[0].at) {
		e := heap.Pop(&c.lostExpiry).(expiryEntry)
		if l, ok := c.lost[e.id]; ok && !now.Before(l.Expires) {
			delete(c.lost, e.id)
		}
	}
	return ev
}

// Restore loads leases after a restart and opens the reclaim window: for
// one lease lifetime from now, known leases may be renewed even if they
// expired while the server was down, and no seat they hold is handed to a
// new session. Leases of a product beyond its seats now are lost.
func (c *Core) Restore(leases []Lease, now time.Time) []Event {
	for i := range leases {
		l := leases[i]
		if l.Lost != "" {
			c.lost[l.ID] = &l
			c.lostExpiry.push(expiryEntry{l.Expires, l.ID})
			continue
		}
		if j, ok := c.live.byIDGet(l.ID); ok { // the same ID twice: the last counts
			c.drop(j, now, EventExpire, "")
		}
		cp := c.Capacity(l.Product, now)
		c.add(&l, cp.Unit == license.PerComputer)
	}
	c.reclaimUntil = now.Add(c.lifetime)
	return c.enforceAll(now)
}

// enforceAll applies enforce to every product with leases.
func (c *Core) enforceAll(now time.Time) []Event {
	var ev []Event
	for p := range c.use {
		ev = append(ev, c.enforce(p, now, "")...)
	}
	return ev
}

// enforce takes seats away, newest first, while product has more in use
// than licensed at now; the leases are remembered as lost.
func (c *Core) enforce(product string, now time.Time, why string) []Event {
	cp := c.Capacity(product, now)
	if c.InUse(product) <= cp.Seats {
		return nil
	}
	if why == "" {
		why = fmt.Sprintf("the licenses of %s now give %d seats (expired, revoked or removed)", product, cp.Seats)
	}
	ls := c.Leases(product)
	var ev []Event
	for i := len(ls) - 1; i >= 0 && c.InUse(product) > cp.Seats; i-- {
		r, ok := c.live.byIDGet(ls[i].ID)
		if !ok { // lost already, with a newer lease sharing its seat
			continue
		}
		if c.live.recs[r].perComputer {
			// Take away every lease sharing that seat.
			computer := c.live.computer(r)
			for j := i - 1; j >= 0; j-- {
				o, ok := c.live.byIDGet(ls[j].ID)
				if ok && c.live.recs[o].perComputer && c.live.computer(o) == computer {
					ev = append(ev, c.loseLease(o, now, why))
				}
			}
		}
		ev = append(ev, c.loseLease(r, now, why))
	}
	return ev
}

// loseLease takes live lease i away: it is remembered as lost, with why,
// until the session is told, releases it, or it expires.
func (c *Core) loseLease(i int32, now time.Time, why string) Event {
	l := c.live.lease(i)
	e := c.drop(i, now, EventLost, why)
	l.Lost = why
	c.lost[l.ID] = &l
	c.lostExpiry.push(expiryEntry{l.Expires, l.ID})
	return e
}

// Check verifies the core's invariants at now (for tests and the server's
// self-check): seats in use never exceed the seats licensed, no session
// holds two leases of one product, and the indexes agree.
func (c *Core) Check(now time.Time) error {
	var problems []string
	for p := range c.use {
		if n, cp := c.InUse(p), c.Capacity(p, now); n > cp.Seats {
			problems = append(problems, fmt.Sprintf("%s: %d seats in use, %d licensed", p, n, cp.Seats))
		}
	}
	perSession := map[sessionKey]int{}
	count := map[string]*usage{}
	live := 0
	for n := range c.live.recs {
		i := int32(n)
		r := &c.live.recs[i]
		if !r.live {
			continue
		}
		live++
		id, p, session := c.live.id(i), c.live.product(i), c.live.session(i)
		perSession[sessionKey{p, session}]++
		if j, ok := c.live.bySessGet(p, session); !ok || j != i {
			problems = append(problems, "session index out of step for "+id)
		}
		if j, ok := c.live.byIDGet(id); !ok || j != i {
			problems = append(problems, "ID index out of step for "+id)
		}
		if b := c.live.expiry[r.expires.sec]; int(r.at) >= len(b) || b[r.at] != i {
			problems = append(problems, "expiry order out of step for "+id)
		}
		u := count[p]
		if u == nil {
			u = &usage{computers: map[string]int{}}
			count[p] = u
		}
		if r.perComputer {
			u.computers[c.live.computer(i)]++
		} else {
			u.sessions++
		}
	}
	queued := 0
	for _, b := range c.live.expiry {
		queued += len(b)
	}
	if live != c.live.n || live != queued || len(c.live.expiry) != len(c.live.seconds) {
		problems = append(problems, fmt.Sprintf("%d live leases, the table counts %d, the expiry order %d in %d seconds (%d in its heap)",
			live, c.live.n, queued, len(c.live.expiry), len(c.live.seconds)))
	}
	for k, n := range perSession {
		if n > 1 {
			problems = append(problems, fmt.Sprintf("session %s holds %d leases of %s", k.session, n, k.product))
		}
	}
	for p, u := range c.use {
		want := count[p]
		if want == nil {
			want = &usage{}
		}
		if u.inUse() != want.inUse() || u.sessions != want.sessions {
			problems = append(problems, fmt.Sprintf("%s: seat index says %d seats, leases hold %d", p, u.inUse(), want.inUse()))
		}
		delete(count, p)
	}
	for p := range count {
		problems = append(problems, fmt.Sprintf("%s: leases hold seats the seat index does not count", p))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// expiryHeap orders lost leases' expiries; stale entries (a lease
// released) are skipped when popped.
type expiryEntry struct {
	at time.Time
	id string
}

type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryEntry)) }

// push is heap.Push without boxing e in an interface (an allocation for
// every renewal).
func (h *expiryHeap) push(e expiryEntry) {
	*h = append(*h, e)
	heap.Fix(h, len(*h)-1)
}
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

package seatstore

import (
	"context"
	"database/sql"
	"slices"
	"strings"

	"github.com/airseal/airseal/internal/seats"
)

// LeaseCache is a cluster node's copy of the stored leases, kept up to
// date by Postgres.LoadCached (issue 12, "Speed"): each call reads in full
// only the leases stored or changed since the last one, and the IDs and
// row versions of the others. The zero value is empty, ready to use; it is
// not safe for concurrent use.
type LeaseCache struct {
	byID map[string]*cachedLease
	// sorted holds the entries of byID in ID order (byte order).
	sorted []*cachedLease
	// gen numbers the calls; an entry seen by the current one has it.
	gen uint64
	// loads counts the calls since the last full read.
	loads int
}

// cachedLease is a lease and the row version it was read at: PostgreSQL's
// xmin, the transaction that wrote the row version, so an update (a
// renewal, a lost mark) or a delete and insert of the same ID gives
// another.
type cachedLease struct {
	ver  int64
	seen uint64
	l    seats.Lease
}

// leaseCacheFullEvery is how many LoadCached calls read only what changed
// between two full reads: a full read bounds how long any row version
// could be mistaken for another (xmin repeats after 2^32 transactions).
const leaseCacheFullEvery = 30

// LoadCached is Load with the leases brought up to date in c, which holds
// them between calls: in one snapshot it reads the licenses, tokens,
// devices and settings, the ID and row version of every lease, and in
// full only the leases whose version c does not hold; leases no longer
// stored leave c. The State is the one Load would return (the leases
// sorted by ID). On an error c is emptied: the next call reads in full.
func (p *Postgres) LoadCached(ctx context.Context, c *LeaseCache) (*State, error) {
	if err := p.check(ctx); err != nil {
		return nil, err
	}
	if c.byID == nil || c.loads >= leaseCacheFullEvery {
		*c = LeaseCache{gen: c.gen}
	}
	c.gen++
	st, err := p.loadWith(ctx, func(ctx context.Context, tx *sql.Tx, st *State) error {
		var err error
		if c.byID == nil {
			err = p.leasesFull(ctx, tx, c)
		} else {
			err = p.leasesChanged(ctx, tx, c)
		}
		if err != nil {
			return err
		}
		if len(c.sorted) > 0 {
			st.Leases = make([]seats.Lease, len(c.sorted))
			for i, e := range c.sorted {
				st.Leases[i] = e.l
			}
		}
		return nil
	})
	if err != nil {
		*c = LeaseCache{gen: c.gen}
		return nil, p.fail(ctx, "loading", err)
	}
	c.loads++
	return st, nil
}

// pgLeaseVersioned reads leases with their row version.
const pgLeaseVersioned = `SELECT ` + leaseCols + `, xmin::text::bigint FROM leases`

// leasesFull reads every lease into the empty c.
func (p *Postgres) leasesFull(ctx context.Context, tx *sql.Tx, c *LeaseCache) error {
	rows, err := tx.QueryContext(ctx, pgLeaseVersioned)
	if err != nil {
		return err
	}
	if c.sorted, err = scanVersioned(rows, c.gen); err != nil {
		return err
	}
	c.byID = make(map[string]*cachedLease, len(c.sorted))
	for _, e := range c.sorted {
		c.byID[e.l.ID] = e
	}
	return nil
}

// leasesChanged brings c up to date: the IDs and versions of every lease
// first, then in full the leases c lacks or holds at another version.
func (p *Postgres) leasesChanged(ctx context.Context, tx *sql.Tx, c *LeaseCache) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, xmin::text::bigint FROM leases`)
	if err != nil {
		return err
	}
	var changed []string
	for rows.Next() {
		var id sql.RawBytes
		var ver int64
		if err := rows.Scan(&id, &ver); err != nil {
			rows.Close()
			return err
		}
		if e := c.byID[string(id)]; e != nil && e.ver == ver {
			e.seen = c.gen
		} else {
			changed = append(changed, string(id))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var fresh []*cachedLease
	if len(changed) > 0 {
		rows, err = tx.QueryContext(ctx, pgLeaseVersioned+` WHERE id = ANY($1)`, changed)
		if err != nil {
			return err
		}
		if fresh, err = scanVersioned(rows, c.gen); err != nil {
			return err
		}
	}
	// Merge the entries still stored at their version with the fresh
	// ones, both in ID order; the others leave the index.
	out := make([]*cachedLease, 0, len(c.sorted)+len(fresh))
	i := 0
	for _, f := range fresh {
		for ; i < len(c.sorted) && c.sorted[i].l.ID < f.l.ID; i++ {
			out = keep(out, c, c.sorted[i])
		}
		out = append(out, f)
	}
	for ; i < len(c.sorted); i++ {
		out = keep(out, c, c.sorted[i])
	}
	for _, f := range fresh {
		c.byID[f.l.ID] = f
	}
	c.sorted = out
	return nil
}

// keep appends e to out when the current call saw it at its version, and
// takes it out of c's index otherwise (a fresh entry of the same ID, if
// any, is indexed after).
func keep(out []*cachedLease, c *LeaseCache, e *cachedLease) []*cachedLease {
	if e.seen == c.gen {
		return append(out, e)
	}
	if c.byID[e.l.ID] == e {
		delete(c.byID, e.l.ID)
	}
	return out
}

// scanVersioned returns the leases of rows (pgLeaseVersioned), marked
// seen by gen and sorted by ID, and closes rows.
func scanVersioned(rows *sql.Rows, gen uint64) ([]*cachedLease, error) {
	defer rows.Close()
	var out []*cachedLease
	for rows.Next() {
		e := &cachedLease{seen: gen}
		l, err := scanLease(rows, &e.ver)
		if err != nil {
			return nil, err
		}
		e.l = l
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b *cachedLease) int { return strings.Compare(a.l.ID, b.l.ID) })
	return out, nil
}

// scanLease scans a row of leaseCols, then extra.
func scanLease(rows *sql.Rows, extra ...any) (seats.Lease, error) {
	var l seats.Lease
	var started, granted, expires sql.NullInt64
	var mode, sk string
	dst := append([]any{&l.ID, &l.Product, &l.ClientSessionID, &l.AppName, &l.UserName, &l.ComputerName, &started,
		&mode, &granted, &expires, &l.Lost, &sk}, extra...)
	if err := rows.Scan(dst...); err != nil {
		return seats.Lease{}, err
	}
	l.Mode, l.SessionStarted, l.Granted, l.Expires = seats.Mode(mode), fromNanos(started), fromNanos(granted), fromNanos(expires)
	return l, nil
}

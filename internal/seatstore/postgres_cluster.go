package seatstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/airseal/airseal/internal/seats"
)

// Shared reports that several license-server nodes may commit to this
// store at once (issue 12): a server given a shared store decides every
// seat in the store (Grant, Renewal, SweepExpired) instead of in its own
// memory, which would count only its own clients.
func (p *Postgres) Shared() bool { return true }

// SweepExpired deletes every stored lease whose expiry is before before
// and logs an expiry event (at now, with detail) for each one that was
// not lost; lost leases past their expiry are dropped silently, as the
// core forgets them. It returns the live leases it reclaimed.
//
// It is safe to run on several nodes at once and idempotent: it runs in
// one transaction that first locks the seat_products rows of the
// products concerned, in product order (as every Commit that changes seat
// counts does), and the DELETE re-checks each lease's expiry under its row
// lock, so a lease renewed on another node meanwhile (a Renewal committed
// first) is kept, and a lease another sweep deleted first is not logged
// twice.
func (p *Postgres) SweepExpired(ctx context.Context, before, now time.Time, detail string) ([]seats.Lease, error) {
	if err := p.check(ctx); err != nil {
		return nil, err
	}
	var out []seats.Lease
	err := p.d.retry(func() (err error) {
		out, err = p.sweepOnce(ctx, before, now, detail)
		return err
	})
	if err != nil {
		return nil, p.fail(ctx, "reclaiming expired leases", err)
	}
	return out, nil
}

func (p *Postgres) sweepOnce(ctx context.Context, before, now time.Time, detail string) ([]seats.Lease, error) {
	ctx, cancel := context.WithTimeout(ctx, batchTimeout)
	defer cancel()
	cutoff := clampNanos(before)
	sqltx, err := p.rdb.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer sqltx.Rollback()
	tx := wtx{sqltx, p.sqlStore}
	if err := tx.exec(ctx, pgAsyncCommit); err != nil {
		return nil, err
	}
	var products []string
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT product FROM leases WHERE expires < $1`, cutoff)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var pr string
		if err := rows.Scan(&pr); err != nil {
			rows.Close()
			return nil, err
		}
		products = append(products, pr)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(products) == 0 {
		return nil, nil
	}
	slices.Sort(products)
	// Lock order: seat_products (sorted), leases, log_head, as tryBatch.
	if _, err := tx.ExecContext(ctx, `SELECT product FROM seat_products WHERE product = ANY($1) ORDER BY product FOR UPDATE`, products); err != nil {
		return nil, err
	}
	rows, err = tx.QueryContext(ctx, `DELETE FROM leases WHERE expires < $1 AND product = ANY($2) RETURNING `+leaseCols, cutoff, products)
	if err != nil {
		return nil, err
	}
	var gone []seats.Lease
	var holds []hold
	for rows.Next() {
		var l seats.Lease
		var started, granted, expires sql.NullInt64
		var mode, sk string
		if err := rows.Scan(&l.ID, &l.Product, &l.ClientSessionID, &l.AppName, &l.UserName, &l.ComputerName, &started,
			&mode, &granted, &expires, &l.Lost, &sk); err != nil {
			rows.Close()
			return nil, err
		}
		l.Mode, l.SessionStarted, l.Granted, l.Expires = seats.Mode(mode), fromNanos(started), fromNanos(granted), fromNanos(expires)
		gone = append(gone, l)
		holds = append(holds, hold{id: l.ID, product: l.Product, seatKey: sk, lost: l.Lost, exists: true})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var events []seats.Event
	var live []seats.Lease
	for i, h := range holds {
		if err := h.release(ctx, tx); err != nil {
			return nil, err
		}
		if l := gone[i]; l.Lost == "" {
			live = append(live, l)
			events = append(events, seats.Event{Time: now, Kind: seats.EventExpire, Product: l.Product, LeaseID: l.ID,
				Session: l.ClientSessionID, User: l.UserName, Detail: detail})
		}
	}
	if len(events) > 0 {
		if err := p.appendEvents(ctx, tx, events); err != nil {
			return nil, fmt.Errorf("logging the expiries: %w", err)
		}
	}
	if err := sqltx.Commit(); err != nil {
		return nil, err
	}
	if _, err := p.rdb.ExecContext(ctx, pgFlush); err != nil {
		return nil, fmt.Errorf("%w: %w", errUnknownOutcome, err)
	}
	return live, nil
}

// renewStored sets a Renewal's expiry, refused as unknown when the UPDATE
// finds no row: on PostgreSQL, a sweep or release on another node may
// delete the lease between the read of its lost mark and the UPDATE (the
// UPDATE then waits for that transaction and skips the deleted row), and
// acknowledging the renewal would hand the session a seat nothing counts.
func renewStored(ctx context.Context, tx wtx, r Renewal) error {
	var res sql.Result
	var err error
	if st := tx.stmt(ctx, qLeaseRenew); st != nil {
		res, err = st.ExecContext(ctx, r.ID, nanos(r.Expires))
	} else {
		res, err = tx.Tx.ExecContext(ctx, qLeaseRenew, r.ID, nanos(r.Expires))
	}
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return renewRefused(r.ID, false, "")
	}
	return nil
}

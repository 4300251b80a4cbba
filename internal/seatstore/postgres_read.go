package seatstore

import (
	"context"
	"errors"
	"time"

	"github.com/airseal/airseal/internal/seats"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// pgLeaseRead reads one lease by ID.
const pgLeaseRead = `SELECT ` + leaseCols + ` FROM leases WHERE id = $1`

// Lease implements Store. A cluster node reads a lease before each
// checkout, renewal and release (issue 12, "Speed"): the query goes to pgx
// directly, without database/sql's per-query goroutine and conversions.
func (p *Postgres) Lease(ctx context.Context, id string) (seats.Lease, bool, error) {
	if err := p.check(ctx); err != nil {
		return seats.Lease{}, false, err
	}
	var l seats.Lease
	found := false
	conn, err := p.rdb.Conn(ctx)
	if err == nil {
		err = conn.Raw(func(dc any) error {
			sc, ok := dc.(*stdlib.Conn)
			if !ok {
				return errors.New("not a pgx connection")
			}
			var started, granted, expires *int64
			var mode, sk string
			err := sc.Conn().QueryRow(ctx, pgLeaseRead, id).Scan(&l.ID, &l.Product, &l.ClientSessionID,
				&l.AppName, &l.UserName, &l.ComputerName, &started, &mode, &granted, &expires, &l.Lost, &sk)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				return nil
			case err != nil:
				return err
			}
			found = true
			l.Mode, l.SessionStarted, l.Granted, l.Expires = seats.Mode(mode), pgTime(started), pgTime(granted), pgTime(expires)
			return nil
		})
		conn.Close()
	}
	if err != nil {
		return seats.Lease{}, false, p.fail(ctx, "reading lease "+id, err)
	}
	if !found {
		return seats.Lease{}, false, nil
	}
	return l, true, nil
}

// pgTime is a stored time (Unix nanoseconds, NULL for the zero time).
func pgTime(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}

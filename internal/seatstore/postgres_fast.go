package seatstore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL's checkout path (issue 12, "Speed"): a batch of Commits that
// only grant new leases by session (and log events) runs in two round
// trips instead of about a dozen sequential statements, which matters
// because two nodes granting one product take turns on its seat_products
// row lock, held from the first statement to the COMMIT:
//
//  1. BEGIN; lock the products' rows in product order and read their
//     seat counts; read which of the leases are stored already; lock and
//     read the usage log's head — one pipelined batch;
//  2. the seat decisions are taken here from those counts, exactly as
//     checkGrant takes them statement by statement (a lease counts one
//     seat, refused when the product's seats in use reach the capacity,
//     a refused Commit keeps nothing of its own), then the leases, the
//     new counts, the chained events, the head and COMMIT go in a second
//     pipelined batch.
//
// The lock order is the slow path's (seat_products sorted, then leases,
// then log_head), so the two paths and SweepExpired never deadlock each
// other. A batch with anything else (a lease stored already, a seat key
// other than the session's own, a lost lease, any other change) takes the
// general path, statement by statement.

// pgLockCounts locks the products' rows and reads their counts.
const pgLockCounts = `SELECT product, in_use FROM seat_products WHERE product = ANY($1) ORDER BY product FOR UPDATE`

// pgLeasesStored returns which of the lease IDs are stored.
const pgLeasesStored = `SELECT id FROM leases WHERE id = ANY($1)`

// pgProductAdd adds to a product's seats in use.
const pgProductAdd = `UPDATE seat_products SET in_use = in_use + $2 WHERE product = $1`

// errSlowPath: the batch needs the general path (nothing was written).
var errSlowPath = errors.New("seatstore: batch needs the general path")

// pgFastEligible reports whether c only grants new per-session seats and
// logs events.
func pgFastEligible(c *Change) bool {
	if len(c.PutLicenses)+len(c.DeleteLicenses)+len(c.PutLeases)+len(c.DeleteLeases)+len(c.Renewals)+
		len(c.PutTokens)+len(c.DeleteTokens)+len(c.PutDevices)+len(c.DeleteDevices)+len(c.Settings) > 0 {
		return false
	}
	for i := range c.Grants {
		g := &c.Grants[i]
		if g.Lease.Lost != "" || g.seatKey() != "s:"+g.Lease.ID {
			return false
		}
	}
	return true
}

// pgFastBatch runs batch in two round trips when every Commit of it is
// pgFastEligible; it reports false (having written nothing) when the batch
// needs the general path.
func pgFastBatch(ctx context.Context, s *sqlStore, batch []*request, results []error) (bool, error) {
	var products, ids []string
	nev := 0
	for _, r := range batch {
		if !pgFastEligible(r.c) {
			return false, nil
		}
		for i := range r.c.Grants {
			products = append(products, r.c.Grants[i].Lease.Product)
			ids = append(ids, r.c.Grants[i].Lease.ID)
		}
		nev += len(r.c.Events)
	}
	if nev == 0 && len(ids) == 0 {
		return false, nil
	}
	slices.Sort(products)
	products = slices.Compact(products)
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	if len(slices.Compact(sorted)) != len(ids) {
		return false, nil // one lease granted twice in the batch
	}
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	handled := false
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return errSlowPath
		}
		pc := sc.Conn()
		var ferr error
		handled, ferr = pgFastTx(ctx, pc, batch, results, products, ids, nev)
		if ferr != nil || !handled {
			// Leave the connection outside any transaction; one that
			// cannot roll back is broken and dropped from the pool.
			if _, rerr := pc.Exec(context.Background(), "ROLLBACK"); rerr != nil && !pc.IsClosed() {
				_ = pc.Close(context.Background())
			}
		}
		return ferr
	})
	if errors.Is(err, errSlowPath) {
		return false, nil
	}
	if err != nil {
		clear(results)
		return true, err
	}
	return handled, nil
}

func pgFastTx(ctx context.Context, pc *pgx.Conn, batch []*request, results []error, products, ids []string, nev int) (bool, error) {
	// Round trip 1: lock and read.
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	if len(products) > 0 {
		b.Queue(pgLockCounts, products)
		b.Queue(pgLeasesStored, ids)
	}
	if nev > 0 {
		b.Queue(qHeadSelect + " FOR UPDATE")
	}
	br := pc.SendBatch(ctx, b)
	inUse := map[string]int64{}
	var next int64
	var head []byte
	err := func() error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		if len(products) > 0 {
			rows, err := br.Query()
			if err != nil {
				return err
			}
			for rows.Next() {
				var p string
				var n int64
				if err := rows.Scan(&p, &n); err != nil {
					rows.Close()
					return err
				}
				inUse[p] = n
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			rows, err = br.Query()
			if err != nil {
				return err
			}
			stored := rows.Next()
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if stored {
				return errSlowPath
			}
		}
		if nev > 0 {
			if err := br.QueryRow().Scan(&next, &head); err != nil {
				return fmt.Errorf("reading the usage log head: %w", err)
			}
		}
		return nil
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, errSlowPath) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, p := range products {
		if _, ok := inUse[p]; !ok {
			return false, nil // no seat_products row (deleted by hand meanwhile)
		}
	}

	// The seat decisions, Commit by Commit in batch order.
	added := map[string]int64{}
	b = &pgx.Batch{}
	var events []LoggedEvent
	var prev [32]byte
	if nev > 0 {
		if len(head) != 0 && len(head) != 32 {
			return false, fmt.Errorf("usage log head hash has %d bytes, want 32: the database was changed by hand", len(head))
		}
		copy(prev[:], head)
	}
	for i, r := range batch {
		mine := map[string]int64{}
		for j := range r.c.Grants {
			g := &r.c.Grants[j]
			p := g.Lease.Product
			if n := inUse[p] + added[p] + mine[p]; n >= int64(g.Seats) {
				results[i] = noSeat(p, int(n), g.Seats)
				break
			}
			mine[p]++
		}
		if results[i] != nil {
			continue
		}
		for p, n := range mine {
			added[p] += n
		}
		for j := range r.c.Grants {
			g := &r.c.Grants[j]
			b.Queue(qGrantUpsert, leaseArgs(&g.Lease, g.seatKey())...)
		}
		for _, e := range r.c.Events {
			le := LoggedEvent{Seq: next, Event: e}
			le.Hash = ChainHash(prev, le)
			prev = le.Hash
			next++
			events = append(events, le)
		}
	}
	for _, p := range products {
		if n := added[p]; n > 0 {
			b.Queue(pgProductAdd, p, n)
		}
	}
	for rest := events; len(rest) > 0; {
		n := min(len(rest), eventsPerStmt)
		args := make([]any, 0, n*9)
		for _, le := range rest[:n] {
			args = append(args, le.Seq, le.Time.UnixNano(), string(le.Kind), le.Product, le.LeaseID, le.Session, le.User, le.Detail, le.Hash[:])
		}
		b.Queue(eventInsert(n), args...)
		rest = rest[n:]
	}
	if len(events) > 0 {
		b.Queue(qHeadUpdate, next, prev[:])
	}
	b.Queue("COMMIT")

	// Round trip 2: write and commit.
	br = pc.SendBatch(ctx, b)
	err = nil
	for k, q := range b.QueuedQueries {
		ct, xerr := br.Exec()
		switch {
		case xerr != nil:
			err = xerr
		case q.SQL == pgProductAdd && ct.RowsAffected() != 1:
			err = fmt.Errorf("seat counts out of step: seat_products lacks the row of %v (the database was changed by hand)", q.Arguments[0])
		case k == b.Len()-1 && ct.String() != "COMMIT":
			err = fmt.Errorf("COMMIT answered %q: nothing of the batch is stored", ct.String())
		}
		if err != nil {
			break
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

package seatstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL's checkout path (issue 12, "Speed"): a batch of Commits that
// only grant new leases by session (and log events) runs in two round
// trips instead of about a dozen sequential statements, which matters
// because two nodes granting one product take turns on its seat_products
// row lock, held from the first statement to the COMMIT:
//
//  1. BEGIN; lock the products' rows in product order and read their
//     seat counts; lock and read the usage log's head — one pipelined
//     batch;
//  2. Commits queued meanwhile (while this node waited for the other's
//     lock) that only grant seats of the products now locked join the
//     batch: fewer, fuller turns at the lock;
//  3. when the counts leave a seat for every grant (a new lease counts
//     one seat; checkGrant's rule), the leases (a plain INSERT: a lease
//     stored already fails it), the new counts, the chained events, the
//     head and COMMIT go in a second pipelined batch. A lease stored
//     already or a grant without a free seat rolls the transaction back
//     and the batch takes the general path, which decides re-grants and
//     refusals statement by statement (a Grant with New of a stored lease
//     ends there as ErrLeaseExists for its own Commit only).
//
// The lock order is the slow path's (seat_products sorted, then leases,
// then log_head), so the two paths and SweepExpired never deadlock each
// other. A batch with anything else (a lease stored already, a seat key
// other than the session's own, a lost lease, any other change) takes the
// general path, statement by statement.

// pgLockCounts locks the products' rows and reads their counts.
const pgLockCounts = `SELECT product, in_use FROM seat_products WHERE product = ANY($1) ORDER BY product FOR UPDATE`

// pgLeaseInserts[n] stores n granted leases in one statement, failing
// when an ID is stored (1 <= n <= leasesPerStmt).
var pgLeaseInserts = func() (qs [leasesPerStmt + 1]string) {
	for n := 1; n <= leasesPerStmt; n++ {
		var q strings.Builder
		q.WriteString(`INSERT INTO leases (` + leaseCols + `) VALUES `)
		for i := range n {
			if i > 0 {
				q.WriteByte(',')
			}
			k := 12 * i
			fmt.Fprintf(&q, "($%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d)", k+1, k+2, k+3, k+4, k+5, k+6, k+7, k+8, k+9, k+10, k+11, k+12)
		}
		qs[n] = q.String()
	}
	return qs
}()

// leasesPerStmt is the most leases one INSERT stores (PostgreSQL caches
// each statement's plan once per connection).
const leasesPerStmt = 16

// pgLeaseInsert reports whether q is one of pgLeaseInserts.
func pgLeaseInsert(q string) bool { return strings.HasPrefix(q, `INSERT INTO leases `) }

// pgProductAdd adds to a product's seats in use.
const pgProductAdd = `UPDATE seat_products SET in_use = in_use + $2 WHERE product = $1`

// pgAsyncCommit makes the transaction's COMMIT return, and release its
// row locks, without waiting for the WAL flush; pgFlush, run after it on
// the same connection, then waits for a flush that covers it (its own
// commit record comes later in the WAL) before anything is acknowledged.
// The seat_products and log_head rows every grant locks are thus held
// for the statements only, not for the fsync: the other nodes' grants
// run meanwhile and PostgreSQL flushes the nodes' commits together.
// Nothing is acknowledged earlier than before; a transaction another
// node saw before the flush is in the WAL before anything that node
// writes after seeing it, so a crash loses the two together or neither.
// pgFlush writes a transactional logical-decoding message (a few bytes
// of WAL, no table; executable by every role): a transaction that wrote
// WAL commits with the session's synchronous_commit, as every write
// transaction did before.
const (
	pgAsyncCommit = `SET LOCAL synchronous_commit TO off`
	pgFlush       = `SELECT pg_logical_emit_message(true, 'airseal', 'flush')`
)

// errUnknownOutcome: the transaction committed but the flush that makes
// it durable failed (the connection or the database went away): it may
// or may not be stored. A Grant of the same lease retried later finds it
// if it is.
var errUnknownOutcome = errors.New("committed, but PostgreSQL did not confirm the commit is durable: the commit's outcome is not known")

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
// needs the general path. Commits it took from the queue itself are
// answered here, or committed as a batch of their own when the fast
// transaction did not store them.
func pgFastBatch(ctx context.Context, s *sqlStore, batch []*request, results []error) (bool, error) {
	var products []string
	ids := map[string]bool{}
	for _, r := range batch {
		if !pgFastEligible(r.c) {
			s.pg.general.Add(1)
			return false, nil
		}
		for i := range r.c.Grants {
			g := &r.c.Grants[i]
			if ids[g.Lease.ID] {
				s.pg.general.Add(1)
				return false, nil // one lease granted twice in the batch
			}
			ids[g.Lease.ID] = true
			products = append(products, g.Lease.Product)
		}
	}
	slices.Sort(products)
	products = slices.Compact(products)
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return false, err
	}
	ft := &pgFast{s: s, batch: batch, products: products, ids: ids}
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return errSlowPath
		}
		pc := sc.Conn()
		ferr := ft.run(ctx, pc)
		if ferr != nil || !ft.committed {
			// Leave the connection outside any transaction; one that
			// cannot roll back is broken and dropped from the pool.
			if _, rerr := pc.Exec(context.Background(), "ROLLBACK"); rerr != nil && !pc.IsClosed() {
				_ = pc.Close(context.Background())
			}
		}
		return ferr
	})
	conn.Close()
	later := ft.later
	if !ft.committed && !ft.unknown {
		later = append(ft.joined, later...)
	}
	if len(later) > 0 {
		s.commitBatch(later)
	}
	if errors.Is(err, errSlowPath) {
		s.pg.general.Add(1)
		return false, nil
	}
	if err != nil {
		return true, err
	}
	if ft.committed {
		s.pg.fast.Add(1)
	} else {
		s.pg.general.Add(1)
	}
	return ft.committed, nil
}

// pgFast is one fast transaction.
type pgFast struct {
	s        *sqlStore
	batch    []*request
	products []string        // locked, sorted
	ids      map[string]bool // lease IDs granted in the transaction
	// joined are Commits taken from the queue once the products were
	// locked, answered when the transaction commits; later are Commits
	// taken that do not fit, committed after it.
	joined, later []*request
	committed     bool
	// unknown: COMMIT answered but the flush failed; the joined Commits
	// are answered with the error, not run again.
	unknown bool
}

func (f *pgFast) run(ctx context.Context, pc *pgx.Conn) error {
	// Round trip 1: lock and read.
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(pgAsyncCommit)
	if len(f.products) > 0 {
		b.Queue(pgLockCounts, f.products)
	}
	b.Queue(qHeadSelect + " FOR UPDATE")
	f.s.pg.trips.Add(1)
	f.s.pg.stmts.Add(int64(b.Len()))
	br := pc.SendBatch(ctx, b)
	inUse := map[string]int64{}
	var next int64
	var head []byte
	err := func() error {
		for range 2 { // BEGIN, SET LOCAL
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		if len(f.products) > 0 {
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
		}
		if err := br.QueryRow().Scan(&next, &head); err != nil {
			return fmt.Errorf("reading the usage log head: %w", err)
		}
		return nil
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if len(inUse) != len(f.products) {
		return errSlowPath // no seat_products row (deleted by hand meanwhile)
	}
	if len(head) != 0 && len(head) != 32 {
		return fmt.Errorf("usage log head hash has %d bytes, want 32: the database was changed by hand", len(head))
	}
	f.join(inUse)

	// The seat decisions, Commit by Commit in batch order.
	// Every grant must find a free seat: a refusal is decided by the
	// general path, which knows whether the lease is stored already (a
	// retried grant counts its own seat as free).
	reqs := append(f.batch[:len(f.batch):len(f.batch)], f.joined...)
	added := map[string]int64{}
	b = &pgx.Batch{}
	var events []LoggedEvent
	var leases []any // 12 arguments per lease
	var prev [32]byte
	copy(prev[:], head)
	for _, r := range reqs {
		for j := range r.c.Grants {
			g := &r.c.Grants[j]
			p := g.Lease.Product
			if inUse[p]+added[p] >= int64(g.Seats) {
				return errSlowPath
			}
			added[p]++
		}
		for j := range r.c.Grants {
			g := &r.c.Grants[j]
			leases = append(leases, leaseArgs(&g.Lease, g.seatKey())...)
		}
		for _, e := range r.c.Events {
			le := LoggedEvent{Seq: next, Event: e}
			le.Hash = ChainHash(prev, le)
			prev = le.Hash
			next++
			events = append(events, le)
		}
	}
	for rest := leases; len(rest) > 0; {
		n := min(len(rest)/12, leasesPerStmt)
		b.Queue(pgLeaseInserts[n], rest[:12*n]...)
		rest = rest[12*n:]
	}
	for _, p := range f.products {
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
	b.Queue(pgFlush)

	// Round trip 2: write, commit (the locks are released here), flush
	// (durable from here).
	f.s.pg.trips.Add(1)
	f.s.pg.stmts.Add(int64(b.Len()))
	br = pc.SendBatch(ctx, b)
	err = nil
	for k, q := range b.QueuedQueries {
		ct, xerr := br.Exec()
		switch {
		case xerr != nil && k == b.Len()-1:
			f.unknown = true
			err = fmt.Errorf("%w: %w", errUnknownOutcome, xerr)
		case xerr != nil:
			err = xerr
			var pe *pgconn.PgError
			if pgLeaseInsert(q.SQL) && errors.As(xerr, &pe) && pe.Code == "23505" {
				err = errSlowPath // a lease stored already: the general path re-grants it, or refuses a Grant with New
			}
		case q.SQL == pgProductAdd && ct.RowsAffected() != 1:
			err = fmt.Errorf("seat counts out of step: seat_products lacks the row of %v (the database was changed by hand)", q.Arguments[0])
		case k == b.Len()-2 && ct.String() != "COMMIT":
			err = fmt.Errorf("COMMIT answered %q: nothing of the batch is stored", ct.String())
		}
		if err != nil {
			break
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
		if err != nil {
			f.unknown = true // after COMMIT answered: the flush's Sync failed
			err = fmt.Errorf("%w: %w", errUnknownOutcome, err)
		}
	}
	if f.unknown {
		for _, r := range f.joined {
			r.err <- fmt.Errorf("seatstore: %s: %w", f.s.name, err)
		}
		return err
	}
	if err != nil {
		return err
	}
	f.committed = true
	for _, r := range f.joined {
		r.err <- nil
	}
	return nil
}

// join takes the Commits queued now, up to the batch limit: those that
// only grant new per-session seats of the products locked (inUse) join
// the transaction, the others are committed after it.
func (f *pgFast) join(inUse map[string]int64) {
	room := int(f.s.maxBatch.Load()) - len(f.batch)
	for room > 0 {
		var r *request
		select {
		case q, ok := <-f.s.reqs:
			if !ok {
				return
			}
			r = q
		default:
			return
		}
		if !r.state.CompareAndSwap(reqQueued, reqTaken) {
			continue // its caller gave up before it was taken
		}
		room--
		if f.fits(r.c, inUse) {
			f.joined = append(f.joined, r)
		} else {
			f.later = append(f.later, r)
		}
	}
}

func (f *pgFast) fits(c *Change, inUse map[string]int64) bool {
	if !pgFastEligible(c) {
		return false
	}
	mine := map[string]bool{}
	for i := range c.Grants {
		g := &c.Grants[i]
		if _, ok := inUse[g.Lease.Product]; !ok || f.ids[g.Lease.ID] || mine[g.Lease.ID] {
			return false
		}
		mine[g.Lease.ID] = true
	}
	maps.Copy(f.ids, mine)
	return true
}

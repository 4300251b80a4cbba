package seatstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airseal/airseal/internal/devices"
	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/pkg/license"
)

// dialect is what differs between the SQL databases.
type dialect struct {
	name string // "sqlite", "postgres": picks migration files
	// forUpdate is appended to a SELECT of a row the transaction will
	// update ("" where the transaction holds the whole database).
	forUpdate string
	// migrateLock, when set, runs first in the migration transaction so
	// that nodes starting together migrate one after the other.
	migrateLock string
	// lockProducts: Grants lock their product's seat_products row (several
	// writers); SQLite's writer holds the database lock instead.
	lockProducts bool
	// loadTx are the options of the transaction Load reads in.
	loadTx *sql.TxOptions
	// cacheStmts: the writer keeps its statements prepared (SQLite; pgx
	// caches them itself), with $N parameters in order written as ?
	// (positional: the driver binds them without looking up each name).
	cacheStmts bool
	// localWrites: the writer's statements run without the batch timeout,
	// uncancellable, which spares the driver a watcher goroutine per
	// statement (SQLite: a local file, its lock waits bounded by the busy
	// timeout). A database across the network keeps the timeout.
	localWrites bool
	// ownTx: the writer keeps one connection and runs its transactions as
	// BEGIN IMMEDIATE ... COMMIT statements on it, its statements prepared
	// on that connection (SQLite): no database/sql Tx, which re-binds
	// every prepared statement to the transaction and watches each query
	// with a goroutine.
	ownTx bool
	// retryable reports a transaction the database aborted to keep
	// transactions apart (deadlock, serialization failure): the batch is
	// run again.
	retryable func(error) bool
	// asyncCommit, when set, runs first in each write transaction and
	// flush after its COMMIT, before the Commits are answered
	// (PostgreSQL: pgAsyncCommit, pgFlush): the transaction's row locks
	// are released before the fsync.
	asyncCommit, flush string
	// fastBatch, when set, is tried first for each batch (after the
	// products' rows exist): it reports false, having written nothing,
	// when the batch needs the general path (PostgreSQL: pgFastBatch).
	fastBatch func(ctx context.Context, s *sqlStore, batch []*request, results []error) (bool, error)
}

// maxBatch bounds how many Commits share one transaction.
const maxBatch = 256

// batchTimeout bounds one attempt at a batch: a node cut off from its
// database fails its Commits instead of hanging.
const batchTimeout = 15 * time.Second

// sqlStore is a Store over database/sql with group commit: Commits queue
// to one writer goroutine, which commits every Commit waiting at that
// moment in one transaction (one fsync) and hands each its own result.
type sqlStore struct {
	d    *dialect
	name string  // the file or the redacted URL, for messages
	wdb  *sql.DB // the writer's
	rdb  *sql.DB // Load and Events (may be wdb)

	reqs   chan *request
	mu     sync.RWMutex // guards closed, sending on reqs and CommitNow
	wmu    sync.Mutex   // one batch at a time: the writer's or CommitNow's
	closed bool
	done   chan struct{}
	once   sync.Once

	products map[string]bool // seat_products rows known to exist (writer only)
	batches  atomic.Int64    // transactions committed (tests, benchmarks)
	maxBatch atomic.Int32
	stmts    map[string]*sql.Stmt // prepared on wdb or wconn (writer only)
	wconn    *sql.Conn            // the writer's connection (ownTx; writer only)
	pg       pgCounters           // PostgreSQL's round trips and statements

	// jr, when set (SQLite), journals the batches and folds them into the
	// database (sqlite_journal.go); reads fold first.
	jr *journal
}

type request struct {
	c     *Change
	state atomic.Int32 // reqQueued, reqTaken, reqCancelled
	err   chan error
}

const (
	reqQueued int32 = iota
	reqTaken
	reqCancelled
)

func newSQLStore(d *dialect, name string, wdb, rdb *sql.DB) *sqlStore {
	s := &sqlStore{d: d, name: name, wdb: wdb, rdb: rdb, reqs: make(chan *request, maxBatch),
		done: make(chan struct{}), products: map[string]bool{},
		stmts: map[string]*sql.Stmt{}}
	s.maxBatch.Store(maxBatch)
	go s.writer()
	return s
}

// Commit implements Store.
func (s *sqlStore) Commit(ctx context.Context, c Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validate(&c); err != nil {
		return err
	}
	if c.Empty() {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if s.closed {
			return ErrClosed
		}
		return nil
	}
	r := &request{c: &c, err: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	s.mu.RUnlock()
	select {
	case err := <-r.err:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqCancelled) {
			return ctx.Err() // never taken into a batch: nothing stored
		}
		return <-r.err // in a transaction already: its outcome
	}
}

// CommitNow is Commit run in the caller's goroutine, as a transaction of
// its own: for a caller that groups changes itself (the seat server's
// committer), it saves the hand-off to the writer goroutine and back, two
// wake-ups on the path of every acknowledged request. It waits while the
// writer runs a batch.
func (s *sqlStore) CommitNow(ctx context.Context, c Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validate(&c); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	if c.Empty() {
		return nil
	}
	r := &request{c: &c, err: make(chan error, 1)}
	r.state.Store(reqTaken)
	s.run([]*request{r})
	return <-r.err
}

// Batches returns how many transactions the writer has committed: with
// group commit, fewer than the Commits.
func (s *sqlStore) Batches() int64 { return s.batches.Load() }

// SetMaxBatch sets how many Commits may share one transaction, from 1
// (group commit off: one transaction and one fsync per Commit, for
// benchmarks) to 256 (the default).
func (s *sqlStore) SetMaxBatch(n int) { s.maxBatch.Store(int32(max(1, min(n, maxBatch)))) }

func (s *sqlStore) writer() {
	defer close(s.done)
	var batch []*request
	for r := range s.reqs {
		batch = append(batch[:0], r)
	drain:
		for limit := int(s.maxBatch.Load()); len(batch) < limit; {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		live := batch[:0]
		for _, r := range batch {
			if r.state.CompareAndSwap(reqQueued, reqTaken) {
				live = append(live, r)
			}
		}
		if len(live) > 0 {
			s.run(live)
		}
	}
}

// run commits batch: through the journal when there is one.
func (s *sqlStore) run(batch []*request) {
	if s.jr != nil {
		s.jr.commit(batch)
		return
	}
	s.wmu.Lock()
	s.commitBatch(batch)
	s.wmu.Unlock()
}

// synced returns nil once the database holds every change acknowledged
// before it was called (the journal folded).
func (s *sqlStore) synced(ctx context.Context) error {
	if s.jr == nil {
		return nil
	}
	return s.jr.sync(ctx)
}

// retry runs f again while it fails with an error d.retryable says is
// worth another try (a transaction the database aborted to keep its
// guarantees, SQLite's BUSY answered without waiting for the busy
// timeout): at most 20 more times, for at most batchTimeout, waiting a
// millisecond longer each time.
func (d *dialect) retry(f func() error) error {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		err := f()
		if err == nil || d.retryable == nil || !d.retryable(err) || attempt == 20 || time.Since(start) > batchTimeout {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * time.Millisecond)
	}
}

func (s *sqlStore) commitBatch(batch []*request) {
	results := make([]error, len(batch))
	err := s.d.retry(func() error {
		clear(results)
		return s.tryBatch(batch, results)
	})
	if err == nil {
		s.batches.Add(1)
	}
	for i, r := range batch {
		if errors.Is(err, errUnknownOutcome) {
			r.err <- fmt.Errorf("seatstore: %s: %w", s.name, err)
		} else if err != nil {
			r.err <- fmt.Errorf("seatstore: %s: commit failed, nothing of it is stored: %w", s.name, err)
		} else {
			r.err <- results[i]
		}
	}
}

// wtx is the writer's transaction: statements are prepared once per
// store where the dialect wants it.
type wtx struct {
	*sql.Tx // nil with ownTx: the transaction is on s.wconn
	s       *sqlStore
}

// stmt returns q prepared on the writer's connection, or nil where it is
// not (prepare outside a transaction: the writer's pool has one
// connection, which the transaction holds).
func (t wtx) stmt(ctx context.Context, q string) *sql.Stmt {
	if st, ok := t.s.stmts[q]; ok {
		if t.Tx == nil {
			return st
		}
		return t.Tx.StmtContext(ctx, st)
	}
	return nil
}

// Statements of the writer's own transactions (ownTx).
const (
	qBegin    = `BEGIN IMMEDIATE`
	qCommit   = `COMMIT`
	qRollback = `ROLLBACK`
)

// writerConn returns the writer's connection (ownTx), taken from wdb once.
func (s *sqlStore) writerConn(ctx context.Context) (*sql.Conn, error) {
	if s.wconn == nil {
		c, err := s.wdb.Conn(ctx)
		if err != nil {
			return nil, err
		}
		s.wconn = c
	}
	return s.wconn, nil
}

// prepare caches the writer's statements (outside a transaction).
func (s *sqlStore) prepare(ctx context.Context, qs ...string) error {
	if !s.d.cacheStmts {
		return nil
	}
	for _, q := range qs {
		if _, ok := s.stmts[q]; ok {
			continue
		}
		var st *sql.Stmt
		var err error
		if s.d.ownTx {
			var c *sql.Conn
			if c, err = s.writerConn(ctx); err == nil {
				st, err = c.PrepareContext(ctx, positional(q))
			}
		} else {
			st, err = s.wdb.PrepareContext(ctx, positional(q))
		}
		if err != nil {
			return err
		}
		s.stmts[q] = st
	}
	return nil
}

// positional returns q with its parameters $1, $2, ... written as ? when
// each appears once and in that order, else q unchanged.
func positional(q string) string {
	var out strings.Builder
	next, quoted := 1, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c == '\'' {
			quoted = !quoted
		}
		if c != '$' || quoted {
			out.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(q) && q[j] >= '0' && q[j] <= '9' {
			j++
		}
		if n, err := strconv.Atoi(q[i+1 : j]); err != nil || n != next {
			return q
		}
		next++
		out.WriteByte('?')
		i = j - 1
	}
	return out.String()
}

func (t wtx) exec(ctx context.Context, q string, args ...any) error {
	_, err := t.execN(ctx, q, args...)
	return err
}

// execN runs q and returns how many rows it changed.
func (t wtx) execN(ctx context.Context, q string, args ...any) (int64, error) {
	var res sql.Result
	var err error
	if st := t.stmt(ctx, q); st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		if t.Tx == nil {
			res, err = t.s.wconn.ExecContext(ctx, q, args...)
		} else {
			res, err = t.Tx.ExecContext(ctx, q, args...)
		}
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t wtx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	if t.Tx == nil {
		return t.s.wconn.QueryRowContext(ctx, q, args...)
	}
	return t.Tx.QueryRowContext(ctx, q, args...)
}

// tryBatch runs batch in one transaction. A refused Grant rolls back to
// its Commit's savepoint and is reported in results; any other error
// fails the whole batch.
func (s *sqlStore) tryBatch(batch []*request, results []error) error {
	ctx := context.Background()
	if !s.d.localWrites {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, batchTimeout)
		defer cancel()
	}
	// Products whose seat counts this batch may change (several writers).
	var products, deleted []string
	if s.d.lockProducts {
		for _, r := range batch {
			for _, g := range r.c.Grants {
				products = append(products, g.Lease.Product)
			}
			for _, l := range r.c.PutLeases {
				products = append(products, l.Product)
			}
			deleted = append(deleted, r.c.DeleteLeases...)
		}
		for _, p := range products {
			if s.products[p] {
				continue
			}
			if _, err := s.wdb.ExecContext(ctx, qProductEnsure, p); err != nil {
				return err
			}
			s.products[p] = true
		}
	}
	if s.d.fastBatch != nil {
		if ok, err := s.d.fastBatch(ctx, s, batch, results); ok || err != nil {
			return err
		}
	}
	nev := 0
	for _, r := range batch {
		nev += len(r.c.Events)
	}
	qs := append(writerQueries[:len(writerQueries):len(writerQueries)], qHeadSelect+s.d.forUpdate)
	if nev >= eventsPerStmt {
		qs = append(qs, eventInsert(eventsPerStmt))
	}
	if r := nev % eventsPerStmt; r > 0 {
		qs = append(qs, eventInsert(r))
	}
	if s.d.ownTx {
		qs = append(qs, qBegin, qCommit, qRollback)
	}
	if err := s.prepare(ctx, qs...); err != nil {
		return err
	}
	var tx wtx
	if s.d.ownTx {
		tx = wtx{s: s}
		if err := tx.exec(ctx, qBegin); err != nil {
			return err
		}
		committed := false
		defer func() {
			if !committed {
				_ = tx.exec(context.Background(), qRollback) // fails harmlessly when SQLite rolled back already
			}
		}()
		if err := s.batchTx(ctx, tx, batch, results, products, deleted); err != nil {
			return err
		}
		if err := tx.exec(ctx, qCommit); err != nil {
			return err
		}
		committed = true
		return nil
	}
	sqltx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer sqltx.Rollback()
	tx = wtx{Tx: sqltx, s: s}
	if s.d.asyncCommit != "" {
		if err := tx.exec(ctx, s.d.asyncCommit); err != nil {
			return err
		}
	}
	if err := s.batchTx(ctx, tx, batch, results, products, deleted); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if s.d.flush != "" {
		if _, err := s.wdb.ExecContext(ctx, s.d.flush); err != nil {
			return fmt.Errorf("%w: %w", errUnknownOutcome, err)
		}
	}
	return nil
}

// batchTx writes batch in tx; with lockProducts, products and deleted are
// the products and the deleted leases whose seat counts it may change.
func (s *sqlStore) batchTx(ctx context.Context, tx wtx, batch []*request, results []error, products, deleted []string) error {
	// Lock the products' rows, in one order, before anything else: no
	// other transaction counts or changes these products' seats until this
	// one ends, and two nodes never wait on each other in a cycle.
	if s.d.lockProducts {
		if len(deleted) > 0 {
			rows, err := tx.QueryContext(ctx, `SELECT DISTINCT product FROM leases WHERE id = ANY($1)`, deleted)
			if err != nil {
				return err
			}
			for rows.Next() {
				var p string
				if err := rows.Scan(&p); err != nil {
					rows.Close()
					return err
				}
				products = append(products, p)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		slices.Sort(products)
		products = slices.Compact(products)
		if len(products) > 0 {
			rows, err := tx.QueryContext(ctx, `SELECT product FROM seat_products WHERE product = ANY($1) ORDER BY product FOR UPDATE`, products)
			if err != nil {
				return err
			}
			for rows.Next() { // rows are locked as they are read
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
	}
	var events []seats.Event
	for i, r := range batch {
		sp := needsSavepoint(r.c)
		if sp {
			if err := tx.exec(ctx, qSavepoint); err != nil {
				return err
			}
		}
		err := apply(ctx, tx, r.c)
		if err != nil && refusal(err) {
			if sp {
				if err := tx.exec(ctx, qRollbackTo); err != nil {
					return err
				}
				if err := tx.exec(ctx, qRelease); err != nil {
					return err
				}
			}
			results[i] = err
			continue
		}
		if err != nil {
			return err
		}
		if sp {
			if err := tx.exec(ctx, qRelease); err != nil {
				return err
			}
		}
		events = append(events, r.c.Events...)
	}
	if len(events) > 0 {
		if err := s.appendEvents(ctx, tx, events); err != nil {
			return err
		}
	}
	return nil
}

// needsSavepoint reports whether c can be refused (a Grant or Renewal)
// after it has written something. A Change whose one refusable part comes
// first (no licenses or leases put or deleted before it) is refused before
// its first write and needs no savepoint: two statements fewer for a
// checkout or a renewal.
func needsSavepoint(c *Change) bool {
	n := len(c.Grants) + len(c.Renewals)
	return n > 1 || n == 1 && len(c.PutLicenses)+len(c.DeleteLicenses)+len(c.PutLeases)+len(c.DeleteLeases) > 0
}

// appendEvents numbers and chains events after the log's head, last in
// the transaction so that the head row is locked as briefly as possible.
func (s *sqlStore) appendEvents(ctx context.Context, tx wtx, events []seats.Event) error {
	var next int64
	var head []byte
	if err := tx.queryRow(ctx, qHeadSelect+s.d.forUpdate).Scan(&next, &head); err != nil {
		return fmt.Errorf("reading the usage log head: %w", err)
	}
	var prev [32]byte
	if len(head) != 0 && len(head) != 32 {
		return fmt.Errorf("usage log head hash has %d bytes, want 32: the database was changed by hand", len(head))
	}
	copy(prev[:], head)
	for len(events) > 0 {
		n := min(len(events), eventsPerStmt)
		args := make([]any, 0, n*9)
		for _, e := range events[:n] {
			le := LoggedEvent{Seq: next, Event: e}
			le.Hash = ChainHash(prev, le)
			prev = le.Hash
			next++
			args = append(args, le.Seq, e.Time.UnixNano(), string(e.Kind), e.Product, e.LeaseID, e.Session, e.User, e.Detail, le.Hash[:])
		}
		if err := tx.exec(ctx, eventInsert(n), args...); err != nil {
			return err
		}
		events = events[n:]
	}
	return tx.exec(ctx, qHeadUpdate, next, prev[:])
}

// eventsPerStmt is the most rows one INSERT writes: the statements for 1
// to 32 rows are prepared once (a long multi-row statement costs more to
// parse than it saves).
const eventsPerStmt = 32

// eventInserts[n] is the INSERT of n usage-log rows, 1 <= n <= eventsPerStmt.
var eventInserts = func() (qs [eventsPerStmt + 1]string) {
	for n := 1; n <= eventsPerStmt; n++ {
		qs[n] = eventInsertSQL(n)
	}
	return qs
}()

// eventInsert is the INSERT of n usage-log rows.
func eventInsert(n int) string { return eventInserts[n] }

func eventInsertSQL(n int) string {
	var q strings.Builder
	q.WriteString(`INSERT INTO events (seq, at, kind, product, lease_id, session_id, user_name, detail, hash) VALUES `)
	for i := range n {
		if i > 0 {
			q.WriteByte(',')
		}
		k := 9 * i
		fmt.Fprintf(&q, "($%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d)", k+1, k+2, k+3, k+4, k+5, k+6, k+7, k+8, k+9)
	}
	return q.String()
}

// nanos is a time as stored: Unix nanoseconds, NULL for the zero time.
func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

const leaseCols = `id, product, session_id, app_name, user_name, computer_name, session_started, mode, granted, expires, lost, seat_key`

const leaseUpsert = `INSERT INTO leases (` + leaseCols + `) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)
ON CONFLICT (id) DO UPDATE SET product = excluded.product, session_id = excluded.session_id,
app_name = excluded.app_name, user_name = excluded.user_name, computer_name = excluded.computer_name,
session_started = excluded.session_started, mode = excluded.mode, granted = excluded.granted,
expires = excluded.expires, lost = excluded.lost`

func leaseArgs(l *seats.Lease, seatKey string) []any {
	return []any{l.ID, l.Product, l.ClientSessionID, l.AppName, l.UserName, l.ComputerName, nanos(l.SessionStarted),
		string(l.Mode), nanos(l.Granted), nanos(l.Expires), l.Lost, seatKey}
}

// The writer's statements.
const (
	qHeadSelect    = `SELECT next_seq, hash FROM log_head WHERE id = 1`
	qLicenseUpsert = `INSERT INTO licenses (serial, raw, itn, iec, installed) VALUES ($1,$2,$3,$4,$5)
ON CONFLICT (serial) DO UPDATE SET raw = excluded.raw, itn = excluded.itn, iec = excluded.iec, installed = excluded.installed`
	qLicenseDelete = `DELETE FROM licenses WHERE serial = $1`
	qLeaseDelete   = `DELETE FROM leases WHERE id = $1 RETURNING product, lost, seat_key`
	qLeaseRead     = `SELECT product, lost, seat_key FROM leases WHERE id = $1`
	qLeaseLost     = `SELECT lost FROM leases WHERE id = $1`
	qLeaseRenew    = `UPDATE leases SET expires = $2 WHERE id = $1`
	qHoldRead      = `SELECT leases FROM seat_holds WHERE product = $1 AND seat_key = $2`
	qHoldTake      = `INSERT INTO seat_holds (product, seat_key, leases) VALUES ($1, $2, 1)
ON CONFLICT (product, seat_key) DO UPDATE SET leases = seat_holds.leases + 1 RETURNING leases`
	qHoldRelease = `UPDATE seat_holds SET leases = leases - 1 WHERE product = $1 AND seat_key = $2 RETURNING leases`
	qHoldDelete  = `DELETE FROM seat_holds WHERE product = $1 AND seat_key = $2`
	qProductRead = `SELECT in_use FROM seat_products WHERE product = $1`
	qProductTake = `INSERT INTO seat_products (product, in_use) VALUES ($1, 1)
ON CONFLICT (product) DO UPDATE SET in_use = seat_products.in_use + 1`
	qProductRelease = `UPDATE seat_products SET in_use = in_use - 1 WHERE product = $1`
	qProductEnsure  = `INSERT INTO seat_products (product, in_use) VALUES ($1, 0) ON CONFLICT (product) DO NOTHING`
	qGrantUpsert    = leaseUpsert + `, seat_key = excluded.seat_key`
	qLeaseInsertNew = `INSERT INTO leases (` + leaseCols + `) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) ON CONFLICT (id) DO NOTHING`
	// qLeaseRefresh rewrites a stored lease whose part in the seat counts
	// stays: the same product, lost or not as it was.
	qLeaseRefresh = `UPDATE leases SET session_id = $1, app_name = $2, user_name = $3, computer_name = $4, session_started = $5,
mode = $6, granted = $7, expires = $8, lost = $9 WHERE id = $10 AND product = $11 AND (lost = '') = ($12 = '')`
	qTokenUpsert = `INSERT INTO tokens (name, role, sha256, created) VALUES ($1,$2,$3,$4)
ON CONFLICT (name) DO UPDATE SET role = excluded.role, sha256 = excluded.sha256, created = excluded.created`
	qTokenDelete  = `DELETE FROM tokens WHERE name = $1`
	qDeviceUpsert = `INSERT INTO devices (code, name, app, ip, registered, state, decided, decided_by, key_no, demo_limits)
VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
ON CONFLICT (code) DO UPDATE SET name = excluded.name, app = excluded.app, ip = excluded.ip, registered = excluded.registered,
state = excluded.state, decided = excluded.decided, decided_by = excluded.decided_by, key_no = excluded.key_no,
demo_limits = excluded.demo_limits`
	qDeviceDelete  = `DELETE FROM devices WHERE code = $1`
	qSettingUpsert = `INSERT INTO settings (name, value) VALUES ($1,$2) ON CONFLICT (name) DO UPDATE SET value = excluded.value`
	qHeadUpdate    = `UPDATE log_head SET next_seq = $1, hash = $2 WHERE id = 1`
	qSavepoint     = `SAVEPOINT grants`
	qRollbackTo    = `ROLLBACK TO SAVEPOINT grants`
	qRelease       = `RELEASE SAVEPOINT grants`
)

// writerQueries are prepared once per store (SQLite). The two that
// depend on the dialect (FOR UPDATE) run unprepared.
var writerQueries = []string{qLeaseInsertNew, qLeaseRefresh, qLicenseUpsert, qLicenseDelete, qLeaseDelete, qLeaseRead, qLeaseLost, qLeaseRenew, qHoldRead, qHoldTake, qHoldRelease, qHoldDelete, qProductRead, qProductTake, qProductRelease, qGrantUpsert, qTokenUpsert, qTokenDelete, qDeviceUpsert, qDeviceDelete, qSettingUpsert, qHeadUpdate, qSavepoint, qRollbackTo, qRelease}

// apply writes c (without its events) in tx. A refused Grant returns a
// *seats.NoSeatError.
func apply(ctx context.Context, tx wtx, c *Change) error {
	exec := func(q string, args ...any) error { return tx.exec(ctx, q, args...) }
	for _, l := range c.PutLicenses {
		if err := exec(qLicenseUpsert,
			l.Serial, nonNil(l.Raw), l.ITN, l.IEC, nanos(l.Installed)); err != nil {
			return err
		}
	}
	for _, s := range c.DeleteLicenses {
		if err := exec(qLicenseDelete, s); err != nil {
			return err
		}
	}
	for i := range c.PutLeases {
		l := &c.PutLeases[i]
		if err := putLease(ctx, tx, l, "", -1, granted(c, l.ID)); err != nil {
			return err
		}
	}
	for _, id := range c.DeleteLeases {
		h := hold{id: id}
		switch err := tx.queryRow(ctx, qLeaseDelete, id).Scan(&h.product, &h.lost, &h.seatKey); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			h.exists = true
			if err := h.release(ctx, tx); err != nil {
				return err
			}
		}
	}
	for i := range c.Grants {
		g := &c.Grants[i]
		if err := putLease(ctx, tx, &g.Lease, g.seatKey(), g.Seats, g.New); err != nil {
			return err
		}
	}
	for _, r := range c.Renewals {
		var lost string
		switch err := tx.queryRow(ctx, qLeaseLost, r.ID).Scan(&lost); {
		case errors.Is(err, sql.ErrNoRows):
			return renewRefused(r.ID, false, "")
		case err != nil:
			return err
		case lost != "":
			return renewRefused(r.ID, true, lost)
		}
		if err := renewStored(ctx, tx, r); err != nil {
			return err
		}
	}
	for _, t := range c.PutTokens {
		if err := exec(qTokenUpsert,
			t.Name, t.Role, t.SHA256[:], nanos(t.Created)); err != nil {
			return err
		}
	}
	for _, n := range c.DeleteTokens {
		if err := exec(qTokenDelete, n); err != nil {
			return err
		}
	}
	for _, d := range c.PutDevices {
		limits := ""
		if len(d.DemoLimits) > 0 {
			b, err := json.Marshal(d.DemoLimits)
			if err != nil {
				return err
			}
			limits = string(b)
		}
		if err := exec(qDeviceUpsert,
			d.Code, d.Name, d.App, d.IP, nanos(d.Registered), string(d.State), nanos(d.Decided), d.DecidedBy, d.KeyNo, limits); err != nil {
			return err
		}
	}
	for _, code := range c.DeleteDevices {
		if err := exec(qDeviceDelete, code); err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Settings)) {
		if err := exec(qSettingUpsert,
			k, c.Settings[k]); err != nil {
			return err
		}
	}
	return nil
}

// hold is a lease's part in the seat counts: it holds its seat key unless
// it is lost.
type hold struct {
	id, product, seatKey, lost string
	exists                     bool
}

func (h hold) counts() bool { return h.exists && h.lost == "" }

// implicit reports whether h's seat key is its lease's own per-session
// key ("s:"+ID), which no other lease can hold (validate refuses a Grant
// naming another lease's): seat_holds keeps no row for it, the lease row
// is its one holder. Two statements and two B-tree pages fewer per
// checkout.
func (h hold) implicit() bool {
	return len(h.seatKey) == len(h.id)+2 && h.seatKey[:2] == "s:" && h.seatKey[2:] == h.id
}

func (h hold) same(o hold) bool {
	return h.counts() == o.counts() && (!h.counts() || h.product == o.product && h.seatKey == o.seatKey)
}

// take adds h's lease to its seat key's holders.
func (h hold) take(ctx context.Context, tx wtx) error {
	if h.implicit() {
		return tx.exec(ctx, qProductTake, h.product)
	}
	var n int64
	if err := tx.queryRow(ctx, qHoldTake, h.product, h.seatKey).Scan(&n); err != nil {
		return err
	}
	if n == 1 {
		return tx.exec(ctx, qProductTake, h.product)
	}
	return nil
}

// release removes h's lease from its seat key's holders.
func (h hold) release(ctx context.Context, tx wtx) error {
	if !h.counts() {
		return nil
	}
	if h.implicit() {
		return tx.exec(ctx, qProductRelease, h.product)
	}
	var n int64
	switch err := tx.queryRow(ctx, qHoldRelease, h.product, h.seatKey).Scan(&n); {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("seat counts out of step: lease of %s holds %s, which seat_holds lacks (the database was changed by hand)", h.product, h.seatKey)
	case err != nil:
		return err
	}
	if n > 0 {
		return nil
	}
	if err := tx.exec(ctx, qHoldDelete, h.product, h.seatKey); err != nil {
		return err
	}
	return tx.exec(ctx, qProductRelease, h.product)
}

// granted reports whether c logs a grant of lease id: a lease most likely
// not stored yet.
func granted(c *Change, id string) bool {
	for i := range c.Events {
		if e := &c.Events[i]; e.Kind == seats.EventGrant && e.LeaseID == id {
			return true
		}
	}
	return false
}

// putLease inserts or replaces l and moves its part in the seat counts.
// seatKey "" keeps the stored lease's seat key ("s:"+ID for a new one).
// With capacity >= 0 (a Grant) it first refuses, with a
// *seats.NoSeatError, when every seat of the product is held by other
// seat keys; with fresh too (Grant.New), when the lease is stored at all,
// with ErrLeaseExists. The caller holds the product's lock (or the
// database's).
//
// A put (seatKey "", no capacity) first tries one statement: for a lease
// just granted (fresh) an INSERT that does nothing when the ID is stored,
// else an UPDATE of a stored lease whose part in the counts stays the
// same (same product, lost or not as before: a renewal). Only when that
// changes no row does it read the stored lease and work out the counts.
func putLease(ctx context.Context, tx wtx, l *seats.Lease, seatKey string, capacity int, fresh bool) error {
	if seatKey == "" && capacity < 0 {
		if fresh {
			nw := hold{id: l.ID, product: l.Product, seatKey: "s:" + l.ID, lost: l.Lost, exists: true}
			switch n, err := tx.execN(ctx, qLeaseInsertNew, leaseArgs(l, nw.seatKey)...); {
			case err != nil:
				return err
			case n == 1:
				if nw.counts() {
					return nw.take(ctx, tx)
				}
				return nil
			}
		} else {
			switch n, err := tx.execN(ctx, qLeaseRefresh, l.ClientSessionID, l.AppName, l.UserName, l.ComputerName,
				nanos(l.SessionStarted), string(l.Mode), nanos(l.Granted), nanos(l.Expires), l.Lost, l.ID, l.Product, l.Lost); {
			case err != nil:
				return err
			case n == 1:
				return nil
			}
		}
	}
	old := hold{id: l.ID}
	switch err := tx.queryRow(ctx, qLeaseRead, l.ID).Scan(&old.product, &old.lost, &old.seatKey); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	default:
		old.exists = true
	}
	if seatKey == "" {
		seatKey = "s:" + l.ID
		if old.exists {
			seatKey = old.seatKey
		}
	}
	nw := hold{id: l.ID, product: l.Product, seatKey: seatKey, lost: l.Lost, exists: true}
	if capacity >= 0 && fresh && old.exists {
		return leaseExists(l.ID)
	}
	if capacity >= 0 {
		if err := checkGrant(ctx, tx, old, nw, capacity); err != nil {
			return err
		}
	}
	if err := tx.exec(ctx, qGrantUpsert, leaseArgs(l, seatKey)...); err != nil {
		return err
	}
	if old.same(nw) {
		return nil
	}
	if err := old.release(ctx, tx); err != nil {
		return err
	}
	if nw.counts() {
		return nw.take(ctx, tx)
	}
	return nil
}

// checkGrant counts the seat keys of nw's product held by leases other
// than the one being granted (whose stored state is old), as
// Memory.grant does, in constant time from the maintained counts.
func checkGrant(ctx context.Context, tx wtx, old, nw hold, capacity int) error {
	holders := func(sk string) (int64, error) {
		if sk == "s:"+nw.id {
			// Implicit: held by the lease itself alone, when stored so.
			if old.counts() && old.product == nw.product && old.seatKey == sk {
				return 1, nil
			}
			return 0, nil
		}
		var n int64
		err := tx.queryRow(ctx, qHoldRead, nw.product, sk).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		return n, err
	}
	mine := old.counts() && old.product == nw.product
	n, err := holders(nw.seatKey)
	if err != nil {
		return err
	}
	if mine && old.seatKey == nw.seatKey {
		n--
	}
	if n > 0 {
		return nil // another lease holds this seat already (per computer)
	}
	var inUse int64
	if err := tx.queryRow(ctx, qProductRead, nw.product).Scan(&inUse); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if mine {
		own, err := holders(old.seatKey)
		if err != nil {
			return err
		}
		if own == 1 {
			inUse-- // the lease's own seat is not another's
		}
	}
	if inUse >= int64(capacity) {
		return noSeat(nw.product, int(inUse), capacity)
	}
	return nil
}

// Load implements Store.
func (s *sqlStore) Load(ctx context.Context) (*State, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := s.synced(ctx); err != nil {
		return nil, err
	}
	st, err := s.load(ctx)
	if err != nil {
		return nil, s.fail(ctx, "loading", err)
	}
	return st, nil
}

func (s *sqlStore) load(ctx context.Context) (*State, error) { return s.loadWith(ctx, nil) }

// loadWith is load with st.Leases read by leases when it is not nil (in
// the same transaction, so in the same snapshot as the rest).
func (s *sqlStore) loadWith(ctx context.Context, leases func(context.Context, *sql.Tx, *State) error) (*State, error) {
	tx, err := s.rdb.BeginTx(ctx, s.d.loadTx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	st := &State{Settings: map[string]string{}}
	each := func(q string, scan func(*sql.Rows) error) error {
		rows, err := tx.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	err = each(`SELECT serial, raw, itn, iec, installed FROM licenses`, func(r *sql.Rows) error {
		var l LicenseRecord
		var at sql.NullInt64
		if err := r.Scan(&l.Serial, &l.Raw, &l.ITN, &l.IEC, &at); err != nil {
			return err
		}
		l.Raw, l.Installed = cloneBytes(l.Raw), fromNanos(at)
		st.Licenses = append(st.Licenses, l)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("licenses: %w", err)
	}
	if leases != nil {
		err = leases(ctx, tx, st)
	} else {
		err = each(`SELECT `+leaseCols+` FROM leases`, func(r *sql.Rows) error {
			var l seats.Lease
			var started, granted, expires sql.NullInt64
			var mode, sk string
			if err := r.Scan(&l.ID, &l.Product, &l.ClientSessionID, &l.AppName, &l.UserName, &l.ComputerName, &started,
				&mode, &granted, &expires, &l.Lost, &sk); err != nil {
				return err
			}
			l.Mode, l.SessionStarted, l.Granted, l.Expires = seats.Mode(mode), fromNanos(started), fromNanos(granted), fromNanos(expires)
			st.Leases = append(st.Leases, l)
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("leases: %w", err)
	}
	err = each(`SELECT name, role, sha256, created FROM tokens`, func(r *sql.Rows) error {
		var t TokenRecord
		var sum []byte
		var at sql.NullInt64
		if err := r.Scan(&t.Name, &t.Role, &sum, &at); err != nil {
			return err
		}
		if len(sum) != len(t.SHA256) {
			return fmt.Errorf("token %q: sha256 has %d bytes, want 32: the database was changed by hand", t.Name, len(sum))
		}
		copy(t.SHA256[:], sum)
		t.Created = fromNanos(at)
		st.Tokens = append(st.Tokens, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	err = each(`SELECT code, name, app, ip, registered, state, decided, decided_by, key_no, demo_limits FROM devices`, func(r *sql.Rows) error {
		var d devices.Device
		var reg, dec sql.NullInt64
		var state, limits string
		if err := r.Scan(&d.Code, &d.Name, &d.App, &d.IP, &reg, &state, &dec, &d.DecidedBy, &d.KeyNo, &limits); err != nil {
			return err
		}
		d.State, d.Registered, d.Decided = devices.State(state), fromNanos(reg), fromNanos(dec)
		if limits != "" {
			var fs []license.Feature
			if err := json.Unmarshal([]byte(limits), &fs); err != nil {
				return fmt.Errorf("device %q: demo_limits: %w", d.Code, err)
			}
			if len(fs) > 0 {
				d.DemoLimits = fs
			}
		}
		st.Devices = append(st.Devices, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("devices: %w", err)
	}
	err = each(`SELECT name, value FROM settings`, func(r *sql.Rows) error {
		var k, v string
		if err := r.Scan(&k, &v); err != nil {
			return err
		}
		st.Settings[k] = v
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	// Byte order, whatever the database's collation.
	slices.SortFunc(st.Licenses, func(a, b LicenseRecord) int { return strings.Compare(a.Serial, b.Serial) })
	slices.SortFunc(st.Leases, func(a, b seats.Lease) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(st.Tokens, func(a, b TokenRecord) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(st.Devices, func(a, b devices.Device) int { return strings.Compare(a.Code, b.Code) })
	return st, nil
}

// Lease implements Store.
func (s *sqlStore) Lease(ctx context.Context, id string) (seats.Lease, bool, error) {
	if err := s.check(ctx); err != nil {
		return seats.Lease{}, false, err
	}
	if err := s.synced(ctx); err != nil {
		return seats.Lease{}, false, err
	}
	var l seats.Lease
	var started, granted, expires sql.NullInt64
	var mode, sk string
	err := s.rdb.QueryRowContext(ctx, `SELECT `+leaseCols+` FROM leases WHERE id = $1`, id).Scan(&l.ID, &l.Product, &l.ClientSessionID,
		&l.AppName, &l.UserName, &l.ComputerName, &started, &mode, &granted, &expires, &l.Lost, &sk)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return seats.Lease{}, false, nil
	case err != nil:
		return seats.Lease{}, false, s.fail(ctx, "reading lease "+id, err)
	}
	l.Mode, l.SessionStarted, l.Granted, l.Expires = seats.Mode(mode), fromNanos(started), fromNanos(granted), fromNanos(expires)
	return l, true, nil
}

// Events implements Store: the rows are read as fn takes them.
func (s *sqlStore) Events(ctx context.Context, from, to time.Time, fn func(LoggedEvent) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := s.synced(ctx); err != nil {
		return err
	}
	q := `SELECT seq, at, kind, product, lease_id, session_id, user_name, detail, hash FROM events`
	var args []any
	var where []string
	if !from.IsZero() {
		args = append(args, clampNanos(from))
		where = append(where, fmt.Sprintf("at >= $%d", len(args)))
	}
	if !to.IsZero() {
		args = append(args, clampNanos(to))
		where = append(where, fmt.Sprintf("at < $%d", len(args)))
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY seq"
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return s.fail(ctx, "reading the usage log", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e LoggedEvent
		var at int64
		var kind string
		var hash []byte
		if err := rows.Scan(&e.Seq, &at, &kind, &e.Product, &e.LeaseID, &e.Session, &e.User, &e.Detail, &hash); err != nil {
			return s.fail(ctx, "reading the usage log", err)
		}
		e.Time, e.Kind = time.Unix(0, at).UTC(), seats.EventKind(kind)
		copy(e.Hash[:], hash)
		if err := fn(e); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.fail(ctx, "reading the usage log", err)
	}
	return nil
}

// clampNanos is t in Unix nanoseconds, clamped to what an int64 holds (a
// bound beyond every stored time stays beyond it).
func clampNanos(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return minTime.UnixNano()
	case t.After(maxTime):
		return maxTime.UnixNano()
	}
	return t.UnixNano()
}

func (s *sqlStore) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return nil
}

// fail names the store in err, or says it was closed or cancelled.
func (s *sqlStore) fail(ctx context.Context, what string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	return fmt.Errorf("seatstore: %s: %s: %w", s.name, what, err)
}

// Close implements Store: it waits for the Commits queued, then closes
// the database.
func (s *sqlStore) Close() error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.reqs)
		s.mu.Unlock()
		<-s.done
		if s.jr != nil {
			err = s.jr.close()
		}
		for _, st := range s.stmts {
			st.Close()
		}
		if s.wconn != nil {
			s.wconn.Close()
		}
		err = errors.Join(err, s.wdb.Close())
		if s.rdb != s.wdb {
			err = errors.Join(err, s.rdb.Close())
		}
	})
	return err
}

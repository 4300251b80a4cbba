package seatstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// Postgres is the store for several license-server nodes sharing one
// PostgreSQL database (issue 12): the same schema, migrations and
// behaviour as SQLite. Each node commits through its own writer goroutine
// with group commit; Grants lock their products' seat_products rows (in
// one order, before anything else in the transaction), so two nodes never
// count one product's seats at once and never over-grant. See
// docs/spec/seat-protocol-v1.md, "Storage".
type Postgres struct {
	*sqlStore
}

// pgMigrationLock is the advisory lock key nodes take while migrating.
const pgMigrationLock = 0x41495253 // "AIRS"

var postgresDialect = &dialect{
	name:         "postgres",
	forUpdate:    " FOR UPDATE",
	migrateLock:  fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", pgMigrationLock),
	lockProducts: true,
	loadTx:       &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
	retryable: func(err error) bool {
		var e *pgconn.PgError
		// serialization_failure, deadlock_detected
		return errors.As(err, &e) && (e.Code == "40001" || e.Code == "40P01") && !errors.Is(err, errUnknownOutcome)
	},
	asyncCommit: pgAsyncCommit,
	flush:       pgFlush,
	fastBatch:   pgFastBatch,
}

// OpenPostgres connects to the database at url (a postgres:// URL or a
// key=value connection string, as libpq takes) and migrates it to this
// binary's schema. It refuses a database written by a newer license-server
// (ErrSchemaTooNew). Errors name the server and database, never the
// password.
func OpenPostgres(ctx context.Context, url string) (*Postgres, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("seatstore: the PostgreSQL URL is not valid (postgres://USER@HOST:PORT/DATABASE): %w", err)
	}
	name := fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	// The writer has a connection of its own: streaming reads (Events,
	// with a callback that may take long) never keep Commits waiting.
	// The writer's statements (pgx prepares and caches each one) look
	// rows up by key, so one generic plan suits every execution; left to
	// choose, PostgreSQL plans a statement on an array (product =
	// ANY($1)) anew at every execution (issue 12, "Speed").
	wcfg := cfg.Copy()
	wcfg.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	wdb := stdlib.OpenDB(*wcfg)
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	rdb := stdlib.OpenDB(*cfg)
	rdb.SetMaxOpenConns(8)
	// As many idle as open: a cluster node reads a lease before each
	// checkout, renewal and release, and a connection closed for want of
	// an idle slot costs PostgreSQL a new backend process at the next.
	rdb.SetMaxIdleConns(8)
	closeAll := func() { wdb.Close(); rdb.Close() }
	if err := wdb.PingContext(ctx); err != nil {
		closeAll()
		return nil, fmt.Errorf("seatstore: %s: cannot connect: %w", name, err)
	}
	if err := migrate(ctx, wdb, postgresDialect, name); err != nil {
		closeAll()
		return nil, err
	}
	return &Postgres{newSQLStore(postgresDialect, name, wdb, rdb)}, nil
}

// Name returns the database's URL without the password.
func (p *Postgres) Name() string { return p.name }

// pgCounters count a PostgreSQL store's work for benchmarks.
type pgCounters struct {
	trips, stmts, fast, general atomic.Int64
}

// Counters returns the round trips to PostgreSQL and the statements the
// writer sent for Commits (excluding the general path's, which it counts
// as general transactions) and how many transactions took the fast path
// and the general path.
func (p *Postgres) Counters() (trips, stmts, fast, general int64) {
	c := &p.pg
	return c.trips.Load(), c.stmts.Load(), c.fast.Load(), c.general.Load()
}

package seatstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/airseal/airseal/internal/fileio"
)

// SQLite is the embedded store: one database file beside the server's
// other state, in WAL mode with synchronous=FULL, and a change journal
// beside it (sqlite_journal.go): a Commit without Grants or Renewals
// returns once its change is fdatasynced to the journal, and is folded
// into the database in the background, in large transactions. A Commit
// that returned survives kill -9 and a power loss. The driver is pure Go
// (modernc.org/sqlite): the license-server binary stays static.
//
// One process should serve from a file at a time: it owns the journal. A
// second one (a backup, a status command) waits on the busy timeout for
// the writer's lock, and reads once the owner has folded the journal.
type SQLite struct {
	*sqlStore
	path string

	stopCkpt chan struct{} // closed by Close: stops the checkpointer
	ckptDone chan struct{} // closed when the checkpointer has stopped
	ckptOnce sync.Once
	ckpts    atomic.Int64 // background checkpoints run (tests)
}

// Checkpoints: the writer's connection never checkpoints on its own below
// walGuardPages WAL frames (PRAGMA wal_autocheckpoint), so a commit, and
// every request waiting on it, does not pay for copying the WAL into the
// database file; a background goroutine does that instead (PASSIVE: it
// never blocks the writer, and the writer restarts the WAL once it is
// copied). It checkpoints after ckptEveryTx transactions, or ckptIdle
// after the last one. Should it fall behind or stop, the guard makes the
// writer checkpoint as SQLite does by default, so the WAL cannot grow
// without bound.
const (
	walGuardPages = 10000 // ~40 MiB of WAL at 4 KiB pages
	ckptEveryTx   = 64
	ckptTick      = 20 * time.Millisecond
	ckptIdle      = 500 * time.Millisecond
)

var sqliteDialect = &dialect{
	name:        "sqlite",
	loadTx:      &sql.TxOptions{ReadOnly: true},
	cacheStmts:  true,
	localWrites: true,
	ownTx:       true,
	// Another process holding the write lock past the busy timeout.
	retryable: func(err error) bool {
		var e *sqlite.Error
		return errors.As(err, &e) && (e.Code()&0xff == sqlite3.SQLITE_BUSY || e.Code()&0xff == sqlite3.SQLITE_LOCKED)
	},
}

// writerCacheKiB is the writer connection's page cache (SQLite's default
// is 2 MiB): enough for the lease table of 100,000 leases (~15 MiB), so a
// renewal of any lease finds its page in memory instead of reading it
// from the file. Memory is taken only as pages are used.
const writerCacheKiB = 32 << 10

// busyTimeoutMS is how long a connection waits for another's lock.
const busyTimeoutMS = 10000

// OpenSQLite opens (creating it 0600 if missing) the database file at
// path and migrates it to this binary's schema. It refuses a file that is
// not a regular file, and a database written by a newer license-server
// (ErrSchemaTooNew).
func OpenSQLite(path string) (*SQLite, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("seatstore: %s: %w", path, err)
	}
	switch fi, err := os.Stat(abs); {
	case errors.Is(err, fs.ErrNotExist):
		f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("seatstore: creating the database: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("seatstore: creating the database: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("seatstore: %w", err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("seatstore: %s is %s, not a database file: give the path of a file (it is created if missing)", abs, fileio.KindOf(fi.Mode()))
	}
	base := (&url.URL{Scheme: "file", Path: abs}).String()
	params := fmt.Sprintf("_busy_timeout=%d&_journal_mode=WAL&_synchronous=FULL&_pragma=wal_autocheckpoint(%d)", busyTimeoutMS, walGuardPages)
	wdb, err := sql.Open("sqlite", base+"?_txlock=immediate&"+params+fmt.Sprintf("&_pragma=cache_size(-%d)", writerCacheKiB))
	if err != nil {
		return nil, fmt.Errorf("seatstore: %s: %w", abs, err)
	}
	wdb.SetMaxOpenConns(1) // the writer goroutine and migrations
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	rdb, err := sql.Open("sqlite", base+"?_txlock=deferred&"+params)
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("seatstore: %s: %w", abs, err)
	}
	rdb.SetMaxOpenConns(4)
	closeAll := func() { wdb.Close(); rdb.Close() }
	ctx := context.Background()
	// The open's statements are retried while SQLite answers BUSY without
	// waiting for its busy timeout, as it may while another process writes
	// and checkpoints.
	var mode string
	if err := sqliteDialect.retry(func() error { return wdb.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode) }); err != nil {
		closeAll()
		if strings.Contains(err.Error(), "not a database") {
			return nil, fmt.Errorf("seatstore: %s is not a SQLite database (or it is damaged): give another path, or restore the file from a backup", abs)
		}
		return nil, fmt.Errorf("seatstore: %s: %w", abs, err)
	}
	if !strings.EqualFold(mode, "wal") {
		closeAll()
		return nil, fmt.Errorf("seatstore: %s: journal mode is %q, not WAL: the file system may lack shared memory support; put the database on a local disk", abs, mode)
	}
	var sync int
	if err := wdb.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil || sync != 2 {
		closeAll()
		return nil, fmt.Errorf("seatstore: %s: synchronous is %d, want FULL (2): %v", abs, sync, err)
	}
	if err := sqliteDialect.retry(func() error { return migrate(ctx, wdb, sqliteDialect, abs) }); err != nil {
		closeAll()
		if strings.Contains(err.Error(), "not a database") {
			return nil, fmt.Errorf("seatstore: %s is not a SQLite database (or it is damaged): give another path, or restore the file from a backup", abs)
		}
		return nil, err
	}
	var folded int64
	if err := sqliteDialect.retry(func() error { return wdb.QueryRowContext(ctx, qJournalRead).Scan(&folded) }); err != nil {
		closeAll()
		return nil, fmt.Errorf("seatstore: %s: reading the change journal's progress: %w", abs, err)
	}
	ss := newSQLStore(sqliteDialect, abs, wdb, rdb)
	jr, err := openJournal(ss, abs, folded)
	if err != nil {
		ss.Close()
		return nil, err
	}
	ss.jr = jr
	s := &SQLite{sqlStore: ss, path: abs,
		stopCkpt: make(chan struct{}), ckptDone: make(chan struct{})}
	go s.checkpointer()
	return s, nil
}

// checkpointer copies the WAL into the database file in the background
// (see walGuardPages), on a reader connection.
func (s *SQLite) checkpointer() {
	defer close(s.ckptDone)
	t := time.NewTicker(ckptTick)
	defer t.Stop()
	last, lastAt := s.batches.Load(), time.Now()
	for {
		select {
		case <-s.stopCkpt:
			return
		case <-t.C:
		}
		n := s.batches.Load()
		if n == last || n-last < ckptEveryTx && time.Since(lastAt) < ckptIdle {
			continue
		}
		// A failure (the database busy with a backup, a full disk) is
		// left to the next round and, failing that, to the writer's guard;
		// Commit reports a full disk itself.
		if _, err := s.rdb.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err == nil {
			s.ckpts.Add(1)
		}
		last, lastAt = n, time.Now()
	}
}

// Close implements Store: it stops the background checkpoints, then
// closes the store (the last connection closed checkpoints the WAL).
func (s *SQLite) Close() error {
	s.ckptOnce.Do(func() {
		close(s.stopCkpt)
		<-s.ckptDone
	})
	return s.sqlStore.Close()
}

// SetFoldInterval sets how often the change journal is folded into the
// database (default 250 ms; sooner when thousands of records wait): for
// tests and benchmarks. It takes effect after the next fold.
func (s *SQLite) SetFoldInterval(d time.Duration) {
	if s.jr != nil {
		s.jr.foldEvery.Store(int64(max(d, time.Millisecond)))
	}
}

// Batches returns how many commit groups were made durable: journal
// records plus transactions committed directly (not the folds). With group
// commit, fewer than the Commits.
func (s *SQLite) Batches() int64 {
	if s.jr == nil {
		return s.sqlStore.Batches()
	}
	return s.sqlStore.Batches() - s.jr.folds.Load() + s.jr.records.Load()
}

// Folds returns how many transactions have folded the change journal into
// the database.
func (s *SQLite) Folds() int64 {
	if s.jr == nil {
		return 0
	}
	return s.jr.folds.Load()
}

// Path returns the database file's absolute path.
func (s *SQLite) Path() string { return s.path }

// Backup writes a consistent copy of the database to dest while the store
// keeps serving (VACUUM INTO: one read transaction, so the copy is the
// state after some Commit, never between two). dest must not exist; it is
// created 0600 and synced before Backup returns. Restoring is opening the
// copy (OpenSQLite) in place of the original, with the server stopped.
func (s *SQLite) Backup(ctx context.Context, dest string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := s.synced(ctx); err != nil {
		return err
	}
	abs, err := filepath.Abs(dest)
	if err != nil {
		return fmt.Errorf("seatstore: backup %s: %w", dest, err)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("seatstore: backup: %w (give a new file name)", err)
	}
	f.Close()
	fail := func(err error) error {
		os.Remove(abs)
		return err
	}
	if _, err := s.rdb.ExecContext(ctx, `VACUUM INTO $1`, abs); err != nil {
		return fail(s.fail(ctx, "backup to "+abs, err))
	}
	f, err = os.OpenFile(abs, os.O_RDWR, 0)
	if err != nil {
		return fail(fmt.Errorf("seatstore: backup: %w", err))
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(fmt.Errorf("seatstore: backup %s: %w", abs, err))
	}
	return nil
}

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

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/airseal/airseal/internal/fileio"
)

// SQLite is the embedded store: one database file beside the server's
// other state, in WAL mode with synchronous=FULL, so a Commit that
// returned survives kill -9 and a power loss. The driver is pure Go
// (modernc.org/sqlite): the license-server binary stays static.
//
// One process should serve from a file at a time; a second one (a backup,
// a status command) waits on the busy timeout for the writer's lock.
type SQLite struct {
	*sqlStore
	path string
}

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
	params := fmt.Sprintf("_busy_timeout=%d&_journal_mode=WAL&_synchronous=FULL", busyTimeoutMS)
	wdb, err := sql.Open("sqlite", base+"?_txlock=immediate&"+params)
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
	var mode string
	if err := wdb.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
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
	if err := migrate(ctx, wdb, sqliteDialect, abs); err != nil {
		closeAll()
		if strings.Contains(err.Error(), "not a database") {
			return nil, fmt.Errorf("seatstore: %s is not a SQLite database (or it is damaged): give another path, or restore the file from a backup", abs)
		}
		return nil, err
	}
	return &SQLite{sqlStore: newSQLStore(sqliteDialect, abs, wdb, rdb), path: abs}, nil
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

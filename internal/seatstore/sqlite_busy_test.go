package seatstore

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
)

// TestRetryBusy: an operation (dialect.retry) SQLite answers with SQLITE_BUSY without
// waiting (here a connection with no busy timeout writing while another
// holds the write lock) is run again until the lock is free; another
// error is returned at once.
func TestRetryBusy(t *testing.T) {
	db := filepath.Join(t.TempDir(), "busy.db")
	holder, err := sql.Open("sqlite", "file:"+db+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	holder.SetMaxOpenConns(1)
	if _, err := holder.Exec(`CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", "file:"+db+"?_busy_timeout=0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := holder.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	write := func() error { _, err := other.Exec(`INSERT INTO t VALUES (2)`); return err }
	if err := write(); !sqliteDialect.retryable(err) {
		t.Fatalf("a write while another holds the lock: %v, want SQLITE_BUSY", err)
	}
	// The lock is freed after the first try, which is answered BUSY.
	tries := 0
	err = sqliteDialect.retry(func() error {
		tries++
		err := write()
		if tries == 1 {
			if err := tx.Commit(); err != nil {
				t.Error(err)
			}
		}
		return err
	})
	if err != nil || tries != 2 {
		t.Fatalf("retry: %v after %d tries, want success at the second", err, tries)
	}
	notBusy := errors.New("not busy")
	tries = 0
	if err := sqliteDialect.retry(func() error { tries++; return notBusy }); err != notBusy || tries != 1 {
		t.Fatalf("retry of another error: %v after %d tries", err, tries)
	}
}

// TestOpenWhileWriteLocked: opening a store whose database is at this
// schema version takes no write lock, so a second process (a backup, a
// status) opens the store of a server that holds the lock back to back.
// (It waited for the lock, up to the busy timeout, and then failed with
// "database is locked".)
func TestOpenWhileWriteLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	holder, err := sql.Open("sqlite", "file:"+path+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	holder.SetMaxOpenConns(1)
	tx, err := holder.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`UPDATE schema_version SET version = version`); err != nil {
		t.Fatal(err) // the write lock is held from here
	}
	st, err = OpenSQLite(path)
	if err != nil {
		t.Fatalf("opening while another connection holds the write lock: %v", err)
	}
	st.Close()
}

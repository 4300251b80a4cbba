package seatserver

// This file backs up and restores the SQLite store (issue 12 item 7): a
// consistent copy taken while the server runs (the store's Backup: SQLite's
// VACUUM INTO reads one snapshot, between commits), checked here before it
// is kept (integrity, the state loads, the usage log's hash chain); a
// restore only while no server holds the directory.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the store's driver, registered as "sqlite"

	"github.com/airseal/airseal/internal/atomicfile"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/usagereport"
)

// BackupResult describes a backup file.
type BackupResult struct {
	File    string `json:"file"`
	Bytes   int64  `json:"bytes"`
	Records int64  `json:"usage_records"`
	// Head is the usage log's last sequence number in the copy.
	Head     int64 `json:"usage_head"`
	Licenses int   `json:"licenses"`
	Leases   int   `json:"leases"`
}

// ErrBadBackup: a backup file that is not a sound copy of a server store.
var ErrBadBackup = errors.New("not a sound license-server backup")

// Backup copies the SQLite store at db into out (which must not exist) as
// one consistent snapshot, also while the server runs and commits: the
// store's own Backup (seatstore.SQLite.Backup, VACUUM INTO in one read
// transaction). The copy is then opened and checked (CheckBackup) before
// Backup returns; a copy that fails is removed.
//
// Opening the store migrates a database older than this binary, which
// would change it under a running server of the older version: Backup
// refuses a database whose schema is not this binary's (nothing written).
func Backup(ctx context.Context, db, out string) (*BackupResult, error) {
	if _, err := os.Lstat(out); err == nil {
		return nil, fmt.Errorf("%s exists; nothing was written (choose another -o)", out)
	}
	fi, err := os.Stat(db)
	if err != nil {
		return nil, fmt.Errorf("the store %s: %w", db, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("the store %s is not a regular file", db)
	}
	if err := sameSchema(ctx, db); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	st, err := seatstore.OpenSQLite(db)
	if err != nil {
		return nil, err
	}
	err = st.Backup(ctx, abs)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(abs)
		return nil, err
	}
	res, err := CheckBackup(ctx, abs)
	if err != nil {
		os.Remove(abs)
		return nil, err
	}
	res.File = out
	return res, atomicfile.SyncDir(filepath.Dir(abs))
}

// sameSchema reads db's schema version without writing and refuses one
// that is not seatstore.SchemaVersion.
func sameSchema(ctx context.Context, db string) error {
	conn, err := sql.Open("sqlite", "file:"+db+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		return err
	}
	defer conn.Close()
	var v int
	if err := conn.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("the store %s: reading its schema version: %w (is it a license-server database?)", db, err)
	}
	if want := seatstore.SchemaVersion(); v != want {
		return fmt.Errorf("the store %s has schema version %d, this license-server writes %d: back it up with the license-server that serves it (or start this version's server once, which migrates it); nothing was written", db, v, want)
	}
	return nil
}

// CheckBackup checks a backup file without changing it: SQLite's
// integrity check, then the state loads through the store, and the usage
// log's hash chain holds from its first record to its last. It works on a
// temporary copy (opening a store may migrate it).
func CheckBackup(ctx context.Context, file string) (*BackupResult, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrBadBackup, file)
	}
	conn, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	if err != nil {
		return nil, err
	}
	var ok string
	err = conn.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&ok)
	conn.Close()
	if err != nil || ok != "ok" {
		return nil, fmt.Errorf("%w: %s: SQLite's integrity check says %q (%v)", ErrBadBackup, file, ok, err)
	}
	tmp, err := os.MkdirTemp("", "airseal-backup-check-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	cp := filepath.Join(tmp, "state.db")
	if err := copyFile(file, cp); err != nil {
		return nil, err
	}
	st, err := seatstore.OpenSQLite(cp)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadBackup, file, err)
	}
	defer st.Close()
	state, err := st.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadBackup, file, err)
	}
	res := &BackupResult{File: file, Bytes: fi.Size(), Licenses: len(state.Licenses), Leases: len(state.Leases)}
	var prev [32]byte
	err = st.Events(ctx, time.Time{}, time.Time{}, func(e seatstore.LoggedEvent) error {
		if e.Seq != res.Head+1 {
			return fmt.Errorf("usage record %d follows %d", e.Seq, res.Head)
		}
		r := usagereport.Record{Seq: e.Seq, Time: e.Time, Kind: string(e.Kind), Product: e.Product, LeaseID: e.LeaseID,
			Session: e.Session, User: e.User, Detail: e.Detail}
		if usagereport.ChainHash(prev, &r) != e.Hash {
			return fmt.Errorf("usage record %d does not match its hash chain", e.Seq)
		}
		prev, res.Head = e.Hash, e.Seq
		res.Records++
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadBackup, file, err)
	}
	return res, nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// RestoreResult says what Restore did.
type RestoreResult struct {
	BackupResult
	// Previous is where the store that was replaced was kept ("" when
	// there was none).
	Previous string `json:"previous"`
}

// Restore replaces the directory's store with a backup file. It takes the
// directory lock first, so it refuses (ErrBusy) while the server runs;
// checks the backup (CheckBackup); keeps the current store (with its WAL
// and its change journal) as state.db.before-restore-TIME; and moves a checked copy into place.
//
// Restoring an older copy takes the usage log back: the vendor sees that
// fork when the next usage report is checked against the previous one.
func Restore(ctx context.Context, d Dir, file string, now time.Time) (*RestoreResult, error) {
	unlock, err := d.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	chk, err := CheckBackup(ctx, file)
	if err != nil {
		return nil, err
	}
	res := &RestoreResult{BackupResult: *chk}
	tmp := d.StorePath() + ".restoring"
	os.Remove(tmp)
	if err := copyFile(file, tmp); err != nil {
		return nil, err
	}
	db := d.StorePath()
	if _, err := os.Stat(db); err == nil {
		res.Previous = db + ".before-restore-" + now.UTC().Format("20060102T150405Z")
		// The change journal goes with the database it belongs to: left
		// in place, its records would be replayed onto the restored copy.
		sufs := []string{"", "-wal", "-shm"}
		for _, f := range seatstore.JournalFiles(db) {
			sufs = append(sufs, f[len(db):])
		}
		for _, suf := range sufs {
			if err := os.Rename(db+suf, res.Previous+suf); err != nil && !errors.Is(err, os.ErrNotExist) {
				os.Remove(tmp)
				return nil, fmt.Errorf("keeping the current store: %w", err)
			}
		}
	}
	if err := os.Rename(tmp, db); err != nil {
		return nil, err
	}
	return res, atomicfile.SyncDir(d.Path)
}

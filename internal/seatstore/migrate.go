package seatstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// ErrSchemaTooNew is returned by OpenSQLite and OpenPostgres for a
// database written by a newer license-server: this binary does not know
// its schema and must not write to it.
var ErrSchemaTooNew = errors.New("seat store database is newer than this license-server")

// migrationFiles are the schema migrations, applied in order. A file
// NNNN_name.sql runs on every database; NNNN_name.DIALECT.sql (sqlite,
// postgres) only on that one, where the dialect forces a difference. Each
// number from 0001 up is used exactly once per dialect.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	file    string
	sql     string
}

// migrations returns the migrations of dialect, checked to be numbered
// 1..N without a gap or a duplicate.
func migrations(dialect string) ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	byVersion := map[int]migration{}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".sql")
		num, rest, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", n)
		}
		if i := strings.LastIndexByte(rest, '.'); i >= 0 && rest[i+1:] != dialect {
			continue // another dialect's
		}
		if old, dup := byVersion[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s both have version %d for %s", old.file, n, v, dialect)
		}
		b, err := migrationFiles.ReadFile(n)
		if err != nil {
			return nil, err
		}
		byVersion[v] = migration{version: v, file: n, sql: string(b)}
	}
	out := make([]migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration version %d is missing for %s (next is %s)", i+1, dialect, m.file)
		}
	}
	return out, nil
}

// SchemaVersion is the schema version this binary writes.
func SchemaVersion() int {
	ms, err := migrations("sqlite")
	if err != nil {
		panic(err) // the embedded files are checked by TestMigrations
	}
	return len(ms)
}

// migrate brings the database named name up to the newest schema in one
// transaction, or refuses it when it is newer than this binary.
func migrate(ctx context.Context, db *sql.DB, d *dialect, name string) error {
	ms, err := migrations(d.name)
	if err != nil {
		return err
	}
	// A database already at this version needs no write transaction: a
	// second process opening the store of a running server (backup,
	// status) must not wait for the write lock, which a server under load
	// takes back to back (a backup failed so with "database is locked").
	// A version is never lowered, so what is read here stays true.
	tooNew := func(v int) error {
		return fmt.Errorf("%w: %s has schema version %d, this license-server knows versions up to %d; run the license-server version that wrote it, or restore a backup made by this one", ErrSchemaTooNew, name, v, len(ms))
	}
	var cur int
	if err := db.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&cur); err == nil {
		if cur > len(ms) {
			return tooNew(cur)
		}
		if cur == len(ms) {
			return nil
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("seatstore: %s: %w", name, err)
	}
	defer tx.Rollback()
	if d.migrateLock != "" {
		if _, err := tx.ExecContext(ctx, d.migrateLock); err != nil {
			return fmt.Errorf("seatstore: %s: locking for migration: %w", name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("seatstore: %s: %w", name, err)
	}
	v := 0
	switch err := tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v); {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return fmt.Errorf("seatstore: %s: %w", name, err)
		}
	case err != nil:
		return fmt.Errorf("seatstore: %s: reading schema_version: %w", name, err)
	}
	if v > len(ms) {
		return tooNew(v)
	}
	if v == len(ms) {
		return nil
	}
	for _, m := range ms[v:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("seatstore: %s: migration %s: %w", name, m.file, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = $1`, len(ms)); err != nil {
		return fmt.Errorf("seatstore: %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("seatstore: %s: migrating to schema version %d: %w", name, len(ms), err)
	}
	return nil
}

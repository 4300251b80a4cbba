package seatstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/internal/seatstore/storetest"
	_ "modernc.org/sqlite"
)

func openSQLite(t *testing.T, path string) *seatstore.SQLite {
	t.Helper()
	s, err := seatstore.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSQLite(t *testing.T) {
	storetest.RunWith(t, func(t *testing.T) seatstore.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "seats.db"))
	}, storetest.Options{
		Reopen: func(t *testing.T, s seatstore.Store) seatstore.Store {
			return openSQLite(t, s.(*seatstore.SQLite).Path())
		},
		Second: func(t *testing.T, s seatstore.Store) seatstore.Store {
			return openSQLite(t, s.(*seatstore.SQLite).Path())
		},
	})
}

func TestSQLiteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "seats.db")
	s := openSQLite(t, path)
	if err := s.Commit(context.Background(), seatstore.Change{Settings: map[string]string{"a": "b"}}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600 (leases and token hashes)", f, fi.Mode().Perm())
		}
	}
	s.Close()
	// Not a regular file, not a database.
	if _, err := seatstore.OpenSQLite(dir); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("OpenSQLite(directory) = %v", err)
	}
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, []byte(strings.Repeat("not sqlite ", 1000)), 0o600)
	if _, err := seatstore.OpenSQLite(junk); err == nil || !strings.Contains(err.Error(), "not a SQLite database") || !strings.Contains(err.Error(), junk) {
		t.Errorf("OpenSQLite(junk) = %v", err)
	}
}

func TestSQLiteSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seats.db")
	openSQLite(t, path).Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := db.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != seatstore.SchemaVersion() {
		t.Fatalf("schema_version = %d, %v; want %d", v, err, seatstore.SchemaVersion())
	}
	if _, err := db.Exec(`UPDATE schema_version SET version = version + 1`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = seatstore.OpenSQLite(path)
	if !errors.Is(err, seatstore.ErrSchemaTooNew) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), fmt.Sprintf("version %d", seatstore.SchemaVersion()+1)) {
		t.Fatalf("OpenSQLite of a newer database: %v; want ErrSchemaTooNew naming %s and version %d", err, path, seatstore.SchemaVersion()+1)
	}
}

func TestSQLiteGroupCommit(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "seats.db"))
	defer s.Close()
	const n = 200
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- s.Commit(context.Background(), seatstore.Change{Settings: map[string]string{string(rune('a' + i%26)): "x"}, Events: storetestEvents(i)})
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if b := s.Batches(); b >= n {
		t.Errorf("%d commits took %d transactions: no group commit", n, b)
	} else {
		t.Logf("%d concurrent commits in %d transactions", n, b)
	}
	if got := len(storetest.AllEvents(t, s)); got != n {
		t.Fatalf("%d events, want %d", got, n)
	}
}

// TestSQLiteCommitNow: commits in the caller's goroutine mixed with
// queued ones keep one gapless chained log, and stop at Close.
func TestSQLiteCommitNow(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "seats.db"))
	const n = 100
	errs := make(chan error, n)
	for i := range n {
		go func() {
			c := seatstore.Change{Events: storetestEvents(i)}
			if i%2 == 0 {
				errs <- s.CommitNow(context.Background(), c)
			} else {
				errs <- s.Commit(context.Background(), c)
			}
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := len(storetest.AllEvents(t, s)); got != n {
		t.Fatalf("%d events, want %d", got, n)
	}
	if err := s.CommitNow(context.Background(), seatstore.Change{Settings: map[string]string{"k": "\x00"}}); err == nil {
		t.Error("CommitNow took a value with a NUL byte")
	}
	s.Close()
	if err := s.CommitNow(context.Background(), seatstore.Change{Events: storetestEvents(n)}); !errors.Is(err, seatstore.ErrClosed) {
		t.Errorf("CommitNow after Close: %v, want ErrClosed", err)
	}
}

func TestSQLiteBackup(t *testing.T) {
	dir := t.TempDir()
	s := openSQLite(t, filepath.Join(dir, "seats.db"))
	defer s.Close()
	ctx := context.Background()
	// Commits go on while the backup runs.
	stop := make(chan struct{})
	done := make(chan int)
	// One commit before the backup for sure; more race it.
	if err := s.Commit(ctx, seatstore.Change{Events: storetestEvents(0), Settings: map[string]string{"n": "0"}}); err != nil {
		t.Fatal(err)
	}
	go func() {
		n := 1
		for ; ; n++ {
			select {
			case <-stop:
				done <- n
				return
			default:
			}
			if err := s.Commit(ctx, seatstore.Change{Events: storetestEvents(n), Settings: map[string]string{"n": fmt.Sprint(n)}}); err != nil {
				t.Error(err)
				done <- n
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	backup := filepath.Join(dir, "backup.db")
	if err := s.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	close(stop)
	n := <-done
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, %v; want mode 0600", fi, err)
	}
	if err := s.Backup(ctx, backup); err == nil || !strings.Contains(err.Error(), "backup.db") {
		t.Fatalf("Backup over an existing file: %v", err)
	}
	b := openSQLite(t, backup)
	defer b.Close()
	st, err := b.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	evs := storetest.AllEvents(t, b) // consistent: no gap, chain whole
	// The copy is the state after one Commit: its setting names the
	// commit of its last event.
	if len(evs) == 0 || st.Settings["n"] != fmt.Sprint(len(evs)-1) || len(evs) > n {
		t.Fatalf("backup has %d events and setting n=%q (%d commits made): not one Commit's state", len(evs), st.Settings["n"], n)
	}
}

// TestSQLiteMatchesMemory: random changes give the same answers and
// states on SQLite as on the reference Memory store.
func TestSQLiteMatchesMemory(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			s := openSQLite(t, filepath.Join(t.TempDir(), "seats.db"))
			defer s.Close()
			storetest.Differential(t, seatstore.NewMemory(), s, seed, 300)
		})
	}
}

package seatstore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestSQLiteBackgroundCheckpoint: the writer's connection checkpoints only
// past the guard, and the background checkpointer copies the WAL after
// ckptEveryTx transactions; Close stops it.
func TestSQLiteBackgroundCheckpoint(t *testing.T) {
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "seats.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var pages int
	if err := s.wdb.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&pages); err != nil || pages != walGuardPages {
		t.Fatalf("writer's wal_autocheckpoint = %d (%v), want %d", pages, err, walGuardPages)
	}
	for i := range ckptEveryTx + 1 {
		if err := s.Commit(ctx, Change{Settings: map[string]string{"k": fmt.Sprint(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.ckpts.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no background checkpoint after ckptEveryTx transactions")
		}
		time.Sleep(ckptTick)
	}
	// Everything committed is in the database file now: a checkpoint has
	// nothing left to copy.
	var busy, log, done int
	if err := s.rdb.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &done); err != nil {
		t.Fatal(err)
	}
	if busy != 0 || log != done {
		t.Fatalf("after the background checkpoint: busy %d, %d WAL frames, %d copied", busy, log, done)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.ckptDone:
	default:
		t.Fatal("the checkpointer runs on after Close")
	}
}

// TestSQLiteWriterCache: the writer's page cache holds a large lease table.
func TestSQLiteWriterCache(t *testing.T) {
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "seats.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var kib int
	if err := s.wdb.QueryRowContext(context.Background(), `PRAGMA cache_size`).Scan(&kib); err != nil || kib != -writerCacheKiB {
		t.Fatalf("writer's cache_size = %d (%v), want %d", kib, err, -writerCacheKiB)
	}
}

package seatserver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
)

// TestBackupUnderLoad takes backups of a SQLite store while two clients
// check out seats as fast as they can, each releasing its oldest lease
// once it holds 500 (the store changes all along and stays small): every
// copy passes its checks and is one snapshot between commits (a checkout
// commits its lease and its grant record together, a release deletes the
// lease and adds its release record together, so a copy holds exactly as
// many leases as grant records less release records). Then restore
// refuses while the directory is locked and puts the copy in place
// otherwise.
func TestBackupUnderLoad(t *testing.T) {
	dir := Dir{Path: t.TempDir()}
	st, err := seatstore.OpenSQLite(dir.StorePath())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, v: newVendor(t), clock: newClock()}
	e.key = ed25519Key(t)
	e.pub = pubOf(e.key)
	srv, err := New(context.Background(), Config{Store: st, Key: e.key, Keyring: e.v.ring(), Machine: bareMetal, Now: e.clock.Now, Lease: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	const held = 500 // leases each client holds at most
	arm, _ := e.v.issue(t, e.pub, lic{seats: 2 * held})
	if _, err := srv.Install(context.Background(), []byte(arm), "", ""); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ids []string
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if len(ids) == held {
					var released bool
					err := srv.apply(ctx, func(now time.Time) ([]seats.Event, seatstore.Change) {
						var ev []seats.Event
						released, ev = srv.core.Release(ids[0], now, "")
						return ev, seatstore.Change{}
					})
					if err != nil || !released {
						t.Errorf("release %s: %v, released %v", ids[0], err, released)
						return
					}
					ids = ids[1:]
				}
				sess, _, err := srv.Checkout(ctx, seats.Request{Product: "acme-erp", ClientSessionID: fmt.Sprintf("load-%d-%012d", w, i), UserName: "u", ComputerName: "pc"})
				if err != nil {
					t.Error(err)
					return
				}
				ids = append(ids, sess.ID)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	var last *BackupResult
	for i := range 3 {
		out := filepath.Join(t.TempDir(), fmt.Sprintf("b%d.db", i))
		res, err := Backup(ctx, dir.StorePath(), out)
		if err != nil {
			t.Fatal(err)
		}
		grants, releases := countKind(t, res.File, seats.EventGrant), countKind(t, res.File, seats.EventRelease)
		if res.Leases == 0 || int64(res.Leases) != grants-releases {
			t.Fatalf("backup %d: %d leases but %d grant and %d release records: not one snapshot", i, res.Leases, grants, releases)
		}
		t.Logf("backup %d: %d leases, %d grants, %d releases", i, res.Leases, grants, releases)
		if _, err := Backup(ctx, dir.StorePath(), out); err == nil {
			t.Fatal("a backup over an existing file")
		}
		last = res
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	srv.Close()
	st.Close()

	// A damaged copy is refused.
	bad := filepath.Join(t.TempDir(), "bad.db")
	data, _ := os.ReadFile(last.File)
	// Pages overwritten past the file header (a bad sector, a copy cut
	// short and padded): the schema itself is gone.
	for i := 100; i < len(data); i++ {
		data[i] = 0xaa
	}
	os.WriteFile(bad, data, 0o600)
	if _, err := CheckBackup(ctx, bad); !errors.Is(err, ErrBadBackup) {
		t.Fatalf("damaged backup: %v", err)
	}

	// A copy whose usage log was edited is refused too.
	edited := filepath.Join(t.TempDir(), "edited.db")
	if err := copyFile(last.File, edited); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", edited)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE events SET user_name = 'someone else' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := CheckBackup(ctx, edited); !errors.Is(err, ErrBadBackup) {
		t.Fatalf("edited backup: %v", err)
	}

	unlock, err := dir.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ctx, dir, last.File, e.clock.Now()); !errors.Is(err, ErrBusy) {
		t.Fatalf("restore while locked: %v", err)
	}
	unlock()
	res, err := Restore(ctx, dir, last.File, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.Previous == "" {
		t.Fatal("the replaced store was not kept")
	}
	st2, err := seatstore.OpenSQLite(dir.StorePath())
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	state, err := st2.Load(ctx)
	if err != nil || len(state.Leases) != last.Leases {
		t.Fatalf("restored: %d leases, want %d (%v)", len(state.Leases), last.Leases, err)
	}
}

func ed25519Key(t testing.TB) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pubOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

// TestBackupRefusesOtherSchema: a database of another schema version (a
// running server older or newer than this binary) is neither migrated nor
// copied; nothing is written.
func TestBackupRefusesOtherSchema(t *testing.T) {
	ctx := context.Background()
	for _, v := range []int{seatstore.SchemaVersion() - 1, seatstore.SchemaVersion() + 1} {
		db := filepath.Join(t.TempDir(), "state.db")
		st, err := seatstore.OpenSQLite(db)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		conn, err := sql.Open("sqlite", db)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(`UPDATE schema_version SET version = ?`, v); err != nil {
			t.Fatal(err)
		}
		conn.Close()
		out := filepath.Join(t.TempDir(), "b.db")
		if _, err := Backup(ctx, db, out); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("schema version %d", v)) {
			t.Fatalf("schema %d: %v", v, err)
		}
		if _, err := os.Lstat(out); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("schema %d: a file was written: %v", v, err)
		}
		conn, _ = sql.Open("sqlite", db)
		var got int
		if err := conn.QueryRow(`SELECT version FROM schema_version`).Scan(&got); err != nil || got != v {
			t.Fatalf("schema %d: the database was changed to %d (%v)", v, got, err)
		}
		conn.Close()
	}
}

// countKind counts the usage records of one kind in a backup file.
func countKind(t *testing.T, file string, kind seats.EventKind) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow(`SELECT count(*) FROM events WHERE kind = ?`, string(kind)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

package seatstore_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
)

// writeV1 fills db, empty, with schema version 1 and a state as version 1
// stored it: per-session leases with their own seat_holds rows, two
// leases sharing a per-computer seat, a lost lease and a chained usage log.
func writeV1(t *testing.T, db *sql.DB) {
	t.Helper()
	v1, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(string(v1))
	exec(`CREATE TABLE schema_version (version INTEGER NOT NULL)`)
	exec(`INSERT INTO schema_version (version) VALUES (1)`)
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).UnixNano()
	exp := at + int64(5*time.Minute)
	for _, l := range []struct{ id, computer, lost, key string }{
		{"L-A", "PC1", "", "s:L-A"}, {"L-B", "PC2", "", "s:L-B"},
		{"L-C", "PC3", "", "c:PC3"}, {"L-D", "PC3", "", "c:PC3"},
		{"L-E", "PC4", "license removed", "s:L-E"},
	} {
		exec(`INSERT INTO leases (id, product, session_id, app_name, user_name, computer_name, session_started, mode, granted, expires, lost, seat_key)
VALUES ($1, 'acme', $2, 'app', 'u', $3, $4, 'licensed', $4, $5, $6, $7)`, l.id, "sess-"+l.id, l.computer, at, exp, l.lost, l.key)
	}
	exec(`INSERT INTO seat_holds (product, seat_key, leases) VALUES ('acme', 's:L-A', 1), ('acme', 's:L-B', 1), ('acme', 'c:PC3', 2)`)
	exec(`INSERT INTO seat_products (product, in_use) VALUES ('acme', 3)`)
	var prev [32]byte
	for seq := int64(1); seq <= 3; seq++ {
		e := seatstore.LoggedEvent{Seq: seq, Event: seats.Event{Time: time.Unix(0, at+seq).UTC(), Kind: seats.EventGrant, Product: "acme", LeaseID: "L-A", Session: "sess-L-A", User: "u"}}
		e.Hash = seatstore.ChainHash(prev, e)
		prev = e.Hash
		exec(`INSERT INTO events (seq, at, kind, product, lease_id, session_id, user_name, detail, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8)`,
			e.Seq, e.Time.UnixNano(), string(e.Kind), e.Product, e.LeaseID, e.Session, e.User, e.Hash[:])
	}
	exec(`UPDATE log_head SET next_seq = 4, hash = $1 WHERE id = 1`, prev[:])
}

// checkV2 checks a store migrated from writeV1's state: the same leases
// and log, per-session seats counted from the lease rows (a release frees
// one, a grant over capacity is refused), shared seats still shared.
func checkV2(t *testing.T, s seatstore.Store, db *sql.DB) {
	t.Helper()
	ctx := context.Background()
	var keys []string
	rows, err := db.Query(`SELECT seat_key FROM seat_holds ORDER BY seat_key`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		rows.Scan(&k)
		keys = append(keys, k)
	}
	rows.Close()
	if len(keys) != 1 || keys[0] != "c:PC3" {
		t.Errorf("seat_holds after migration: %q, want only the shared c:PC3", keys)
	}
	st, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Leases) != 5 || st.Leases[4].Lost != "license removed" {
		t.Fatalf("leases after migration: %+v", st.Leases)
	}
	n := 0
	var prev [32]byte
	err = s.Events(ctx, time.Time{}, time.Time{}, func(e seatstore.LoggedEvent) error {
		n++
		if e.Seq != int64(n) || e.Hash != seatstore.ChainHash(prev, e) {
			t.Errorf("event %d: seq %d, chain broken", n, e.Seq)
		}
		prev = e.Hash
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("events after migration: %d, %v", n, err)
	}
	// 3 seats in use (L-A, L-B, PC3): a new session gets no seat of 3.
	grant := func(id, computer string, seatKey string, capacity int) error {
		l := st.Leases[0]
		l.ID, l.ClientSessionID, l.ComputerName = id, "sess-"+id, computer
		return s.Commit(ctx, seatstore.Change{Grants: []seatstore.Grant{{Lease: l, SeatKey: seatKey, Seats: capacity}}})
	}
	if err := grant("L-F", "PC5", "", 3); err == nil {
		t.Fatal("a 4th seat of 3 was granted after migration")
	}
	// Another session on PC3 shares its seat.
	if err := grant("L-G", "PC3", "c:PC3", 3); err != nil {
		t.Fatalf("sharing PC3's seat: %v", err)
	}
	// Releasing L-A (its seat counted from the lease row) frees a seat.
	if err := s.Commit(ctx, seatstore.Change{DeleteLeases: []string{"L-A"}}); err != nil {
		t.Fatal(err)
	}
	if err := grant("L-F", "PC5", "", 3); err != nil {
		t.Fatalf("granting the seat L-A freed: %v", err)
	}
	if err := grant("L-H", "PC6", "", 3); err == nil {
		t.Fatal("a 4th seat of 3 was granted")
	}
	var inUse int
	if err := db.QueryRow(`SELECT in_use FROM seat_products WHERE product = 'acme'`).Scan(&inUse); err != nil || inUse != 3 {
		t.Errorf("seat_products.in_use = %d, %v; want 3", inUse, err)
	}
}

func TestSQLiteMigrateV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seats.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	writeV1(t, db)
	s := openSQLite(t, path)
	defer s.Close()
	checkV2(t, s, db)
	var sqlText string
	if err := db.QueryRow(`SELECT sql FROM sqlite_master WHERE name = 'leases'`).Scan(&sqlText); err != nil {
		t.Fatal(err)
	}
	if want := "WITHOUT ROWID"; !strings.Contains(sqlText, want) {
		t.Errorf("leases after migration: %s; want %s", sqlText, want)
	}
}

func TestPostgresMigrateV1(t *testing.T) {
	url := newPGDatabase(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	writeV1(t, db)
	s := openPG(t, url)
	defer s.Close()
	checkV2(t, s, db)
}

// A Grant naming another lease's per-session seat is refused: SQL stores
// count per-session seats from the lease row itself.
func TestGrantForeignSessionKey(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "seats.db"))
	defer s.Close()
	l := seats.Lease{ID: "L-X", Request: seats.Request{Product: "acme", ClientSessionID: "x", ComputerName: "PC"}, Mode: seats.ModeLicensed,
		Granted: time.Now(), Expires: time.Now().Add(time.Minute)}
	err := s.Commit(context.Background(), seatstore.Change{Grants: []seatstore.Grant{{Lease: l, SeatKey: "s:L-Y", Seats: 5}}})
	if err == nil || !strings.Contains(err.Error(), "SeatKey") {
		t.Fatalf("Grant with another lease's seat key: %v", err)
	}
}

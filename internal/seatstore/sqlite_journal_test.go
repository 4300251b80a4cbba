package seatstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/devices"
	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/pkg/license"
)

var jt0 = time.Date(2026, 12, 1, 9, 0, 0, 123456789, time.UTC)

func jlease(id, product string, at time.Time) seats.Lease {
	return seats.Lease{ID: id, Request: seats.Request{Product: product, ClientSessionID: "sess-" + id, AppName: "app", UserName: "u",
		ComputerName: "PC", SessionStarted: at}, Mode: seats.ModeLicensed, Granted: at, Expires: at.Add(time.Minute)}
}

// jchange is checkout i: a lease put, its grant event and a setting.
func jchange(i int) Change {
	id := fmt.Sprint("L-", i)
	at := jt0.Add(time.Duration(i) * time.Second)
	return Change{PutLeases: []seats.Lease{jlease(id, "acme", at)},
		Events:   []seats.Event{{Time: at, Kind: seats.EventGrant, Product: "acme", LeaseID: id, User: "u"}},
		Settings: map[string]string{"last": fmt.Sprint(i)}}
}

func fullJournalChange() Change {
	l2 := jlease("L-2", "acme", jt0)
	l2.Lost, l2.SessionStarted = "gone", time.Time{}
	return Change{
		PutLicenses:    []LicenseRecord{{Serial: "S-1", Raw: []byte("\x00\xffraw"), ITN: "7707083893", IEC: "773601001", Installed: jt0}},
		DeleteLicenses: []string{"S-0"},
		PutLeases:      []seats.Lease{jlease("L-1", "acme", jt0), l2},
		DeleteLeases:   []string{"L-0"},
		PutTokens:      []TokenRecord{{Name: "ci", Role: "client", SHA256: [32]byte{1, 2, 31: 9}, Created: jt0}},
		DeleteTokens:   []string{"old"},
		PutDevices: []devices.Device{{Code: "TSD-1", Name: "Терминал", App: "acme", IP: "10.0.0.1", Registered: jt0, State: devices.Approved,
			Decided: jt0, DecidedBy: "admin", KeyNo: "S-1", DemoLimits: []license.Feature{{Name: "lines", Value: -3}, {Name: "print", IsBool: true}}}},
		DeleteDevices: []string{"TSD-0"},
		Settings:      map[string]string{"a": "b", "": ""},
		Events:        []seats.Event{{Time: jt0, Kind: seats.EventGrant, Product: "acme", LeaseID: "L-1", Session: "s", User: "u", Detail: "d"}},
	}
}

func TestJournalCodecRoundTrip(t *testing.T) {
	c := fullJournalChange()
	c.Settings = map[string]string{"a": "b", "k": ""}
	cs := []*Change{&c, {}, {Events: []seats.Event{{Time: jt0.Add(-time.Hour * 24 * 365 * 100), Kind: "x"}}}}
	p := encodeChanges(nil, cs)
	got, err := decodeChanges(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(cs) {
		t.Fatalf("%d changes, want %d", len(got), len(cs))
	}
	for i := range cs {
		if !reflect.DeepEqual(*got[i], *cs[i]) {
			t.Errorf("change %d:\n got  %+v\n want %+v", i, *got[i], *cs[i])
		}
	}
	// Every prefix and every trailing byte is refused.
	for n := range len(p) {
		if _, err := decodeChanges(p[:n]); err == nil {
			t.Fatalf("a %d-byte prefix of a %d-byte payload decoded", n, len(p))
		}
	}
	if _, err := decodeChanges(append(p, 0)); err == nil {
		t.Fatal("a trailing byte decoded")
	}
	// What Commit would refuse is refused on the way back in too.
	bad := Change{Settings: map[string]string{"k": "\x00"}}
	if _, err := decodeChanges(encodeChanges(nil, []*Change{&bad})); err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Fatalf("a NUL in a record: %v", err)
	}
}

// journalFile returns a journal file's bytes holding records of the
// given changes from sequence number first.
func journalFile(first int64, cs ...Change) []byte {
	b := make([]byte, journalHeader)
	copy(b, journalMagic)
	binary.LittleEndian.PutUint32(b[len(journalMagic):], journalVersion)
	for i := range cs {
		b = appendRecord(b, first+int64(i), encodeChanges(nil, []*Change{&cs[i]}))
	}
	return b
}

func appendRecord(b []byte, seq int64, payload []byte) []byte {
	return appendRecordBits(b, seq, payload, 0)
}

// appendRecordBits appends a record whose first word has bits (the lag,
// lazyFlag) besides the payload's length.
func appendRecordBits(b []byte, seq int64, payload []byte, bits uint32) []byte {
	var h [recordHeader]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(len(payload))|bits)
	binary.LittleEndian.PutUint64(h[8:], uint64(seq))
	crc := crc32.Update(crc32.Update(crc32.Checksum(h[0:4], crcTable), crcTable, h[8:16]), crcTable, payload)
	binary.LittleEndian.PutUint32(h[4:], crc)
	return append(append(b, h[:]...), payload...)
}

// FuzzJournalScan: reading a journal file (the customer's) never panics,
// never allocates beyond the file's own size for a forged length, and
// what it returns re-encodes to records of the same sequence numbers.
func FuzzJournalScan(f *testing.F) {
	f.Add(journalFile(1, jchange(1), jchange(2), fullJournalChange()))
	f.Add(journalFile(7, jchange(7))[:journalHeader+5])
	f.Add([]byte(journalMagic))
	f.Add(journalFile(1, Change{}))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := scanJournal(bytes.NewReader(data), int64(len(data)), "fuzz", true)
		if err != nil {
			if !errors.Is(err, ErrJournal) {
				t.Fatalf("error not ErrJournal: %v", err)
			}
			return
		}
		for i, r := range sc.recs {
			if i > 0 && r.seq != sc.recs[i-1].seq+1 {
				t.Fatalf("records %d then %d", sc.recs[i-1].seq, r.seq)
			}
			if _, err := decodeChanges(encodeChanges(nil, r.cs)); err != nil {
				t.Fatalf("record %d re-encoded does not decode: %v", r.seq, err)
			}
		}
		if sc.end > int64(len(data)) && len(data) >= journalHeader {
			t.Fatalf("end %d beyond %d bytes", sc.end, len(data))
		}
	})
}

// FuzzJournalDecode: a record's payload (past its CRC, which anyone can
// compute) never panics the decoder nor makes it allocate more than the
// payload's size allows; what it accepts passes validate and re-encodes
// to the same payload.
func FuzzJournalDecode(f *testing.F) {
	full := fullJournalChange()
	c1 := jchange(1)
	f.Add(encodeChanges(nil, []*Change{&full, &c1}))
	f.Add(encodeChanges(nil, []*Change{{}}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, p []byte) {
		cs, err := decodeChanges(p)
		if err != nil {
			if !errors.Is(err, errJournalDecode) {
				t.Fatalf("error not errJournalDecode: %v", err)
			}
			return
		}
		for _, c := range cs {
			if err := validate(c); err != nil {
				t.Fatalf("accepted a change Commit refuses: %v", err)
			}
		}
		if again := encodeChanges(nil, cs); !bytes.Equal(again, p) {
			// Several encodings of one value (a non-minimal varint) may
			// decode; the re-encoding must decode to the same changes.
			back, err := decodeChanges(again)
			if err != nil || !reflect.DeepEqual(back, cs) {
				t.Fatalf("re-encoded changes differ: %v", err)
			}
		}
	})
}

// crash copies the store's files (database, WAL, journal) as a kill -9
// would leave them: s must not be writing to the database meanwhile (a
// long fold interval).
func crash(t *testing.T, s *SQLite) string {
	t.Helper()
	dir := t.TempDir()
	to := filepath.Join(dir, filepath.Base(s.Path()))
	for _, suf := range append([]string{"", "-wal"}, "-changes-0", "-changes-1") {
		in, err := os.Open(s.Path() + suf)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(to + suf)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	return to
}

func openT(t *testing.T, path string) *SQLite {
	t.Helper()
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func commitT(t *testing.T, s Store, c Change) {
	t.Helper()
	if err := s.Commit(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}

func leaseIDs(t *testing.T, s Store) []string {
	t.Helper()
	st, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range st.Leases {
		ids = append(ids, l.ID)
	}
	return ids
}

func eventCount(t *testing.T, s Store) int {
	t.Helper()
	n := 0
	var prev [32]byte
	err := s.Events(context.Background(), time.Time{}, time.Time{}, func(e LoggedEvent) error {
		n++
		if e.Seq != int64(n) || ChainHash(prev, e) != e.Hash {
			return fmt.Errorf("entry %d: seq %d, chain broken", n, e.Seq)
		}
		prev = e.Hash
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestJournalReplay: changes acknowledged but not folded when the process
// died are in the database after it is opened again; the journal then
// goes on from there.
func TestJournalReplay(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "seats.db"))
	commitT(t, s, jchange(0))
	if _, err := s.Load(context.Background()); err != nil { // folds 0
		t.Fatal(err)
	}
	s.SetFoldInterval(time.Hour)
	time.Sleep(300 * time.Millisecond) // the folder's timer set with the old interval
	for i := 1; i <= 5; i++ {
		if err := s.CommitNow(context.Background(), jchange(i)); err != nil {
			t.Fatal(err)
		}
	}
	if s.jr.pendingLen() != 5 {
		t.Fatalf("%d records pending, want 5 (folded early?)", s.jr.pendingLen())
	}
	path := crash(t, s)
	var folded int64
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(qJournalRead).Scan(&folded); err != nil || folded != 1 {
		t.Fatalf("the crashed database has folded %d (%v), want 1", folded, err)
	}
	db.Close()
	s2 := openT(t, path)
	if got := leaseIDs(t, s2); len(got) != 6 {
		t.Fatalf("after replay: leases %v, want 6", got)
	}
	if n := eventCount(t, s2); n != 6 {
		t.Fatalf("after replay: %d events, want 6", n)
	}
	commitT(t, s2, jchange(6))
	s2.Close()
	s3 := openT(t, path)
	if got := leaseIDs(t, s3); len(got) != 7 {
		t.Fatalf("after reopening: leases %v, want 7", got)
	}
	if n := eventCount(t, s3); n != 7 {
		t.Fatalf("after reopening: %d events, want 7", n)
	}
}

func (j *journal) pendingLen() int {
	j.pmu.Lock()
	defer j.pmu.Unlock()
	return len(j.pending)
}

// unfolded returns a crashed copy of a store holding n journaled changes
// not folded (records 1..n) and the journal file holding them.
func unfolded(t *testing.T, n int) (db, file string, offsets []int64) {
	t.Helper()
	return unfoldedLazy(t, make([]bool, n)...)
}

func damage(t *testing.T, file string, at int64) {
	t.Helper()
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	f.ReadAt(b, at)
	b[0] ^= 0x55
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

// TestJournalTornTail: a last record that does not check (a write torn
// by the crash, never acknowledged) ends the replay; the journal goes on
// over it.
func TestJournalTornTail(t *testing.T) {
	db, file, offs := unfolded(t, 3)
	damage(t, file, offs[2]+recordHeader+3)
	s := openT(t, db)
	if got := leaseIDs(t, s); !reflect.DeepEqual(got, []string{"L-0", "L-1"}) {
		t.Fatalf("after a torn tail: leases %v, want L-0 L-1", got)
	}
	commitT(t, s, jchange(7))
	s.Close()
	s = openT(t, db)
	if got := leaseIDs(t, s); !reflect.DeepEqual(got, []string{"L-0", "L-1", "L-7"}) {
		t.Fatalf("after reopening: leases %v", got)
	}
	if n := eventCount(t, s); n != 3 {
		t.Fatalf("%d events, want 3", n)
	}
}

// TestJournalCorruptMiddle: a damaged record with intact ones after it is
// refused with the file's name and what to do; so is a journal of a
// newer format, and one that does not continue the database.
func TestJournalCorruptMiddle(t *testing.T) {
	db, file, offs := unfolded(t, 3)
	damage(t, file, offs[1]+recordHeader+2)
	_, err := OpenSQLite(db)
	if !errors.Is(err, ErrJournal) || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "restore") {
		t.Fatalf("a damaged middle record: %v", err)
	}
	t.Logf("%v", err)
	// The first record too.
	db, file, offs = unfolded(t, 3)
	damage(t, file, offs[0]+recordHeader+2)
	if _, err := OpenSQLite(db); !errors.Is(err, ErrJournal) || !strings.Contains(err.Error(), "record 1 at offset 32 is damaged") {
		t.Fatalf("a damaged first record: %v", err)
	}

	db, file, _ = unfolded(t, 2)
	f, _ := os.OpenFile(file, os.O_RDWR, 0)
	f.WriteAt([]byte{journalVersion + 1}, int64(len(journalMagic)))
	f.Close()
	_, err = OpenSQLite(db)
	if !errors.Is(err, ErrJournal) || !strings.Contains(err.Error(), "format 2") || !strings.Contains(err.Error(), "license-server version that wrote it") {
		t.Fatalf("a newer journal format: %v", err)
	}

	// Records 5.. of another database: a gap after the folded 0.
	db, file, _ = unfolded(t, 1)
	if err := os.WriteFile(file, journalFile(5, jchange(5)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = OpenSQLite(db)
	if !errors.Is(err, ErrJournal) || !strings.Contains(err.Error(), "does not belong") {
		t.Fatalf("a journal with a gap: %v", err)
	}
}

// TestJournalFoldFailure: while the database refuses the fold, what was
// acknowledged stays journaled and new commits are refused with a clear
// error; once the fold works again, everything is there.
func TestJournalFoldFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seats.db")
	s := openT(t, path)
	s.SetFoldInterval(time.Hour)
	time.Sleep(300 * time.Millisecond)
	commitT(t, s, jchange(0))
	other, err := sql.Open("sqlite", path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec(`DELETE FROM change_journal`); err != nil {
		t.Fatal(err)
	}
	commitT(t, s, jchange(1)) // acknowledged: journaled
	if _, err := s.Load(context.Background()); err == nil || !strings.Contains(err.Error(), "applying the change journal") {
		t.Fatalf("Load with the fold failing: %v", err)
	}
	err = s.Commit(context.Background(), jchange(2))
	if err == nil || !strings.Contains(err.Error(), "no change is taken until it succeeds") {
		t.Fatalf("a commit while the fold fails: %v", err)
	}
	if _, err := other.Exec(`INSERT INTO change_journal (id, folded) VALUES (1, 0)`); err != nil {
		t.Fatal(err)
	}
	if got := leaseIDs(t, s); !reflect.DeepEqual(got, []string{"L-0", "L-1"}) {
		t.Fatalf("after the fold works again: %v", got)
	}
	commitT(t, s, jchange(3))
	if n := eventCount(t, s); n != 3 {
		t.Fatalf("%d events, want 3", n)
	}
}

// TestJournalCoalesce: one fold of many records putting, renewing and
// deleting a few leases leaves the state (and the usage log) that Memory
// reaches applying the same changes one by one.
func TestJournalCoalesce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		s := openT(t, filepath.Join(t.TempDir(), "seats.db"))
		s.SetFoldInterval(time.Hour)
		time.Sleep(300 * time.Millisecond)
		m := NewMemory()
		for i := range 60 {
			var c Change
			for range 1 + rng.IntN(3) {
				id := fmt.Sprint("L-", rng.IntN(4))
				l := jlease(id, []string{"acme", "beta"}[rng.IntN(2)], jt0.Add(time.Duration(i)*time.Second))
				switch rng.IntN(4) {
				case 0:
					c.DeleteLeases = append(c.DeleteLeases, id)
				case 1:
					l.Lost = "lost"
					fallthrough
				default:
					c.PutLeases = append(c.PutLeases, l)
				}
				c.Events = append(c.Events, seats.Event{Time: l.Granted, Kind: seats.EventRenew, Product: l.Product, LeaseID: id})
			}
			for _, st := range []Store{s, m} {
				commitT(t, st, c)
			}
		}
		if n := s.jr.pendingLen(); n != 60 {
			t.Fatalf("%d records pending, want 60", n)
		}
		got, err := s.Load(context.Background()) // one fold
		if err != nil {
			t.Fatal(err)
		}
		want, _ := m.Load(context.Background())
		if !reflect.DeepEqual(got.Leases, want.Leases) {
			t.Fatalf("round %d:\n got  %+v\n want %+v", round, got.Leases, want.Leases)
		}
		// The seat counts follow the leases (a grant counts them).
		inUse := map[string]int64{}
		for _, l := range want.Leases {
			if l.Lost == "" {
				inUse[l.Product]++
			}
		}
		for _, p := range []string{"acme", "beta"} {
			var n int64
			if err := s.rdb.QueryRow(`SELECT in_use FROM seat_products WHERE product = $1`, p).Scan(&n); err != nil && !errors.Is(err, sql.ErrNoRows) {
				t.Fatal(err)
			}
			if n != inUse[p] {
				t.Fatalf("round %d: %s in use %d, leases say %d", round, p, n, inUse[p])
			}
		}
		var ge, me []LoggedEvent
		s.Events(context.Background(), time.Time{}, time.Time{}, func(e LoggedEvent) error { ge = append(ge, e); return nil })
		m.Events(context.Background(), time.Time{}, time.Time{}, func(e LoggedEvent) error { me = append(me, e); return nil })
		if !reflect.DeepEqual(ge, me) {
			t.Fatalf("round %d: the usage logs differ", round)
		}
		s.Close()
	}
}

// TestJournalGuest: a second store on the same database (another
// process: a backup, a report) sees every change the owner acknowledged
// before its read.
func TestJournalGuest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seats.db")
	s := openT(t, path)
	for i := range 5 {
		commitT(t, s, jchange(i))
	}
	g := openT(t, path)
	if !g.jr.guest {
		t.Fatal("the second store owns the journal too")
	}
	if got := leaseIDs(t, g); len(got) != 5 {
		t.Fatalf("the guest sees %v, want 5 leases", got)
	}
	commitT(t, g, jchange(9))
	commitT(t, s, jchange(10))
	if got := leaseIDs(t, s); len(got) != 7 {
		t.Fatalf("the owner sees %v, want 7 leases", got)
	}
	if n := eventCount(t, g); n != 7 {
		t.Fatalf("%d events, want 7", n)
	}
}

// TestJournalSwitch: the writer moves to the other file once the first is
// past switchAt and folded, and a replay reads across both.
func TestJournalSwitch(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "seats.db"))
	big := strings.Repeat("x", 64<<10)
	i := 0
	for s.jr.cur == 0 {
		c := jchange(i)
		c.Settings = map[string]string{"big": big, "last": fmt.Sprint(i)}
		if err := s.CommitNow(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		if i++; i%32 == 0 {
			if _, err := s.Load(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if i > 1000 {
			t.Fatal("no switch to the second file")
		}
	}
	s.SetFoldInterval(time.Hour)
	time.Sleep(300 * time.Millisecond)
	for range 3 {
		if err := s.CommitNow(context.Background(), jchange(i)); err != nil {
			t.Fatal(err)
		}
		i++
	}
	db := crash(t, s)
	s2 := openT(t, db)
	if got := leaseIDs(t, s2); len(got) != i {
		t.Fatalf("%d leases after a replay across the files, want %d", len(got), i)
	}
	if n := eventCount(t, s2); n != i {
		t.Fatalf("%d events, want %d", n, i)
	}
}

// TestJournalLargeChange: a change too large for one record is committed
// to the database directly, after what is journaled, in order.
func TestJournalLargeChange(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "seats.db"))
	s.SetFoldInterval(time.Hour)
	time.Sleep(300 * time.Millisecond)
	commitT(t, s, jchange(0))
	raw := bytes.Repeat([]byte{'x'}, maxRecordPayload+1)
	big := Change{PutLicenses: []LicenseRecord{{Serial: "S-big", Raw: raw, Installed: jt0}},
		Events: []seats.Event{{Time: jt0, Kind: "install", Detail: "S-big"}}}
	records := s.jr.records.Load()
	if err := s.CommitNow(context.Background(), big); err != nil {
		t.Fatal(err)
	}
	if s.jr.records.Load() != records {
		t.Fatal("the large change was journaled")
	}
	if s.jr.pendingLen() != 0 {
		t.Fatal("the journaled change before it was not folded first")
	}
	st, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Licenses) != 1 || !bytes.Equal(st.Licenses[0].Raw, raw) || len(st.Leases) != 1 {
		t.Fatalf("after a large change: %d licenses, %d leases", len(st.Licenses), len(st.Leases))
	}
	var kinds []string
	s.Events(context.Background(), time.Time{}, time.Time{}, func(e LoggedEvent) error { kinds = append(kinds, string(e.Kind)); return nil })
	if !reflect.DeepEqual(kinds, []string{"grant", "install"}) {
		t.Fatalf("usage log %v, want the journaled grant, then the install", kinds)
	}
}

// unfoldedLazy returns a crashed copy of a store holding len(lazy)
// journaled changes not folded (records 1..n, change i lazy when lazy[i])
// and the journal file holding them, with each record's offset.
func unfoldedLazy(t *testing.T, lazy ...bool) (db, file string, offsets []int64) {
	t.Helper()
	s := openT(t, filepath.Join(t.TempDir(), "seats.db"))
	s.SetFoldInterval(time.Hour)
	time.Sleep(300 * time.Millisecond)
	for i, l := range lazy {
		c := jchange(i)
		c.Lazy = l
		if err := s.CommitNow(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	db = crash(t, s)
	file = JournalFiles(db)[0]
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scanJournal(bytes.NewReader(data), int64(len(data)), file, false)
	if err != nil || len(sc.recs) != len(lazy) {
		t.Fatalf("the journal holds %d records (%v), want %d", len(sc.recs), err, len(lazy))
	}
	off := int64(journalHeader)
	for i, r := range sc.recs {
		offsets = append(offsets, off)
		if got := binary.LittleEndian.Uint32(data[off:])&lazyFlag != 0; got != lazy[i] {
			t.Fatalf("record %d: lazy flag %v, want %v", i+1, got, lazy[i])
		}
		off += r.n
	}
	return db, file, offsets
}

// TestJournalLazy: lazy records (acknowledged before their sync) are
// replayed like the others; as unsynced records may reach the disk out of
// order, a damaged record followed only by lazy ones is the tail (cut off),
// while one followed by a synced record is still corruption.
func TestJournalLazy(t *testing.T) {
	db, _, _ := unfoldedLazy(t, false, true, true)
	s := openT(t, db)
	if got := leaseIDs(t, s); !reflect.DeepEqual(got, []string{"L-0", "L-1", "L-2"}) {
		t.Fatalf("lazy records replayed: leases %v, want L-0 L-1 L-2", got)
	}
	s.Close()

	db, file, offs := unfoldedLazy(t, false, true, true)
	damage(t, file, offs[1]+recordHeader+2)
	s = openT(t, db)
	if got := leaseIDs(t, s); !reflect.DeepEqual(got, []string{"L-0"}) {
		t.Fatalf("a lost lazy record followed by a lazy one: leases %v, want L-0", got)
	}
	commitT(t, s, jchange(7))
	s.Close()
	s = openT(t, db)
	if got := leaseIDs(t, s); !reflect.DeepEqual(got, []string{"L-0", "L-7"}) {
		t.Fatalf("after writing on over the cut tail: leases %v, want L-0 L-7", got)
	}
	s.Close()

	db, _, offs = unfoldedLazy(t, true, true)
	damage(t, JournalFiles(db)[0], offs[0]+recordHeader+2)
	s = openT(t, db)
	if got := leaseIDs(t, s); len(got) != 0 {
		t.Fatalf("a lost first lazy record: leases %v, want none", got)
	}
	s.Close()

	// Record 3 was written while lazy record 2 was not durable: a crash
	// during record 3's sync may leave 3 on disk and not 2, and 3 was not
	// acknowledged then. Record 4, written once 3's sync had made 2
	// durable, claims it: a damaged 2 before it is corruption.
	db, file, offs = unfoldedLazy(t, false, true, false)
	damage(t, file, offs[1]+recordHeader+2)
	s = openT(t, db)
	if got := leaseIDs(t, s); !reflect.DeepEqual(got, []string{"L-0"}) {
		t.Fatalf("a lost lazy record followed by a synced one written before it was durable: leases %v, want L-0", got)
	}
	s.Close()
	db, file, offs = unfoldedLazy(t, false, true, false, false)
	damage(t, file, offs[1]+recordHeader+2)
	if _, err := OpenSQLite(db); !errors.Is(err, ErrJournal) || !strings.Contains(err.Error(), "record 2 at offset") {
		t.Fatalf("a damaged record before a synced one: %v", err)
	}
}

package seatstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// lagBits is a record's first word's lag field (format 2).
func lagBits(n uint32) uint32 { return n << lagShift }

// TestJournalLag: a damaged record is the tail of a crash when no intact
// record after it claims it durable (written while its sync ran, or lazy
// in format 1), and corruption when one does.
func TestJournalLag(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version uint32
		bits    []uint32 // of records 1.., record 2 damaged
		tail    bool
	}{
		{"written while record 2 synced", 2, []uint32{0, 0, lagBits(1)}, true},
		{"claims no record", 2, []uint32{0, 0, lagBits(lagUnknown)}, true},
		{"two written while record 2 synced", 2, []uint32{0, 0, lagBits(1), lagBits(2)}, true},
		{"lazy, written once record 2 was durable", 2, []uint32{0, 0, lazyFlag}, false},
		{"written once record 2 was durable", 2, []uint32{0, 0, 0}, false},
		{"a later record claims it", 2, []uint32{0, 0, lagBits(1), lagBits(1)}, false},
		{"format 1, lazy after it", 1, []uint32{0, 0, lazyFlag}, true},
		{"format 1, synced after it", 1, []uint32{0, 0, 0}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, journalHeader)
			copy(b, journalMagic)
			binary.LittleEndian.PutUint32(b[len(journalMagic):], tc.version)
			var at int64
			for i, bits := range tc.bits {
				if i == 1 {
					at = int64(len(b)) + recordHeader + 3
				}
				c := jchange(i + 1)
				b = appendRecordBits(b, int64(i+1), encodeChanges(nil, []*Change{&c}), bits)
			}
			b[at] ^= 0x55
			sc, err := scanJournal(bytes.NewReader(b), int64(len(b)), "j", true)
			if !tc.tail {
				if !errors.Is(err, ErrJournal) || !strings.Contains(err.Error(), "record 2 at offset") {
					t.Fatalf("a damaged record claimed durable by a later one: %v, want record 2 damaged", err)
				}
				return
			}
			if err != nil || len(sc.recs) != 1 || sc.stale != int64(len(b)) {
				t.Fatalf("the tail of a crash: err %v, %d records, stale to %d of %d; want record 1, the rest cut", err, len(sc.recs), sc.stale, len(b))
			}
		})
	}
}

// TestJournalFormat1: a journal of format 1 is replayed, and its header
// rewritten as this format's before records of it are written.
func TestJournalFormat1(t *testing.T) {
	db, file, _ := unfolded(t, 2)
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{1}, int64(len(journalMagic)))
	f.Close()
	s := openT(t, db)
	if got := leaseIDs(t, s); !reflect.DeepEqual(got, []string{"L-0", "L-1"}) {
		t.Fatalf("format 1 replayed: leases %v, want L-0 L-1", got)
	}
	hdr := make([]byte, journalHeader)
	f, _ = os.Open(file)
	f.ReadAt(hdr, 0)
	f.Close()
	if !bytes.Equal(hdr, journalHeaderBytes()) {
		t.Fatalf("header after the replay % x, want format %d's", hdr, journalVersion)
	}
	commitT(t, s, jchange(2))
	s.Close()
	s = openT(t, db)
	if got := leaseIDs(t, s); !reflect.DeepEqual(got, []string{"L-0", "L-1", "L-2"}) {
		t.Fatalf("after writing on: leases %v, want L-0 L-1 L-2", got)
	}
}

// recordWord returns the first word of the journal's record seq.
func recordWord(t *testing.T, file string, seq int64) uint32 {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scanJournal(bytes.NewReader(data), int64(len(data)), file, false)
	if err != nil {
		t.Fatal(err)
	}
	off := int64(journalHeader)
	for _, r := range sc.recs {
		if r.seq == seq {
			return binary.LittleEndian.Uint32(data[off:])
		}
		off += r.n
	}
	t.Fatalf("no record %d in %s", seq, file)
	return 0
}

// TestJournalPipelined: WriteCommit writes a record while an earlier
// record's sync runs (the sync is outside the append lock); the record
// says it was written then (its lag); its wait returns only once a sync
// that started after it ends; a failed sync fails every wait and write
// after it.
func TestJournalPipelined(t *testing.T) {
	s := openT(t, t.TempDir()+"/seats.db")
	s.SetFoldInterval(time.Hour)
	ctx := context.Background()
	commitT(t, s, jchange(0)) // record 1
	entered := make(chan struct{}, 8)
	release := make(chan error)
	s.jr.fsync = func(f *os.File) error {
		entered <- struct{}{}
		if err := <-release; err != nil {
			return err
		}
		return fdatasync(f)
	}
	wait2, err := s.WriteCommit(ctx, jchange(1))
	if err != nil || wait2 == nil {
		t.Fatalf("WriteCommit: %v, wait %v", err, wait2 != nil)
	}
	errs := make(chan error, 2)
	go func() { errs <- wait2() }()
	<-entered // record 2's sync runs, blocked
	wrote := make(chan error, 1)
	var wait3 func() error
	go func() {
		var err error
		wait3, err = s.WriteCommit(ctx, jchange(2))
		wrote <- err
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("record 3 was not written while record 2's sync ran")
	}
	file := JournalFiles(s.Path())[0]
	if w := recordWord(t, file, 2); w&lagMask != 0 {
		t.Fatalf("record 2, written once record 1 was durable: lag %d, want 0", w&lagMask>>lagShift)
	}
	if w := recordWord(t, file, 3); w&lagMask != lagBits(1) {
		t.Fatalf("record 3, written while record 2's sync ran: lag %d, want 1", w&lagMask>>lagShift)
	}
	go func() { errs <- wait3() }()
	release <- nil // record 2's sync; it began before record 3 was written
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		t.Fatalf("record 3's wait returned (%v) before a sync that covers it", err)
	case <-entered: // record 3's own sync
	case <-time.After(10 * time.Second):
		t.Fatal("record 3's sync did not start")
	}
	broken := errors.New("disk on fire")
	release <- broken
	if err := <-errs; err == nil || !strings.Contains(err.Error(), broken.Error()) {
		t.Fatalf("record 3's sync failed: %v", err)
	}
	if _, err := s.WriteCommit(ctx, jchange(3)); err == nil || !strings.Contains(err.Error(), broken.Error()) {
		t.Fatalf("a write after a failed sync: %v, want that failure", err)
	}
	if err := s.Commit(ctx, jchange(4)); err == nil {
		t.Fatal("a commit after a failed sync succeeded")
	}
}

package seatstore

// The SQLite store's change journal: a Commit without Grants or Renewals
// is validated, written as one record to a journal file beside the
// database and synced (one write and one fdatasync per group), and
// acknowledged; a folder goroutine applies the journaled records to the
// database in large transactions, in journal order, with the same code a
// direct commit uses, and records in the same transaction the last
// sequence number folded. A SQLite transaction costs far more CPU than the
// fdatasync of one small write (WAL frames, B-tree pages, the commit's own
// sync), so the store's cost per change falls to the encoding, the sync
// shared by the group and the change's share of a large fold.
//
// Files: two, used alternately (JournalFiles): records are written one
// after the other into one file; once it holds switchAt bytes and every
// record of the other file is folded, writing restarts at the start of the
// other file, overwriting blocks it allocated before (an fdatasync of an
// overwrite updates no file size or block map). Each file starts with a
// header (journalMagic, the format version); a record is
//
//	uint32le(len(payload) | lag<<25 | lazy<<31) uint32le(CRC-32C of the rest) uint64le(seq) payload
//
// with sequence numbers contiguous across records and files, where lazy
// is set on a record acknowledged before it was synced
// (Change.Lazy: every change of the group is lazy). A record is written
// while the records before it may still be syncing (the seat server
// writes the next group while the previous one's fdatasync runs:
// Pipelined), so a crash may leave a record on disk and one before it
// not, with neither acknowledged. Each record therefore says which
// records before it were durable when it was written: all but the last
// lag of them (format 2; format 1 said all, or, lazy, none). A sync makes
// every record written before it durable (one file, written in order;
// the writer syncs a file before it moves to the other). So a damaged
// record is the crash's tail, not corruption, when no intact record after
// it claims it durable.
//
// Reading a file stops at the first record that does not check (a torn
// write, stale bytes of an earlier round, zeros): none of those was
// acknowledged, as a record is acknowledged only once a sync that began
// after it was written has ended (and the records before it were
// acknowledged: the seat server's committer). A damaged record that an
// intact record after it claims durable is corruption before the tail:
// OpenSQLite refuses the database and says what to do.
//
// One process owns the journal (an exclusive flock on the first file):
// the server. Another process opening the same database (a backup, a
// report) reads the database only after the owner has folded every record
// written when the read began.

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/airseal/airseal/internal/seats"
)

const (
	journalMagic   = "airseal journal\n"
	journalVersion = 2
	journalHeader  = 32 // magic, uint32le version, zeros
	recordHeader   = 16
	// A record's first word: its payload's length (lenMask), its lag
	// (lagMask, format 2) and lazyFlag.
	lenMask = 1<<25 - 1
	// lazyFlag marks a record acknowledged before it was synced.
	lazyFlag = 1 << 31
	// The lag (format 2) is how many records right before this one were
	// not known to be durable when it was written (their sync ran, or
	// they are lazy): the record claims every record before those
	// durable. lagUnknown: it claims none.
	lagShift   = 25
	lagMask    = 0x3f << lagShift
	lagUnknown = 0x3f

	// maxRecordPayload bounds a record: a Change larger than this (a huge
	// license file) is committed to the database directly instead.
	maxRecordPayload = 16 << 20
	// switchAt is when the writer moves to the other file, once all of
	// that file's records are folded.
	switchAt = 8 << 20
	// growChunk: a file grows by this many zero bytes at a time, so that
	// most records overwrite allocated blocks.
	growChunk = 1 << 20

	// Folds run every foldEvery, or once foldRecords records wait.
	defaultFoldEvery = 250 * time.Millisecond
	foldRecords      = 2048
	// maxFoldRecords bounds the records one fold transaction applies.
	maxFoldRecords = 8192
	// Backpressure: a commit waits while this much is journaled but not
	// folded.
	maxUnfoldedBytes   = 64 << 20
	maxUnfoldedRecords = 32768
	// foldRetry is how soon a failed fold is tried again.
	foldRetry = time.Second
	// guestWait bounds how long a process that does not own the journal
	// waits for the owner to fold.
	guestWait = 30 * time.Second
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// JournalFiles returns the change journal's files of the SQLite database
// at db: they belong with it (a copy of the database without them misses
// the changes not yet folded into it; Backup makes a complete copy).
func JournalFiles(db string) []string {
	return []string{db + "-changes-0", db + "-changes-1"}
}

// ErrJournal is returned (wrapped, naming the file and what to do) by
// OpenSQLite for a change journal it cannot replay: damaged before its
// last record, written by a newer license-server, or not the database's.
var ErrJournal = errors.New("seat store change journal cannot be replayed")

type jfile struct {
	f    *os.File
	name string
	size int64 // bytes allocated: header, records and zero fill
	last int64 // sequence number of its last record, 0 for none
}

type jrec struct {
	seq int64
	cs  []*Change
	n   int64 // bytes in the file
}

type journal struct {
	s     *sqlStore
	db    string
	names []string
	guest bool // another process owns the journal

	amu    sync.Mutex // appends: files, cur, pos, next, buf, broken
	files  [2]*jfile
	cur    int
	pos    int64
	next   int64
	buf    []byte
	broken error // a failed write or sync: nothing more is appended

	// Syncs (syncTo): one runs at a time (syncing), outside amu. synced:
	// every record up to it is durable; wfile, wtop: the file and number
	// of the last record written; syncErr: a sync failed (writes fail too).
	smu     sync.Mutex
	scond   *sync.Cond
	fsync   func(*os.File) error // fdatasync (tests block it)
	synced  int64
	syncing bool
	syncErr error
	wfile   *jfile
	wtop    int64

	pmu          sync.Mutex // pending, folded, foldErr, closing
	cond         *sync.Cond // signalled when a fold ends
	pending      []jrec     // appended, not folded, in order
	pendingBytes int64
	folded       int64
	foldErr      error
	closing      bool

	foldEvery atomic.Int64 // a time.Duration
	kick      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	stopOnce  sync.Once

	folds   atomic.Int64 // fold transactions (tests, benchmarks)
	records atomic.Int64 // records written
}

// openJournal opens (creating them if missing) the journal of the
// database db, whose last folded record is folded, and replays what is
// not folded. When another process owns it, the journal is a guest's.
func openJournal(s *sqlStore, db string, folded int64) (*journal, error) {
	j := &journal{s: s, db: db, names: JournalFiles(db), folded: folded, next: folded + 1,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	j.cond = sync.NewCond(&j.pmu)
	j.scond = sync.NewCond(&j.smu)
	j.fsync = fdatasync
	j.foldEvery.Store(int64(defaultFoldEvery))
	f0, err := openJournalFile(j.names[0])
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f0.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f0.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			j.guest = true
			close(j.done)
			return j, nil
		}
		return nil, fmt.Errorf("seatstore: locking %s: %w", j.names[0], err)
	}
	f1, err := openJournalFile(j.names[1])
	if err != nil {
		f0.Close()
		return nil, err
	}
	j.files = [2]*jfile{{f: f0, name: j.names[0]}, {f: f1, name: j.names[1]}}
	if err := j.replay(); err != nil {
		j.closeFiles()
		return nil, err
	}
	go j.folder()
	return j, nil
}

// openJournalFile opens name, creating it 0600 with its header (synced,
// with its directory) when missing.
func openJournalFile(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err == nil {
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("seatstore: %s: %w", name, err)
		}
		if !fi.Mode().IsRegular() {
			f.Close()
			return nil, fmt.Errorf("%w: %s is not a regular file: move it away", ErrJournal, name)
		}
		return f, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("seatstore: %w", err)
	}
	f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("seatstore: creating the change journal: %w", err)
	}
	_, err = f.WriteAt(journalHeaderBytes(), 0)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(filepath.Dir(name))
	}
	if err != nil {
		f.Close()
		os.Remove(name)
		return nil, fmt.Errorf("seatstore: creating the change journal %s: %w", name, err)
	}
	return f, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// scanned is what reading one journal file found.
type scanned struct {
	recs []jrec
	end  int64 // where its last intact record ends
	size int64
	// after is, when the file's first record is damaged, the sequence
	// number of an intact record right after it (0: none): stale bytes
	// of an earlier round when it is folded already, else corruption.
	after int64
	// stale, when above end, is where intact records after a damaged one
	// end that do not claim it durable: the tail that was cut off, to be
	// wiped before the file is written on.
	stale int64
	// version is the file's format: 1 is read, and the header rewritten
	// as 2 once its records are folded; 0: no header (an empty file).
	version uint32
}

// scanJournal reads the intact records of r (size bytes), from its
// header to the first record that does not check. A record that does not
// check followed by an intact one with the next sequence number is
// corruption before the tail: an error.
func scanJournal(r io.ReaderAt, size int64, name string, decode bool) (*scanned, error) {
	sc := &scanned{end: journalHeader, size: size}
	hdr := make([]byte, journalHeader)
	if size < journalHeader {
		if size == 0 {
			return sc, nil // created, crashed before its header: empty
		}
		return nil, fmt.Errorf("%w: %s is %d bytes, shorter than its header: move it away (it holds no change)", ErrJournal, name, size)
	}
	if _, err := r.ReadAt(hdr, 0); err != nil {
		return nil, fmt.Errorf("seatstore: reading %s: %w", name, err)
	}
	if string(hdr[:len(journalMagic)]) != journalMagic {
		return nil, fmt.Errorf("%w: %s is not a license-server change journal: move it away (the database is opened without it)", ErrJournal, name)
	}
	v := binary.LittleEndian.Uint32(hdr[len(journalMagic):])
	if v != journalVersion && v != 1 {
		return nil, fmt.Errorf("%w: %s has journal format %d, this license-server reads format %d: run the license-server version that wrote it (it folds the journal into the database when it stops), then this one", ErrJournal, name, v, journalVersion)
	}
	sc.version = v
	pos := int64(journalHeader)
	var prev int64
	var h [recordHeader]byte
	var payload []byte
	// read returns the record at pos: ok false when it does not check.
	var claims int64 // of the record read last: records up to it were durable
	read := func(pos int64) (seq int64, n int64, ok bool, err error) {
		if size-pos < recordHeader {
			return 0, 0, false, nil
		}
		if _, err := r.ReadAt(h[:], pos); err != nil {
			return 0, 0, false, fmt.Errorf("seatstore: reading %s: %w", name, err)
		}
		word := binary.LittleEndian.Uint32(h[0:])
		ln := int64(word & lenMask)
		if v == 1 {
			ln = int64(word &^ lazyFlag)
		}
		if ln == 0 || ln > maxRecordPayload || ln > size-pos-recordHeader {
			return 0, 0, false, nil
		}
		if int64(cap(payload)) < ln {
			payload = make([]byte, ln)
		}
		payload = payload[:ln]
		if _, err := r.ReadAt(payload, pos+recordHeader); err != nil {
			return 0, 0, false, fmt.Errorf("seatstore: reading %s: %w", name, err)
		}
		crc := crc32.Update(crc32.Checksum(h[0:4], crcTable), crcTable, h[8:16])
		crc = crc32.Update(crc, crcTable, payload)
		if crc != binary.LittleEndian.Uint32(h[4:]) {
			return 0, ln, false, nil
		}
		seq = int64(binary.LittleEndian.Uint64(h[8:]))
		lag := int64(word&lagMask) >> lagShift
		switch {
		case v == 1 && word&lazyFlag != 0, v != 1 && lag == lagUnknown:
			claims = 0
		case v == 1:
			claims = seq - 1
		default:
			claims = seq - 1 - lag
		}
		return seq, recordHeader + ln, true, nil
	}
	// tailFrom reports whether no intact record from pos on, numbered from
	// seq, claims record damaged durable (so it may be one that never
	// reached the disk), and where they end.
	tailFrom := func(pos, seq, damaged int64) (bool, int64, error) {
		for {
			s, n, ok, err := read(pos)
			if err != nil {
				return false, 0, err
			}
			if !ok || s != seq {
				return true, pos, nil
			}
			if claims >= damaged {
				return false, 0, nil
			}
			pos, seq = pos+n, seq+1
		}
	}
	for {
		seq, n, ok, err := read(pos)
		if err != nil {
			return nil, err
		}
		if ok && (prev == 0 && seq > 0 || seq == prev+1) {
			rec := jrec{seq: seq, n: n}
			if decode {
				cs, err := decodeChanges(payload)
				if err != nil {
					return nil, fmt.Errorf("%w: %s: record %d at offset %d checks but %v: the file was not written by a license-server; restore the database and its journal from a backup, or move the file away (the changes in it are lost)", ErrJournal, name, seq, pos, err)
				}
				rec.cs = cs
			}
			sc.recs = append(sc.recs, rec)
			prev, pos = seq, pos+n
			continue
		}
		// The end of the intact records: a torn or stale tail, unless an
		// intact record with the next number follows a damaged one.
		if !ok && n > 0 {
			next := pos + recordHeader + n
			seq2, _, ok2, err := read(next)
			if err != nil {
				return nil, err
			}
			if ok2 && (prev == 0 || seq2 == prev+2) {
				// Unsynced records may reach the disk out of order: a
				// damaged record that no record after it claims durable
				// is the tail.
				tail, stale, err := tailFrom(next, seq2, seq2-1)
				if err != nil {
					return nil, err
				}
				switch {
				case tail:
					// Cut off: they must not come back once new records
					// fill the damaged one's place with the same numbers.
					sc.stale = stale
				case prev == 0:
					sc.after = seq2
				default:
					return nil, damagedRecord(name, prev+1, pos, seq2)
				}
			}
		}
		sc.end = pos
		return sc, nil
	}
}

func damagedRecord(name string, seq, pos, next int64) error {
	return fmt.Errorf("%w: %s: record %d at offset %d is damaged while record %d after it is intact: the file was changed or the disk is failing; restore the database and its journal from a backup, or move the file away (the changes in it are lost)", ErrJournal, name, seq, pos, next)
}

// replay reads both files, folds every record above the database's
// folded number and sets where the next record goes.
func (j *journal) replay() error {
	var all []jrec
	var ends [2]int64
	var versions [2]uint32
	for i, jf := range j.files {
		fi, err := jf.f.Stat()
		if err != nil {
			return fmt.Errorf("seatstore: %s: %w", jf.name, err)
		}
		sc, err := scanJournal(jf.f, fi.Size(), jf.name, true)
		if err != nil {
			return err
		}
		if sc.after > j.folded {
			return damagedRecord(jf.name, sc.after-1, journalHeader, sc.after)
		}
		if sc.stale > sc.end {
			if _, err := jf.f.WriteAt(make([]byte, sc.stale-sc.end), sc.end); err != nil {
				return fmt.Errorf("seatstore: %s: wiping the records cut off the change journal: %w", jf.name, err)
			}
			if err := fdatasync(jf.f); err != nil {
				return fmt.Errorf("seatstore: %s: wiping the records cut off the change journal: %w", jf.name, err)
			}
		}
		jf.size = max(fi.Size(), journalHeader)
		if len(sc.recs) > 0 {
			jf.last = sc.recs[len(sc.recs)-1].seq
		}
		ends[i], versions[i] = sc.end, sc.version
		for _, r := range sc.recs {
			if r.seq > j.folded {
				all = append(all, r)
			}
		}
	}
	slices.SortFunc(all, func(a, b jrec) int { return cmp.Compare(a.seq, b.seq) })
	for i, r := range all {
		if r.seq != j.folded+1+int64(i) {
			return fmt.Errorf("%w: %s: the database holds the changes up to %d, the journal continues with %d: the journal does not belong to this database (a database restored without its journal?) or a record is lost; move %s and %s away to open the database without them (the changes in them are lost), or put back the database they belong to",
				ErrJournal, j.db, j.folded+int64(i), r.seq, j.names[0], j.names[1])
		}
	}
	top := j.folded
	for _, jf := range j.files {
		top = max(top, jf.last)
	}
	j.next = top + 1
	// Write on after the newest records; an empty journal starts the first file.
	j.cur, j.pos = 0, ends[0]
	if j.files[1].last > j.files[0].last {
		j.cur, j.pos = 1, ends[1]
	}
	// What the files hold is durable before a record is written on:
	// lazy records of the last run may not be yet, and the first new
	// record claims (lazy bit clear) that every record before it is.
	for _, jf := range j.files {
		if jf.last > 0 {
			if err := fdatasync(jf.f); err != nil {
				return fmt.Errorf("seatstore: %s: syncing the change journal: %w", jf.name, err)
			}
		}
	}
	j.synced, j.wtop, j.wfile = top, top, j.files[j.cur]
	if len(all) > 0 {
		j.pmu.Lock()
		j.pending = all
		for _, r := range all {
			j.pendingBytes += r.n
		}
		j.pmu.Unlock()
		if err := j.fold(); err != nil {
			return fmt.Errorf("seatstore: %s: replaying the change journal: %w", j.db, err)
		}
	}
	// Every record is folded: a file of format 1 (or without its header)
	// gets this format's header before a record of it is written.
	for i, jf := range j.files {
		if versions[i] == journalVersion {
			continue
		}
		if _, err := jf.f.WriteAt(journalHeaderBytes(), 0); err != nil {
			return fmt.Errorf("seatstore: %s: writing the change journal's header: %w", jf.name, err)
		}
		if err := fdatasync(jf.f); err != nil {
			return fmt.Errorf("seatstore: %s: writing the change journal's header: %w", jf.name, err)
		}
	}
	return nil
}

// journalHeaderBytes returns a journal file's header.
func journalHeaderBytes() []byte {
	hdr := make([]byte, journalHeader)
	copy(hdr, journalMagic)
	binary.LittleEndian.PutUint32(hdr[len(journalMagic):], journalVersion)
	return hdr
}

// needsDatabase reports whether batch must be committed to the database
// directly: the store decides Grants and Renewals inside the transaction.
func needsDatabase(batch []*request) bool {
	for _, r := range batch {
		if len(r.c.Grants) > 0 || len(r.c.Renewals) > 0 {
			return true
		}
	}
	return false
}

// commit makes batch durable and reports each request's result: through
// the journal, or directly after folding everything journaled. A guest
// (another process owns the journal) waits until the owner has folded
// what its journal holds, then commits directly: its change lands after
// every change the owner acknowledged before, but a change the owner
// journals meanwhile may be folded after it (two processes writing one
// database were never ordered beyond that; the server holds the
// directory lock while it serves).
func (j *journal) commit(batch []*request) {
	if j.guest {
		err := j.guestSync(context.Background())
		if err == nil {
			j.s.wmu.Lock()
			j.s.commitBatch(batch)
			j.s.wmu.Unlock()
			return
		}
		for _, r := range batch {
			r.err <- err
		}
		return
	}
	if !needsDatabase(batch) {
		cs := make([]*Change, len(batch))
		for i, r := range batch {
			cs[i] = r.c
		}
		err := j.append(cs)
		if !errors.Is(err, errRecordTooLarge) {
			for _, r := range batch {
				r.err <- err
			}
			return
		}
	}
	j.commitDirect(batch)
}

// commitDirect commits batch to the database after folding everything
// journaled, so that it lands after every record.
func (j *journal) commitDirect(batch []*request) {
	j.amu.Lock()
	defer j.amu.Unlock()
	j.s.wmu.Lock()
	defer j.s.wmu.Unlock()
	if err := j.foldLocked(); err != nil {
		for _, r := range batch {
			r.err <- err
		}
		return
	}
	j.s.commitBatch(batch)
}

// WriteCommit implements Pipelined. Through the change journal, c is
// written here as one record and the wait syncs it; otherwise (Grants or
// Renewals, a record too large, another process owning the journal) c is
// committed here as by CommitNow, and the wait is nil.
func (s *SQLite) WriteCommit(ctx context.Context, c Change) (func() error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validate(&c); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	if c.Empty() {
		return nil, nil
	}
	r := &request{c: &c, err: make(chan error, 1)}
	r.state.Store(reqTaken)
	batch := []*request{r}
	j := s.jr
	if j == nil || j.guest || needsDatabase(batch) {
		s.run(batch)
		return nil, <-r.err
	}
	seq, lazy, err := j.write([]*Change{&c})
	if errors.Is(err, errRecordTooLarge) {
		j.commitDirect(batch)
		return nil, <-r.err
	}
	if err != nil || lazy {
		return nil, err
	}
	return func() error { return j.syncTo(seq) }, nil
}

var errRecordTooLarge = errors.New("change too large for one journal record")

// append writes cs as one record and, unless it is lazy, waits until it
// is durable.
func (j *journal) append(cs []*Change) error {
	seq, lazy, err := j.write(cs)
	if err != nil || lazy {
		return err
	}
	return j.syncTo(seq)
}

// write writes cs as one record after every record written before, not
// waiting for it to be durable (syncTo does), and reports its sequence
// number and whether it is lazy (acknowledged before its sync).
//
// The record's lazy bit is set when the record is lazy, and also when a
// record before it is not known to be durable yet (its sync runs, or it
// is lazy): a crash may then leave that one damaged and this one intact,
// with nothing acknowledged lost, so the replay must take a damaged record
// followed by this one for the tail. A record whose bit is clear claims
// that every record before it was durable when it was written: a damaged
// record before it is corruption.
func (j *journal) write(cs []*Change) (seq int64, lazy bool, err error) {
	j.amu.Lock()
	defer j.amu.Unlock()
	if j.broken != nil {
		return 0, false, j.broken
	}
	j.pmu.Lock()
	for j.foldErr == nil && !j.closing && (j.pendingBytes >= maxUnfoldedBytes || len(j.pending) >= maxUnfoldedRecords) {
		j.wake()
		j.cond.Wait()
	}
	ferr, folded := j.foldErr, j.folded
	j.pmu.Unlock()
	if ferr != nil {
		return 0, false, ferr
	}
	j.smu.Lock()
	synced, serr := j.synced, j.syncErr
	j.smu.Unlock()
	if serr != nil {
		return 0, false, serr
	}
	b := encodeChanges(append(j.buf[:0], make([]byte, recordHeader)...), cs)
	if cap(b) <= 1<<20 {
		j.buf = b
	}
	ln := len(b) - recordHeader
	if ln > maxRecordPayload {
		return 0, false, errRecordTooLarge
	}
	seq = j.next
	lazy = true
	for _, c := range cs {
		lazy = lazy && c.Lazy
	}

	if other := j.files[1-j.cur]; j.pos >= switchAt && other.last <= folded {
		// The records of this file must be durable before a record of
		// the other one is written: the replay reads the numbers as one
		// sequence, and a record's clear lazy bit claims every record
		// before it durable.
		if cur := j.files[j.cur]; cur.last > synced {
			if err := j.fsync(cur.f); err != nil {
				j.broken = fmt.Errorf("seatstore: %s: syncing the change journal failed (%v): no change is taken until the server is restarted (check the disk)", cur.name, err)
				j.smu.Lock()
				j.syncErr = cmp.Or(j.syncErr, j.broken)
				j.scond.Broadcast()
				j.smu.Unlock()
				return 0, false, j.broken
			}
			j.smu.Lock()
			j.synced = max(j.synced, cur.last)
			synced = j.synced
			j.smu.Unlock()
		}
		j.cur, j.pos = 1-j.cur, journalHeader
	}
	word := uint32(ln) | uint32(min(seq-1-synced, lagUnknown))<<lagShift
	if lazy {
		word |= lazyFlag
	}
	binary.LittleEndian.PutUint32(b[0:], word)
	binary.LittleEndian.PutUint64(b[8:], uint64(seq))
	crc := crc32.Update(crc32.Checksum(b[0:4], crcTable), crcTable, b[8:])
	binary.LittleEndian.PutUint32(b[4:], crc)

	jf := j.files[j.cur]
	end := j.pos + int64(len(b))
	fail := func(err error) error {
		// What reached the disk is unknown: the record may come back at
		// the next start. Nothing more is appended behind it.
		j.broken = fmt.Errorf("seatstore: %s: writing the change journal failed (%v): the change may or may not be stored; no change is taken until the server is restarted (check the disk)", jf.name, err)
		return j.broken
	}
	if end > jf.size {
		grow := (end - jf.size + growChunk - 1) / growChunk * growChunk
		if _, err := jf.f.WriteAt(make([]byte, grow), jf.size); err != nil {
			return 0, false, fail(err)
		}
		jf.size += grow
	}
	if _, err := jf.f.WriteAt(b, j.pos); err != nil {
		return 0, false, fail(err)
	}
	j.pos, jf.last = end, seq
	j.next++
	j.records.Add(1)
	j.smu.Lock()
	j.wfile, j.wtop = jf, seq
	j.smu.Unlock()
	j.pmu.Lock()
	// Folded before it is durable, maybe: the database's own commit makes
	// it durable there, and a record the replay finds folded is skipped.
	j.pending = append(j.pending, jrec{seq: seq, cs: cs, n: int64(len(b))})
	j.pendingBytes += int64(len(b))
	full := len(j.pending) >= foldRecords
	j.pmu.Unlock()
	if full {
		j.wake()
	}
	return seq, lazy, nil
}

// syncTo returns once record seq and every record before it are durable,
// or the first sync failure (from then on every sync and write fails). One
// fdatasync runs at a time, outside the append lock, so records are
// written while it runs; it covers every record written before it started
// (one file: records after a file switch are synced by the switch).
func (j *journal) syncTo(seq int64) error {
	j.smu.Lock()
	defer j.smu.Unlock()
	for {
		for j.syncErr == nil && j.synced < seq && j.syncing {
			j.scond.Wait()
		}
		if j.syncErr != nil {
			return j.syncErr
		}
		if j.synced >= seq {
			return nil
		}
		j.syncing = true
		jf, top := j.wfile, j.wtop
		j.smu.Unlock()
		err := j.fsync(jf.f)
		j.smu.Lock()
		j.syncing = false
		if err != nil {
			// What reached the disk is unknown (and a later fdatasync may
			// report success for pages that were lost): nothing more is
			// taken, nothing after this record acknowledged.
			j.syncErr = cmp.Or(j.syncErr, fmt.Errorf("seatstore: %s: syncing the change journal failed (%v): the changes since the last sync may or may not be stored; no change is taken until the server is restarted (check the disk)", jf.name, err))
		} else {
			j.synced = max(j.synced, top)
		}
		j.scond.Broadcast()
	}
}

func (j *journal) wake() {
	select {
	case j.kick <- struct{}{}:
	default:
	}
}

// folder folds what is journaled every foldEvery, or sooner when much
// waits; after a failure, every foldRetry.
func (j *journal) folder() {
	defer close(j.done)
	t := time.NewTimer(time.Duration(j.foldEvery.Load()))
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-j.kick:
		case <-t.C:
		}
		wait := time.Duration(j.foldEvery.Load())
		if err := j.fold(); err != nil {
			wait = foldRetry
		}
		t.Reset(wait)
	}
}

func (j *journal) fold() error {
	j.s.wmu.Lock()
	defer j.s.wmu.Unlock()
	return j.foldLocked()
}

// foldLocked applies every pending record to the database, the caller
// holding the writer's lock.
func (j *journal) foldLocked() error {
	j.pmu.Lock()
	recs := slices.Clone(j.pending)
	j.pmu.Unlock()
	for len(recs) > 0 {
		n := min(len(recs), maxFoldRecords)
		err := j.s.foldTx(recs[:n])
		j.pmu.Lock()
		if err != nil {
			j.foldErr = fmt.Errorf("seatstore: %s: applying the change journal to the database failed: %w; no change is taken until it succeeds (it is retried every %v; check the disk); nothing acknowledged is lost, it stays in %s",
				j.db, err, foldRetry, filepath.Base(j.names[0]))
			j.cond.Broadcast()
			err = j.foldErr
			j.pmu.Unlock()
			return err
		}
		j.foldErr = nil
		j.folded = recs[n-1].seq
		for _, r := range recs[:n] {
			j.pendingBytes -= r.n
		}
		j.pending = append(j.pending[:0], j.pending[n:]...)
		j.cond.Broadcast()
		j.pmu.Unlock()
		j.folds.Add(1)
		recs = recs[n:]
	}
	return nil
}

// sync makes the database hold every change acknowledged before it was
// called: the owner folds; a guest waits for the owner.
func (j *journal) sync(ctx context.Context) error {
	if j.guest {
		return j.guestSync(ctx)
	}
	j.pmu.Lock()
	n := len(j.pending)
	j.pmu.Unlock()
	if n == 0 {
		return nil
	}
	return j.fold()
}

// guestSync waits until the owner has folded every record the journal
// holds now.
func (j *journal) guestSync(ctx context.Context) error {
	top := int64(0)
	for _, name := range j.names {
		f, err := os.Open(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("seatstore: %w", err)
		}
		fi, err := f.Stat()
		var sc *scanned
		if err == nil {
			sc, err = scanJournal(f, fi.Size(), name, false)
		}
		f.Close()
		if err != nil {
			return err
		}
		if len(sc.recs) > 0 {
			top = max(top, sc.recs[len(sc.recs)-1].seq)
		}
	}
	deadline := time.Now().Add(guestWait)
	for {
		var folded int64
		if err := j.s.rdb.QueryRowContext(ctx, qJournalRead).Scan(&folded); err != nil {
			return fmt.Errorf("seatstore: %s: reading the journal's progress: %w", j.db, err)
		}
		if folded >= top {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("seatstore: %s: the server owning the change journal has not applied its changes up to %d (at %d after %v): is it stuck? Stop it and open the database again", j.db, top, folded, guestWait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// close stops the folder, folds everything and closes the files.
func (j *journal) close() error {
	if j.guest {
		return nil
	}
	j.stopOnce.Do(func() { close(j.stop) })
	<-j.done
	j.pmu.Lock()
	j.closing = true
	j.cond.Broadcast()
	j.pmu.Unlock()
	err := j.fold()
	if cerr := j.closeFiles(); err == nil {
		err = cerr
	}
	return err
}

func (j *journal) closeFiles() error {
	var err error
	for _, jf := range j.files {
		if jf != nil {
			err = errors.Join(err, jf.f.Close())
		}
	}
	return err
}

// Statements of the journal's progress row (schema version 3).
const (
	qJournalRead   = `SELECT folded FROM change_journal WHERE id = 1`
	qJournalFolded = `UPDATE change_journal SET folded = $1 WHERE id = 1`
)

// foldTx applies recs in one transaction, with the number of the last.
// Records are applied in order, their events numbered and chained in that
// order after the log's head, exactly as one direct commit per record
// would; a lease put that a later record of the same fold puts again or
// deletes is left out (coalesce).
func (s *sqlStore) foldTx(recs []jrec) error {
	ctx := context.Background()
	var batch []*request
	for _, r := range recs {
		for _, c := range r.cs {
			batch = append(batch, &request{c: c})
		}
	}
	batch = coalesce(batch)
	nev := 0
	for _, r := range batch {
		nev += len(r.c.Events)
	}
	qs := append(writerQueries[:len(writerQueries):len(writerQueries)], qHeadSelect+s.d.forUpdate, qJournalFolded, qBegin, qCommit, qRollback)
	if nev >= eventsPerStmt {
		qs = append(qs, eventInsert(eventsPerStmt))
	}
	if r := nev % eventsPerStmt; r > 0 {
		qs = append(qs, eventInsert(r))
	}
	results := make([]error, len(batch))
	err := s.d.retry(func() error {
		clear(results)
		return s.foldAttempt(ctx, qs, batch, results, recs[len(recs)-1].seq)
	})
	if err != nil {
		return err
	}
	s.batches.Add(1)
	return nil
}

func (s *sqlStore) foldAttempt(ctx context.Context, qs []string, batch []*request, results []error, last int64) error {
	if err := s.prepare(ctx, qs...); err != nil {
		return err
	}
	tx := wtx{s: s}
	if err := tx.exec(ctx, qBegin); err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.exec(context.Background(), qRollback)
		}
	}()
	if err := s.batchTx(ctx, tx, batch, results, nil, nil); err != nil {
		return err
	}
	for _, err := range results {
		if err != nil {
			return err // no Grant or Renewal is journaled: never happens
		}
	}
	if n, err := tx.execN(ctx, qJournalFolded, last); err != nil {
		return err
	} else if n != 1 {
		return errors.New("the change_journal row is missing (the database was changed by hand)")
	}
	if err := tx.exec(ctx, qCommit); err != nil {
		return err
	}
	committed = true
	return nil
}

// coalesce leaves out of batch each lease put that a later put or delete
// of the same lease in batch makes moot: the later one sets every column
// of the row (or removes it), and the seat counts follow the row's final
// state either way. Changes are copied, never changed in place.
func coalesce(batch []*request) []*request {
	type at struct{ r, i int }
	var last map[string]at
	moot := 0
	for ri, r := range batch {
		for i := range r.c.PutLeases {
			if last == nil {
				last = make(map[string]at, len(batch)*2)
			}
			if _, ok := last[r.c.PutLeases[i].ID]; ok {
				moot++
			}
			last[r.c.PutLeases[i].ID] = at{ri, i}
		}
		for _, id := range r.c.DeleteLeases {
			if _, ok := last[id]; ok {
				moot++
			}
			if last == nil {
				last = make(map[string]at, len(batch)*2)
			}
			last[id] = at{ri, -1}
		}
	}
	if moot == 0 {
		return batch
	}
	out := make([]*request, len(batch))
	for ri, r := range batch {
		var keep []seats.Lease
		dropped := false
		for i := range r.c.PutLeases {
			if last[r.c.PutLeases[i].ID] != (at{ri, i}) {
				if !dropped {
					keep = append(keep, r.c.PutLeases[:i]...)
					dropped = true
				}
				continue
			}
			if dropped {
				keep = append(keep, r.c.PutLeases[i])
			}
		}
		if !dropped {
			out[ri] = r
			continue
		}
		c := *r.c
		c.PutLeases = keep
		out[ri] = &request{c: &c}
	}
	return out
}

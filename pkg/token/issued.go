package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/airseal/airseal/internal/ledger"
	"github.com/airseal/airseal/pkg/keys"
)

// IssuedFile is the ledger of the tokens 'token serve' issues, beside the
// ledger of minted tokens ([LedgerFile]). It has the same line format
// (package internal/ledger) and record fields, plus grant.
const IssuedFile = "issued.jsonl"

// ErrClosed means the endpoint's ledger writer was closed.
var ErrClosed = errors.New("token endpoint ledger is closed")

// IssuedSyncInterval is the pause between two fsyncs of the endpoint's
// ledger while records are being written: a record reaches the disk within
// about this interval plus the time of one or two flushes.
const IssuedSyncInterval = 10 * time.Millisecond

// issuedLedger appends the endpoint's records in batches. Records that
// arrive while a batch is being written wait for the next, which is written
// with one write under an flock. [issuedLedger.Record] returns once its
// record is written to the file, so a token is never sent before its record
// is in the kernel: a crash of the process loses nothing. A second goroutine
// fsyncs the file soon after ([IssuedSyncInterval]); waiting for that
// fsync before answering would bound each connection to one token per disk
// flush (about 1 ms here), far below the endpoint's throughput target. So a
// power cut or a kernel crash can lose the records of the last few
// milliseconds. An fsync error is sticky: the kernel may have dropped the
// data, so every later Record fails until the server restarts.
//
// internal/ledger's Append reads the whole file on every call to find a
// torn tail, which the endpoint's volume cannot afford; here the tail is
// checked by looking at its last byte, under the flock, so several
// endpoints may share a directory.
type issuedLedger struct {
	path string
	f    atomic.Pointer[os.File] // swapped only by tests, to inject failures
	mu   sync.Mutex
	cur  *issuedBatch // collecting; nil when empty
	shut bool

	kick      chan struct{} // a batch is waiting to be written
	dirty     chan struct{} // written data waits for an fsync
	stop      chan struct{}
	wrDone    chan struct{}
	syncStop  chan struct{}
	syncDone  chan struct{}
	closeOnce sync.Once

	errMu  sync.Mutex
	failed error // sticky fsync error
}

type issuedBatch struct {
	buf  []byte
	done chan struct{}
	err  error
}

// openIssuedLedger opens (creating with mode 0600) the ledger at path and
// starts its writer and syncer.
func openIssuedLedger(path string) (*issuedLedger, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	l := &issuedLedger{path: path,
		kick: make(chan struct{}, 1), dirty: make(chan struct{}, 1),
		stop: make(chan struct{}), wrDone: make(chan struct{}),
		syncStop: make(chan struct{}), syncDone: make(chan struct{})}
	l.f.Store(f)
	go l.writer()
	go l.syncer()
	return l, nil
}

// Record appends rec and returns once it is written to the file (or the
// write failed).
func (l *issuedLedger) Record(rec *LedgerRecord) error {
	js, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	l.mu.Lock()
	if l.shut {
		l.mu.Unlock()
		return ErrClosed
	}
	if l.cur == nil {
		l.cur = &issuedBatch{done: make(chan struct{})}
	}
	b := l.cur
	b.buf = fmt.Appendf(b.buf, "%08x ", crc32.ChecksumIEEE(js))
	b.buf = append(b.buf, js...)
	b.buf = append(b.buf, '\n')
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default: // a write is already due
	}
	<-b.done
	return b.err
}

func (l *issuedLedger) writer() {
	defer close(l.wrDone)
	for {
		select {
		case <-l.kick:
			l.write()
		case <-l.stop:
			l.write() // records that came in before Close
			return
		}
	}
}

func (l *issuedLedger) write() {
	l.mu.Lock()
	b := l.cur
	l.cur = nil
	l.mu.Unlock()
	if b == nil {
		return
	}
	if b.err = l.err(); b.err == nil {
		b.err = appendLines(l.f.Load(), b.buf)
		if b.err != nil {
			b.err = fmt.Errorf("%s: %w", l.path, b.err)
		}
	}
	close(b.done)
	select {
	case l.dirty <- struct{}{}:
	default:
	}
}

func (l *issuedLedger) syncer() {
	defer close(l.syncDone)
	for {
		select {
		case <-l.dirty:
		case <-l.syncStop:
			l.sync()
			return
		}
		l.sync()
		select {
		case <-time.After(IssuedSyncInterval):
		case <-l.syncStop:
			l.sync()
			return
		}
	}
}

func (l *issuedLedger) sync() {
	if l.err() != nil {
		return
	}
	if err := l.f.Load().Sync(); err != nil {
		l.errMu.Lock()
		l.failed = fmt.Errorf("%s: fsync failed, records may be lost; fix the disk and restart: %w", l.path, err)
		l.errMu.Unlock()
	}
}

func (l *issuedLedger) err() error {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return l.failed
}

// Close writes the records already handed to Record, fsyncs, closes the
// file and returns the sticky fsync error, if any. Later calls to Record
// fail with [ErrClosed].
func (l *issuedLedger) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.shut = true
		l.mu.Unlock()
		close(l.stop)
		<-l.wrDone
		close(l.syncStop)
		<-l.syncDone
		l.f.Load().Close()
	})
	return l.err()
}

// appendLines appends complete ledger lines to f (opened with O_APPEND)
// with one write under an exclusive flock. A torn last line left by a crash
// (no final newline) is cut off first, as internal/ledger does, so it never
// ends up mid-file.
func appendLines(f *os.File, lines []byte) error {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking: %w", err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if err := cutTornTail(f); err != nil {
		return err
	}
	_, err := f.Write(lines)
	return err
}

// cutTornTail truncates f after its last newline when it does not end with
// one.
func cutTornTail(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	end := st.Size()
	if end == 0 {
		return nil
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], end-1); err != nil {
		return err
	}
	if last[0] == '\n' {
		return nil
	}
	buf := make([]byte, 4096)
	for pos := end; pos > 0; {
		n := int64(len(buf))
		if pos < n {
			n = pos
		}
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil && err != io.EOF {
			return err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return f.Truncate(pos + int64(i) + 1)
		}
	}
	return f.Truncate(0)
}

// newLedgerRecord describes a token for a ledger.
func newLedgerRecord(kid keys.ID, c *Claims) *LedgerRecord {
	return &LedgerRecord{
		JTI: c.ID, KeyID: kid, Subject: c.Subject, Audience: c.Audience, ClientID: c.ClientID,
		Scope: c.Scope, LicenseSerial: c.LicenseSerial, Grant: c.Grant, IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt,
	}
}

// Issued returns every intact record of the endpoint's ledger
// ([IssuedFile]) and whether a torn last line was skipped.
func (d *Dir) Issued() ([]LedgerRecord, bool, error) {
	return readLedger(d.file(IssuedFile))
}

func readLedger(path string) ([]LedgerRecord, bool, error) {
	res, err := ledger.Read(path)
	if err != nil {
		return nil, false, err
	}
	out := make([]LedgerRecord, 0, len(res.Records))
	for i, r := range res.Records {
		var lr LedgerRecord
		if err := json.Unmarshal(r, &lr); err != nil {
			return nil, false, fmt.Errorf("%s: record %d: %v", path, i+1, err)
		}
		out = append(out, lr)
	}
	return out, res.Torn, nil
}

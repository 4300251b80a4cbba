package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/airseal/airseal/internal/atomicfile"
)

// ErrClosed means a [Writer] was closed.
var ErrClosed = errors.New("ledger writer is closed")

// SyncInterval is the pause between two fsyncs of a [Writer]'s file while
// records are being written: a record reaches the disk within about this
// interval plus the time of one or two flushes.
const SyncInterval = 10 * time.Millisecond

// WriterOptions configure a [Writer].
type WriterOptions struct {
	// MaxSize rotates the file once it reaches this many bytes: FILE
	// becomes FILE.1 (FILE.1 becomes FILE.2, and so on) and a new FILE is
	// started. 0 means never rotate.
	MaxSize int64
	// Keep is how many rotated files are kept (FILE.1 … FILE.Keep); the
	// oldest beyond it is deleted. 0 with a MaxSize means 1.
	Keep int
}

// Writer appends a stream of records to a ledger in batches: records that
// arrive while a batch is being written wait for the next, which is
// written with one write under an exclusive flock after the same tail
// check as [Append], so several processes may share the file. [Writer.Append]
// returns once its record is written to the file, so a crash of the process
// loses nothing; a second goroutine fsyncs the file soon after
// ([SyncInterval]), so a power cut or a kernel crash can lose the records of
// the last few milliseconds. Waiting for that fsync before returning would
// bound each caller to one record per disk flush. An fsync error is
// sticky: the kernel may have dropped the data, so every later Append fails.
type Writer struct {
	path string
	opts WriterOptions
	f    atomic.Pointer[os.File] // swapped by rotation and by tests
	mu   sync.Mutex
	cur  *batch // collecting; nil when empty
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

type batch struct {
	buf  []byte
	done chan struct{}
	err  error
}

// OpenWriter opens (creating with mode 0600) the ledger at path and starts
// its writer and syncer. Call [Writer.Close] when done.
func OpenWriter(path string, opts WriterOptions) (*Writer, error) {
	if opts.MaxSize < 0 || opts.Keep < 0 {
		return nil, fmt.Errorf("ledger %s: negative rotation size or count", path)
	}
	if opts.MaxSize > 0 && opts.Keep == 0 {
		opts.Keep = 1
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	w := &Writer{path: path, opts: opts,
		kick: make(chan struct{}, 1), dirty: make(chan struct{}, 1),
		stop: make(chan struct{}), wrDone: make(chan struct{}),
		syncStop: make(chan struct{}), syncDone: make(chan struct{})}
	w.f.Store(f)
	go w.writer()
	go w.syncer()
	return w, nil
}

// Path returns the ledger file's name.
func (w *Writer) Path() string { return w.path }

// Append adds rec and returns once it is written to the file (or the
// write failed).
func (w *Writer) Append(rec any) error {
	js, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	w.mu.Lock()
	if w.shut {
		w.mu.Unlock()
		return ErrClosed
	}
	if w.cur == nil {
		w.cur = &batch{done: make(chan struct{})}
	}
	b := w.cur
	nb, err := appendLine(b.buf, js)
	if err != nil {
		w.mu.Unlock()
		return err
	}
	b.buf = nb
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default: // a write is already due
	}
	<-b.done
	return b.err
}

func (w *Writer) writer() {
	defer close(w.wrDone)
	for {
		select {
		case <-w.kick:
			w.write()
		case <-w.stop:
			w.write() // records that came in before Close
			return
		}
	}
}

func (w *Writer) write() {
	w.mu.Lock()
	b := w.cur
	w.cur = nil
	w.mu.Unlock()
	if b == nil {
		return
	}
	if b.err = w.err(); b.err == nil {
		b.err = w.writeBatch(b.buf)
		if b.err != nil {
			b.err = fmt.Errorf("%s: %w", w.path, b.err)
		}
	}
	close(b.done)
	select {
	case w.dirty <- struct{}{}:
	default:
	}
}

// writeBatch locks the file that is FILE now (another process may have
// rotated it), appends, and rotates when the file reached MaxSize.
func (w *Writer) writeBatch(lines []byte) error {
	f, err := w.lockCurrent()
	if err != nil {
		return err
	}
	rotated := false
	defer func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		if rotated {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	end, err := intactEnd(f, st.Size())
	if err != nil {
		return err
	}
	if end < st.Size() {
		if err := f.Truncate(end); err != nil {
			return err
		}
	}
	if _, err := f.WriteAt(lines, end); err != nil {
		return err
	}
	if w.opts.MaxSize > 0 && end+int64(len(lines)) >= w.opts.MaxSize {
		err := w.rotate(f)
		rotated = err == nil
		return err
	}
	return nil
}

// lockCurrent takes the flock of the open file and makes sure it is still
// the file named path; when another process rotated it away, it opens the
// new one.
func (w *Writer) lockCurrent() (*os.File, error) {
	for range 100 {
		f := w.f.Load()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			return nil, fmt.Errorf("locking: %w", err)
		}
		fst, err1 := f.Stat()
		pst, err2 := os.Stat(w.path)
		if err1 == nil && err2 == nil && os.SameFile(fst, pst) {
			return f, nil
		}
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		nf, err := os.OpenFile(w.path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		w.swap(nf)
	}
	return nil, errors.New("the file keeps being replaced while it is opened")
}

// swap makes nf the file written, after an fsync of the old one.
func (w *Writer) swap(nf *os.File) {
	old := w.f.Swap(nf)
	if err := old.Sync(); err != nil {
		w.setFailed(err)
	}
	old.Close()
}

// rotate renames FILE to FILE.1 (shifting older ones, dropping the one
// beyond Keep) while holding f's lock, then starts a new FILE.
func (w *Writer) rotate(f *os.File) error {
	if err := f.Sync(); err != nil {
		w.setFailed(err)
		return w.err()
	}
	os.Remove(RotatedName(w.path, w.opts.Keep))
	for i := w.opts.Keep - 1; i >= 1; i-- {
		if err := os.Rename(RotatedName(w.path, i), RotatedName(w.path, i+1)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("rotating: %w", err)
		}
	}
	if err := os.Rename(w.path, RotatedName(w.path, 1)); err != nil {
		return fmt.Errorf("rotating: %w", err)
	}
	nf, err := os.OpenFile(w.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("rotating: %w", err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(w.path)); err != nil {
		nf.Close()
		return fmt.Errorf("rotating: %w", err)
	}
	// f stays locked until the caller has returned, then the caller closes
	// it; the new file is used from the next batch on.
	w.f.Store(nf)
	return nil
}

// RotatedName returns the name of the n-th rotated file of path (path.n).
func RotatedName(path string, n int) string { return path + "." + strconv.Itoa(n) }

func (w *Writer) syncer() {
	defer close(w.syncDone)
	for {
		select {
		case <-w.dirty:
		case <-w.syncStop:
			w.sync()
			return
		}
		w.sync()
		select {
		case <-time.After(SyncInterval):
		case <-w.syncStop:
			w.sync()
			return
		}
	}
}

func (w *Writer) sync() {
	if w.err() != nil {
		return
	}
	// A file rotated or swapped away meanwhile was fsynced before it was
	// closed: os.ErrClosed is not a lost write.
	if err := w.f.Load().Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
		w.setFailed(err)
	}
}

func (w *Writer) setFailed(err error) {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	if w.failed == nil {
		w.failed = fmt.Errorf("%s: fsync failed, records may be lost; fix the disk and restart: %w", w.path, err)
	}
}

func (w *Writer) err() error {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.failed
}

// Close writes the records already handed to Append, fsyncs, closes the
// file and returns the sticky fsync error, if any. Later calls to Append
// fail with [ErrClosed].
func (w *Writer) Close() error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.shut = true
		w.mu.Unlock()
		close(w.stop)
		<-w.wrDone
		close(w.syncStop)
		<-w.syncDone
		w.f.Load().Close()
	})
	return w.err()
}

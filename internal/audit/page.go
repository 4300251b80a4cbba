package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// A Page is some records of the log, newest first, and where the pages
// beside it start: the console's audit page. Reading a page never reads
// the whole file: it reads backwards from a byte offset (Before) or
// forwards from one (After), a few KiB at a time, so its memory and time
// depend on the page size, not the log's.
//
// Offsets are positions of record boundaries in the file (0, or just
// after a newline); a page refuses one that is not (a hand-made URL). A
// page does not verify the hash chain (that reads the whole file; Open
// and Verify do it).
type Page struct {
	Records []Record
	// Older is the offset to give Before for the next older page, or -1
	// when the oldest record is on this page.
	Older int64
	// Newer is the offset to give After for the next newer page, or -1
	// when the newest record is on this page.
	Newer int64
}

// ErrOffset is returned for an offset that is not a record boundary.
var ErrOffset = errors.New("not the start of an audit record")

// chunk is how much a page reads at a time.
const chunk = 4096

// ReadBefore returns up to n records that end at or before offset before
// (size: the end of the log), newest first. size is the file's size when
// the page is read; a record being appended past it is not shown.
func ReadBefore(r io.ReaderAt, size, before int64, n int) (*Page, error) {
	if before < 0 || before > size {
		return nil, fmt.Errorf("offset %d: %w", before, ErrOffset)
	}
	end, err := boundaryAtOrBefore(r, size)
	if err != nil {
		return nil, err
	}
	if before > end {
		before = end
	}
	if err := checkBoundary(r, before); err != nil {
		return nil, err
	}
	p := &Page{Older: -1, Newer: -1}
	if before < end {
		p.Newer = before
	}
	var buf []byte
	scratch := make([]byte, chunk)
	pos := before
	for len(p.Records) < n && pos > 0 {
		start, err := lineStart(r, pos, scratch)
		if err != nil {
			return nil, err
		}
		rec, b, err := readRecord(r, start, pos, buf)
		if err != nil {
			return nil, err
		}
		buf = b
		p.Records = append(p.Records, rec)
		pos = start
	}
	if pos > 0 {
		p.Older = pos
	}
	return p, nil
}

// ReadAfter returns up to n records that start at or after offset after,
// the oldest n of them, newest first (the page before the one that ended
// at after).
func ReadAfter(r io.ReaderAt, size, after int64, n int) (*Page, error) {
	if after < 0 || after > size {
		return nil, fmt.Errorf("offset %d: %w", after, ErrOffset)
	}
	end, err := boundaryAtOrBefore(r, size)
	if err != nil {
		return nil, err
	}
	if after > end {
		after = end
	}
	if err := checkBoundary(r, after); err != nil {
		return nil, err
	}
	p := &Page{Older: -1, Newer: -1}
	if after > 0 {
		p.Older = after
	}
	var buf []byte
	scratch := make([]byte, chunk)
	pos := after
	for len(p.Records) < n && pos < end {
		stop, err := lineEnd(r, pos, end, scratch)
		if err != nil {
			return nil, err
		}
		rec, b, err := readRecord(r, pos, stop, buf)
		if err != nil {
			return nil, err
		}
		buf = b
		p.Records = append(p.Records, rec)
		pos = stop
	}
	if pos < end {
		p.Newer = pos
	}
	for i, j := 0, len(p.Records)-1; i < j; i, j = i+1, j-1 {
		p.Records[i], p.Records[j] = p.Records[j], p.Records[i]
	}
	return p, nil
}

// checkBoundary refuses an offset that is not 0 and not just after a
// newline.
func checkBoundary(r io.ReaderAt, off int64) error {
	if off == 0 {
		return nil
	}
	var b [1]byte
	if _, err := r.ReadAt(b[:], off-1); err != nil {
		return err
	}
	if b[0] != '\n' {
		return fmt.Errorf("offset %d: %w", off, ErrOffset)
	}
	return nil
}

// boundaryAtOrBefore returns the end of the last complete record at or
// before size.
func boundaryAtOrBefore(r io.ReaderAt, size int64) (int64, error) {
	if size == 0 {
		return 0, nil
	}
	if checkBoundary(r, size) == nil {
		return size, nil
	}
	return lineStart(r, size+1, make([]byte, chunk)) // the incomplete tail's start
}

// lineStart returns the offset of the first byte of the record that ends
// at end (just after its newline): the byte after the newline before it,
// or 0. It reads backwards len(buf) bytes at a time, at most LimitLine.
func lineStart(r io.ReaderAt, end int64, buf []byte) (int64, error) {
	pos := end - 1 // the record's own newline
	for pos > 0 {
		k := min(int64(len(buf)), pos)
		b := buf[:k]
		if _, err := r.ReadAt(b, pos-k); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return pos - k + int64(i) + 1, nil
		}
		pos -= k
		if end-pos > LimitLine {
			return 0, fmt.Errorf("the record ending at byte %d is longer than %d bytes", end, LimitLine)
		}
	}
	return 0, nil
}

// lineEnd returns the offset just after the newline of the record that
// starts at start (at most limit).
func lineEnd(r io.ReaderAt, start, limit int64, buf []byte) (int64, error) {
	pos := start
	for pos < limit {
		k := min(int64(len(buf)), limit-pos)
		b := buf[:k]
		if _, err := r.ReadAt(b, pos); err != nil {
			return 0, err
		}
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return pos + int64(i) + 1, nil
		}
		pos += k
		if pos-start > LimitLine {
			return 0, fmt.Errorf("the record at byte %d is longer than %d bytes", start, LimitLine)
		}
	}
	return 0, fmt.Errorf("the record at byte %d has no newline", start)
}

// readRecord decodes the record in [start, end), reusing buf.
func readRecord(r io.ReaderAt, start, end int64, buf []byte) (Record, []byte, error) {
	n := int(end - start)
	if n > LimitLine {
		return Record{}, buf, fmt.Errorf("the record at byte %d is longer than %d bytes", start, LimitLine)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := r.ReadAt(buf, start); err != nil {
		return Record{}, buf, err
	}
	var rec Record
	if err := json.Unmarshal(buf, &rec); err != nil {
		return Record{}, buf, fmt.Errorf("the record at byte %d: %v", start, err)
	}
	return rec, buf, nil
}

// Package ledger keeps an append-only record of things issued (licenses,
// revocation lists, tokens) that survives a crash mid-write. It is the one
// implementation of the ledger line format: the vendor's license ledger
// (pkg/issuer), the token ledger of 'token mint' and the endpoint's
// issued.jsonl (pkg/token/tokendir, pkg/token/tokenserver) all use it.
//
// Each record is one line: eight hex digits of the CRC-32 (IEEE) of the
// JSON that follows, a space, the JSON, a newline. A record is at most
// [MaxRecord] bytes.
//
// Appending costs the same at 1 and 1,000,000 records: [Append] takes an
// exclusive flock, checks only the file's last line (a crash can leave at
// most a torn last line: no newline, or a CRC that does not match), cuts it
// off if it is torn, writes the new line with one write and fsyncs before
// returning, so a caller reports success only for a record that is on disk.
// [Writer] does the same for a stream of records in batches.
//
// Reading streams: [Scan] hands the records to a callback one at a time in
// bounded memory. It skips and reports a torn last line; a damaged line
// anywhere else is an error (the file was edited or the disk is failing;
// nothing is silently dropped). Appends do not look at lines before the
// last, so such damage is found by the next read, not by an append.
package ledger

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"syscall"
)

// MaxRecord is the largest line, in bytes, a ledger holds (32 MiB: a
// revocation record that adds the most serials one list can hold, 2^20,
// fits); a longer record is refused at append and a longer line is an error
// at read. Reading never holds more than one line in memory.
const MaxRecord = 32 << 20

// Record is one raw JSON record from the ledger.
type Record = json.RawMessage

// ErrTooLarge means a record is above [MaxRecord].
var ErrTooLarge = errors.New("ledger record above the size limit")

// Line returns the ledger line for rec: CRC, space, JSON, newline.
func Line(rec any) ([]byte, error) {
	js, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	return appendLine(nil, js)
}

func appendLine(buf, js []byte) ([]byte, error) {
	if len(js)+10 > MaxRecord {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(js)+10, MaxRecord)
	}
	buf = fmt.Appendf(buf, "%08x ", crc32.ChecksumIEEE(js))
	buf = append(buf, js...)
	return append(buf, '\n'), nil
}

// Scan calls fn for every intact record of the ledger at path, in order,
// reading the file as a stream (memory bounded by [MaxRecord]), and stops
// at the first error fn returns. A missing file is an empty ledger. torn
// reports a torn last line, which is skipped. The record passed to fn is
// its own copy.
func Scan(path string, fn func(Record) error) (torn bool, err error) {
	// O_NONBLOCK: a FIFO given as the ledger is refused below instead of
	// waiting for a writer; it changes nothing for a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return false, err
	} else if !st.Mode().IsRegular() {
		return false, fmt.Errorf("%s: not a regular file; a ledger is a regular file written by the tools", path)
	}
	return scan(path, f, fn)
}

func scan(path string, r io.Reader, fn func(Record) error) (bool, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte
	for line := 1; ; line++ {
		l, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long[:0], l...)
			for err == bufio.ErrBufferFull && len(long) <= MaxRecord {
				l, err = br.ReadSlice('\n')
				long = append(long, l...)
			}
			if len(long) > MaxRecord {
				return false, fmt.Errorf("%s: line %d is longer than %d bytes; this is not a ledger, or it is damaged (restore it from a backup)", path, line, MaxRecord)
			}
			l = long
		}
		if err == io.EOF {
			return len(l) > 0, nil // a line without its newline: an interrupted write
		}
		if err != nil {
			return false, fmt.Errorf("%s: %w", path, err)
		}
		rec, ok := parseLine(l[:len(l)-1])
		if !ok {
			if _, perr := br.Peek(1); perr == io.EOF {
				return true, nil // the last line: an interrupted write
			}
			return false, fmt.Errorf("%s: line %d is damaged (checksum or JSON does not match); restore the ledger from a backup", path, line)
		}
		if err := fn(rec); err != nil {
			return false, err
		}
	}
}

// Result is what Read found.
type Result struct {
	Records []Record
	// Torn is true when a torn last line (an interrupted write) was skipped.
	Torn bool
}

// Read returns every intact record of the ledger at path, in memory. Use
// [Scan] for a ledger that may be large.
func Read(path string) (*Result, error) {
	res := &Result{}
	torn, err := Scan(path, func(r Record) error {
		res.Records = append(res.Records, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Torn = torn
	return res, nil
}

func parseLine(l []byte) (Record, bool) {
	if len(l) < 10 || l[8] != ' ' {
		return nil, false
	}
	want, err := strconv.ParseUint(string(l[:8]), 16, 32)
	if err != nil || crc32.ChecksumIEEE(l[9:]) != uint32(want) || !json.Valid(l[9:]) {
		return nil, false
	}
	return Record(bytes.Clone(l[9:])), true
}

// Append adds rec (marshalled as JSON) to the ledger at path, creating it
// with mode 0600 if needed, and returns once the record is on disk. It
// reads at most the file's last line, whatever the ledger's length.
func Append(path string, rec any) error {
	line, err := Line(rec)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := appendLocked(f, line); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Sync()
}

// appendLocked writes lines at the intact end of f under an exclusive
// flock, cutting off a torn last line first.
func appendLocked(f *os.File, lines []byte) error {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking: %w", err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
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
	_, err = f.WriteAt(lines, end)
	return err
}

// intactEnd returns the length of f's intact part: size, or the start of
// its last line when that line is torn (no newline, or it does not parse).
// It reads only the last line.
func intactEnd(f *os.File, size int64) (int64, error) {
	if size == 0 {
		return 0, nil
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return 0, err
	}
	// start of the last line: after the newline before the final byte.
	start, err := lineStart(f, size-1)
	if err != nil {
		return 0, err
	}
	if last[0] != '\n' {
		return start, nil
	}
	if size-start > MaxRecord {
		return 0, fmt.Errorf("the last line is longer than %d bytes; this is not a ledger, or it is damaged (restore it from a backup)", MaxRecord)
	}
	l := make([]byte, size-1-start)
	if _, err := f.ReadAt(l, start); err != nil {
		return 0, err
	}
	if _, ok := parseLine(l); !ok {
		return start, nil
	}
	return size, nil
}

// lineStart returns the offset just after the last newline before pos
// (0 when there is none), reading backwards in blocks (4 KiB first, then
// growing) and at most about MaxRecord bytes.
func lineStart(f *os.File, pos int64) (int64, error) {
	buf := make([]byte, 4096) // a token record is about 230 bytes
	for read := int64(0); pos > 0; {
		if read >= int64(len(buf)) && len(buf) < 1<<20 {
			buf = make([]byte, 2*len(buf)) // a long record: fewer reads
		}
		n := min(int64(len(buf)), pos)
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil && err != io.EOF {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return pos + int64(i) + 1, nil
		}
		if read += n; read > MaxRecord {
			return 0, fmt.Errorf("the last line is longer than %d bytes; this is not a ledger, or it is damaged (restore it from a backup)", MaxRecord)
		}
	}
	return 0, nil
}

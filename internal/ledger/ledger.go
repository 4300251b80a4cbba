// Package ledger keeps an append-only record of things issued (licenses,
// tokens) that survives a crash mid-write.
//
// Each record is one line: eight hex digits of the CRC-32 of the JSON that
// follows, a space, the JSON, a newline. Append takes an exclusive lock,
// writes the whole line with one write and fsyncs before returning, so a
// caller reports success only for a record that is on disk. A crash can leave
// at most a torn last line (no newline, or a CRC that does not match); Read
// skips it and reports it, and the next Append cuts it off first. A damaged
// line anywhere else is an error: it means the file was edited or the disk
// is failing, and nothing is silently dropped.
package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"syscall"
)

// Record is one raw JSON record from the ledger.
type Record = json.RawMessage

// Result is what Read found.
type Result struct {
	Records []Record
	// Torn is true when a torn last line (an interrupted write) was skipped.
	Torn bool
	// validLen is the byte length of the intact part of the file.
	validLen int64
}

// Read returns every intact record in the ledger at path. A missing file is
// an empty ledger.
func Read(path string) (*Result, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return &Result{}, nil
	}
	if err != nil {
		return nil, err
	}
	return parse(path, data)
}

func parse(path string, data []byte) (*Result, error) {
	res := &Result{}
	off := 0
	line := 0
	for off < len(data) {
		line++
		nl := bytes.IndexByte(data[off:], '\n')
		if nl < 0 {
			res.Torn = true // an interrupted write: no newline yet
			break
		}
		rec, ok := parseLine(data[off : off+nl])
		if !ok {
			if off+nl+1 == len(data) {
				res.Torn = true
				break
			}
			return nil, fmt.Errorf("%s: line %d is damaged (checksum or JSON does not match); restore the ledger from a backup", path, line)
		}
		res.Records = append(res.Records, rec)
		off += nl + 1
	}
	res.validLen = int64(off)
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
	return Record(append([]byte(nil), l[9:]...)), true
}

// Append adds rec (marshalled as JSON) to the ledger at path, creating it
// with mode 0600 if needed, and returns once the record is on disk.
func Append(path string, rec any) error {
	js, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	var line []byte
	line = fmt.Appendf(line, "%08x ", crc32.ChecksumIEEE(js))
	line = append(line, js...)
	line = append(line, '\n')

	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("%s: locking: %w", path, err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	res, err := parse(path, data)
	if err != nil {
		return err
	}
	if res.Torn {
		if err := f.Truncate(res.validLen); err != nil {
			return err
		}
	}
	if _, err := f.WriteAt(line, res.validLen); err != nil {
		return err
	}
	return f.Sync()
}

// Package audit is the license server's append-only audit log: who did
// what, when, from where. Each record is one JSON line that carries the
// SHA-256 of the previous line, so editing, deleting or reordering records
// breaks the chain and Verify reports the first broken line.
//
// # Security
//
// Text fields come from outside (user names, addresses, details); they are
// cleaned with internal/safetext before they are written, so a record cannot
// forge a line or hide text with control or bidi characters. The file is
// opened O_APPEND with mode 0600. The chain detects changes inside the file
// and trimming of its middle; trimming the tail is detected only against a
// head hash kept elsewhere (Writer.Head, compare with VerifyHead).
package audit

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/airseal/airseal/internal/safetext"
)

// Record is one audit entry.
type Record struct {
	Time   time.Time `json:"time"`
	Who    string    `json:"who"`
	What   string    `json:"what"`
	From   string    `json:"from"`
	Detail string    `json:"detail,omitempty"`
	Prev   string    `json:"prev"`
}

const genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// LimitLine is the longest record line accepted when reading.
const LimitLine = 64 << 10

// Writer appends records to a file. Safe for concurrent use.
type Writer struct {
	mu   sync.Mutex
	f    *os.File
	head string
}

// Open opens (or creates) the log at path, verifying the existing chain.
func Open(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	head, _, err := Verify(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w (hint: the audit log was changed; keep it as evidence and start a new one)", path, err)
	}
	return &Writer{f: f, head: head}, nil
}

func clean(s string, max int) string {
	s = strings.Join(strings.Fields(safetext.Clean(s)), " ")
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "")
	}
	return s
}

// Append writes one record, cleaned, chained and synced.
func (w *Writer) Append(now time.Time, who, what, from, detail string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := Record{Time: now.UTC(), Who: clean(who, 128), What: clean(what, 256), From: clean(from, 128), Detail: clean(detail, 4096), Prev: w.head}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if _, err := w.f.Write(b); err != nil {
		return err
	}
	if err := w.f.Sync(); err != nil {
		return err
	}
	w.head = hashLine(b)
	return nil
}

// Head is the hash of the last record (keep it elsewhere to detect tail
// trimming).
func (w *Writer) Head() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.head
}

// Close closes the file.
func (w *Writer) Close() error { return w.f.Close() }

func hashLine(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Read streams records from r to fn without loading the file; it stops at
// the first error from fn or the first broken link.
func Read(r io.Reader, fn func(line int, rec Record) error) (head string, err error) {
	br := bufio.NewReaderSize(r, 4096)
	head = genesis
	n := 0
	for {
		b, err := readLine(br)
		if err == io.EOF {
			return head, nil
		}
		n++
		if err != nil {
			return head, fmt.Errorf("line %d: %w", n, err)
		}
		var rec Record
		if err := json.Unmarshal(b, &rec); err != nil {
			return head, fmt.Errorf("line %d: not a record: %v", n, err)
		}
		if rec.Prev != head {
			return head, fmt.Errorf("line %d: chain broken (a record before it was changed, removed or reordered)", n)
		}
		head = hashLine(b)
		if fn != nil {
			if err := fn(n, rec); err != nil {
				return head, err
			}
		}
	}
}

func readLine(br *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		b, err := br.ReadSlice('\n')
		out = append(out, b...)
		if len(out) > LimitLine {
			return nil, fmt.Errorf("longer than %d bytes", LimitLine)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(out) > 0 {
			return nil, fmt.Errorf("last record incomplete (no newline)")
		}
		return out, err
	}
}

// Verify checks the whole chain in r and returns the head hash and the
// number of records.
func Verify(r io.Reader) (head string, n int, err error) {
	head, err = Read(r, func(int, Record) error { n++; return nil })
	return head, n, err
}

// VerifyHead checks the chain and that it ends at want (detects a trimmed tail).
func VerifyHead(r io.Reader, want string) error {
	head, _, err := Verify(r)
	if err != nil {
		return err
	}
	if head != want {
		return fmt.Errorf("log does not end at the expected record (records were removed from the end)")
	}
	return nil
}

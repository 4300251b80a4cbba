package usagereport

import (
	"bufio"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// Errors of a report. Verify's errors match one of them (errors.Is).
var (
	// ErrMalformed: not a usage report, or a line that does not parse.
	ErrMalformed = errors.New("malformed usage report")
	// ErrEdited: the report's own signature or its summary does not match
	// its content (edited after it was written).
	ErrEdited = errors.New("usage report was edited")
	// ErrChain: a record was changed, deleted, reordered or inserted: the
	// hash chain breaks.
	ErrChain = errors.New("usage log chain is broken")
	// ErrOtherServer: signed by a key no license in the report names, or
	// the license is not the one expected.
	ErrOtherServer = errors.New("usage report is from another server")
	// ErrRangeCut: the signed heads do not reach over the whole period the
	// report claims.
	ErrRangeCut = errors.New("usage report does not cover its period")
	// ErrLicense: a license in the report does not verify with the vendor
	// keys.
	ErrLicense = errors.New("server license in the usage report does not verify")
)

// Header is what a report starts with.
type Header struct {
	// From and To bound the period summarized (To excluded).
	From, To time.Time
	// Created is when the report was made.
	Created time.Time
	// Licenses are the server licenses installed (any encoding), which
	// name the response key and certify it with the vendor's signature.
	Licenses [][]byte
	// Anchor is the signed head the records continue from: the last
	// checkpoint at or before From, or the empty log (Seq 0).
	Anchor Head
}

// Writer writes a report as records stream past. Use NewWriter, Add for
// each record after Anchor in log order, then Close.
type Writer struct {
	w        *bufio.Writer
	h        hash.Hash
	key      ed25519.PrivateKey
	hdr      Header
	prevSeq  int64
	prevHash [32]byte
	sum      *summarizer
	err      error
}

// NewWriter writes the header to out and returns the writer. key is the
// server's response key; it signs the closing head and the report.
func NewWriter(out io.Writer, key ed25519.PrivateKey, hdr Header) (*Writer, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("usage report: the response key is not an Ed25519 private key")
	}
	if !hdr.From.Before(hdr.To) {
		return nil, fmt.Errorf("usage report: --from %s is not before --to %s", hdr.From.UTC().Format(time.RFC3339), hdr.To.UTC().Format(time.RFC3339))
	}
	if len(hdr.Licenses) == 0 || len(hdr.Licenses) > MaxLicenses {
		return nil, fmt.Errorf("usage report: %d server licenses; a report carries 1 to %d (install the server license first)", len(hdr.Licenses), MaxLicenses)
	}
	if hdr.Anchor.Time.After(hdr.From) {
		return nil, fmt.Errorf("usage report: the anchor head (seq %d) was signed at %s, after --from", hdr.Anchor.Seq, hdr.Anchor.Time.Format(time.RFC3339))
	}
	wr := &Writer{w: bufio.NewWriterSize(out, 64<<10), h: sha256.New(), key: key, hdr: hdr,
		prevSeq: hdr.Anchor.Seq, prevHash: hdr.Anchor.Hash, sum: newSummarizer(hdr.From, hdr.To)}
	l := line{Type: typeHeader, Format: Format, Created: hdr.Created.UTC().Format(time.RFC3339Nano),
		From: hdr.From.UTC().Format(time.RFC3339Nano), To: hdr.To.UTC().Format(time.RFC3339Nano), Anchor: toJSON(hdr.Anchor)}
	for _, lic := range hdr.Licenses {
		l.Licenses = append(l.Licenses, string(lic))
	}
	return wr, wr.put(&l)
}

func (w *Writer) put(l *line) error {
	if w.err != nil {
		return w.err
	}
	b, err := marshalLine(l)
	if err == nil && len(b) > MaxLine {
		err = fmt.Errorf("usage report: a %s line of %d bytes is longer than %d", l.Type, len(b), MaxLine)
	}
	if err == nil {
		w.h.Write(b)
		_, err = w.w.Write(b)
	}
	w.err = err
	return err
}

// Add appends the next record. It checks that r continues the chain (the
// next Seq, and Hash = ChainHash of the previous one), so a log edited in
// the database is refused here rather than sent to the vendor.
func (w *Writer) Add(r *Record) error {
	if w.err != nil {
		return w.err
	}
	if r.Seq != w.prevSeq+1 {
		w.err = fmt.Errorf("%w: the store gave record seq %d after seq %d", ErrChain, r.Seq, w.prevSeq)
		return w.err
	}
	if want := ChainHash(w.prevHash, r); want != r.Hash {
		w.err = fmt.Errorf("%w: record seq %d in the store does not match its hash: the database was edited", ErrChain, r.Seq)
		return w.err
	}
	w.prevSeq, w.prevHash = r.Seq, r.Hash
	w.sum.add(r)
	l := recordLine(r)
	return w.put(&l)
}

// Head returns the last record's sequence number and hash.
func (w *Writer) Head() (int64, [32]byte) { return w.prevSeq, w.prevHash }

// Close signs the head at now (which must not be before To), writes the
// summary and the end line, and flushes. It returns the summary and the
// signed head (for the server to store as a checkpoint).
func (w *Writer) Close(now time.Time) ([]Day, Head, error) {
	if w.err != nil {
		return nil, Head{}, w.err
	}
	if now.Before(w.hdr.To) {
		return nil, Head{}, fmt.Errorf("usage report: --to %s is in the future (now %s): a report covers only what has happened",
			w.hdr.To.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	head := SignHead(w.key, w.prevSeq, w.prevHash, now)
	days := w.sum.finish(minTime(head.Time, w.hdr.To))
	if err := w.put(&line{Type: typeSummary, Days: days}); err != nil {
		return nil, Head{}, err
	}
	digest := w.h.Sum(nil)
	sig := ed25519.Sign(w.key, append([]byte(reportDomain), digest...))
	if err := w.put(&line{Type: typeEnd, Head: toJSON(head), Signature: base64.RawURLEncoding.EncodeToString(sig)}); err != nil {
		return nil, Head{}, err
	}
	if err := w.w.Flush(); err != nil {
		return nil, Head{}, err
	}
	return days, head, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

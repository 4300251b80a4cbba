package usagereport

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/seat"
)

// VerifyOptions are what Verify needs.
type VerifyOptions struct {
	// Keyring holds the vendor's public keys. Required.
	Keyring *keys.Keyring
	// Serial, when set, must be the serial of one of the report's
	// licenses (the server the vendor expects the report from).
	Serial string
	// Previous, when set, is the closing head of the previous report of
	// the same server (Result.End of its verification): this report must
	// continue the same log, so nothing reported before can be rewritten.
	Previous *Head
}

// LicenseInfo names a server license carried in a report.
type LicenseInfo struct {
	Serial   string   `json:"serial"`
	Product  string   `json:"product"`
	Customer string   `json:"customer"`
	Seats    int      `json:"seats"`
	Nodes    []string `json:"nodes"`
}

// Result is a verified report.
type Result struct {
	From     time.Time     `json:"from"`
	To       time.Time     `json:"to"`
	Created  time.Time     `json:"created"`
	Licenses []LicenseInfo `json:"licenses"`
	// Key is the response key ID that signed the closing head.
	Key string `json:"response_key"`
	// Anchor and End are the signed heads the records run between.
	Anchor      HeadInfo `json:"anchor"`
	End         HeadInfo `json:"end"`
	Records     int64    `json:"records"`
	Checkpoints int      `json:"checkpoints"`
	Days        []Day    `json:"days"`

	end Head
}

// HeadInfo is a signed head for display.
type HeadInfo struct {
	Seq  int64     `json:"seq"`
	Hash string    `json:"hash"`
	Time time.Time `json:"time"`
	Key  string    `json:"key,omitempty"`
}

// EndHead returns the closing signed head (give it as
// VerifyOptions.Previous when verifying the next report).
func (r *Result) EndHead() Head { return r.end }

func info(h Head) HeadInfo {
	return HeadInfo{Seq: h.Seq, Hash: fmt.Sprintf("%x", h.Hash), Time: h.Time, Key: h.Key}
}

// recent is how many record hashes Verify keeps to check the checkpoints
// stored in the log (a checkpoint signs a head a few records before it).
const recent = 1 << 16

// Verify reads a report from r, streaming, and checks it: the header's
// licenses with the vendor keys, the anchor head, every record's place in
// the hash chain, every checkpoint stored in the log, the closing head,
// the report's own signature, the period covered by the heads, and the
// summary (recomputed). name is the file name for messages.
func Verify(r io.Reader, name string, opts VerifyOptions) (*Result, error) {
	if opts.Keyring == nil {
		return nil, errors.New("usage report: no vendor keys given")
	}
	v := &verifier{name: name, opts: opts, keys: map[string]ed25519.PublicKey{}, digest: sha256.New()}
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	for n := int64(1); ; n++ {
		buf = buf[:0]
		for {
			chunk, err := br.ReadSlice('\n')
			buf = append(buf, chunk...)
			if len(buf) > MaxLine {
				return nil, fmt.Errorf("%w: %s line %d is longer than %d bytes", ErrMalformed, name, n, MaxLine)
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err == io.EOF {
				if len(buf) > 0 {
					return nil, fmt.Errorf("%w: %s line %d does not end with a newline: the report is cut short", ErrMalformed, name, n)
				}
				return v.finish()
			}
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", name, err)
			}
			break
		}
		if err := v.line(buf, n); err != nil {
			return nil, err
		}
	}
}

type verifier struct {
	name   string
	opts   VerifyOptions
	res    Result
	keys   map[string]ed25519.PublicKey // response key ID → key, from the licenses
	digest interface {
		io.Writer
		Sum([]byte) []byte
	}
	state    int // 0 header, 1 records, 2 summary seen, 3 end seen
	prevSeq  int64
	prevHash [32]byte
	ring     [recent]struct {
		seq  int64
		hash [32]byte
	}
	sum      *summarizer
	days     []Day
	prevSeen bool
}

func (v *verifier) fail(kind error, format string, a ...any) error {
	return fmt.Errorf("%w: %s: %s", kind, v.name, fmt.Sprintf(format, a...))
}

func (v *verifier) line(data []byte, n int64) error {
	l, err := parseLine(bytes.TrimSuffix(data, []byte("\n")), n)
	if err != nil {
		return fmt.Errorf("%s: %w", v.name, err)
	}
	switch {
	case v.state == 0:
		if l.Type != typeHeader || l.Format != Format {
			return v.fail(ErrMalformed, "line 1 is not the header of an %q", Format)
		}
		err = v.header(l)
		v.state = 1
	case l.Type == typeRecord && v.state == 1:
		err = v.record(l)
	case l.Type == typeSummary && v.state == 1:
		v.days = l.Days
		if v.days == nil {
			v.days = []Day{}
		}
		v.state = 2
	case l.Type == typeEnd && v.state == 2:
		err = v.end(l)
		v.state = 3
		return err
	case v.state == 3:
		return v.fail(ErrEdited, "line %d follows the end line: lines were appended", n)
	default:
		return v.fail(ErrMalformed, "line %d: a %q line is out of place (header, records, summary, end)", n, l.Type)
	}
	v.digest.Write(data)
	return err
}

func (v *verifier) header(l *line) error {
	var err error
	if v.res.From, err = time.Parse(time.RFC3339Nano, l.From); err != nil {
		return v.fail(ErrMalformed, "header from %.40q: %v", l.From, err)
	}
	if v.res.To, err = time.Parse(time.RFC3339Nano, l.To); err != nil {
		return v.fail(ErrMalformed, "header to %.40q: %v", l.To, err)
	}
	if v.res.Created, err = time.Parse(time.RFC3339Nano, l.Created); err != nil {
		return v.fail(ErrMalformed, "header created %.40q: %v", l.Created, err)
	}
	if !v.res.From.Before(v.res.To) {
		return v.fail(ErrMalformed, "header: from is not before to")
	}
	if len(l.Licenses) == 0 || len(l.Licenses) > MaxLicenses {
		return v.fail(ErrMalformed, "header carries %d licenses, want 1 to %d", len(l.Licenses), MaxLicenses)
	}
	serialSeen := v.opts.Serial == ""
	for i, raw := range l.Licenses {
		dec, err := license.DecodeServer([]byte(raw))
		if err != nil {
			return v.fail(ErrLicense, "license %d: %v", i+1, err)
		}
		// The vendor's signature is what matters here, not whether the
		// license is still valid today: check it at its own start.
		at := dec.IssuedAt
		if dec.NotBefore.After(at) {
			at = dec.NotBefore
		}
		sl, err := license.VerifyServer([]byte(raw), license.VerifyOptions{Keyring: v.opts.Keyring, Now: at})
		if err != nil && !errors.Is(err, license.ErrUpdatesExpired) {
			return v.fail(ErrLicense, "license %d (%.40q): %v", i+1, dec.Serial, err)
		}
		li := LicenseInfo{Serial: sl.Serial, Product: sl.Product, Customer: sl.Customer.Name, Seats: sl.Seats}
		for _, nd := range sl.Nodes {
			v.keys[seat.ResponseKeyID(nd.ResponseKey)] = nd.ResponseKey
			li.Nodes = append(li.Nodes, nd.Name)
		}
		v.res.Licenses = append(v.res.Licenses, li)
		serialSeen = serialSeen || sl.Serial == v.opts.Serial
	}
	if !serialSeen {
		return v.fail(ErrOtherServer, "no license in the report has serial %s: the report comes from another server", v.opts.Serial)
	}
	a, err := l.Anchor.head("anchor")
	if err != nil {
		return fmt.Errorf("%s: %w", v.name, err)
	}
	if a.Seq < 0 {
		return v.fail(ErrMalformed, "anchor seq %d", a.Seq)
	}
	if a.Seq > 0 {
		if err := v.checkHead(&a, "anchor head"); err != nil {
			return err
		}
		if a.Time.After(v.res.From) {
			return v.fail(ErrRangeCut, "the records start after a head signed at %s, later than the period's start %s: the start of the period was cut off",
				a.Time.Format(time.RFC3339), v.res.From.Format(time.RFC3339))
		}
	} else if a.Hash != ([32]byte{}) || a.Key != "" || len(a.Signature) != 0 {
		return v.fail(ErrMalformed, "an anchor at seq 0 (the start of the log) has the zero hash and no signature")
	}
	if p := v.opts.Previous; p != nil && a.Seq > p.Seq {
		return v.fail(ErrRangeCut, "the records start after seq %d, but the previous report ended at seq %d: records %d to %d were never reported",
			a.Seq, p.Seq, p.Seq+1, a.Seq)
	}
	if p := v.opts.Previous; p != nil && a.Seq == p.Seq {
		if a.Hash != p.Hash {
			return v.fail(ErrChain, "the log at seq %d differs from the previous report's: the log was rewritten", a.Seq)
		}
		v.prevSeen = true
	}
	v.res.Anchor = info(a)
	v.prevSeq, v.prevHash = a.Seq, a.Hash
	v.remember(a.Seq, a.Hash)
	v.sum = newSummarizer(v.res.From, v.res.To)
	return nil
}

// checkHead verifies h with a key the licenses name.
func (v *verifier) checkHead(h *Head, what string) error {
	pub, ok := v.keys[h.Key]
	if !ok {
		return v.fail(ErrOtherServer, "the %s (signing seq %d) is signed by response key %s, which no license in the report names", what, h.Seq, h.Key)
	}
	if err := h.Verify(pub); err != nil {
		return v.fail(ErrChain, "the %s: %v", what, err)
	}
	return nil
}

func (v *verifier) remember(seq int64, h [32]byte) {
	e := &v.ring[uint64(seq)%recent]
	e.seq, e.hash = seq, h
}

func (v *verifier) lookup(seq int64) ([32]byte, bool) {
	e := &v.ring[uint64(seq)%recent]
	return e.hash, e.seq == seq && seq >= v.res.Anchor.Seq
}

func (v *verifier) record(l *line) error {
	r, err := l.record()
	if err != nil {
		return fmt.Errorf("%s: %w", v.name, err)
	}
	switch {
	case r.Seq <= v.prevSeq:
		return v.fail(ErrChain, "record seq %d follows seq %d: records were reordered or duplicated", r.Seq, v.prevSeq)
	case r.Seq > v.prevSeq+1:
		return v.fail(ErrChain, "records seq %d to %d are missing: records were deleted", v.prevSeq+1, r.Seq-1)
	}
	want := ChainHash(v.prevHash, &r)
	if want != r.Hash {
		return v.fail(ErrChain, "record seq %d does not match the chain (hash %x, want %x): it was changed, or a record before it was changed, inserted or deleted",
			r.Seq, r.Hash[:8], want[:8])
	}
	v.prevSeq, v.prevHash = r.Seq, r.Hash
	v.remember(r.Seq, r.Hash)
	v.res.Records++
	if p := v.opts.Previous; p != nil && r.Seq == p.Seq {
		if r.Hash != p.Hash {
			return v.fail(ErrChain, "record seq %d differs from the previous report's closing head: the log was rewritten", r.Seq)
		}
		v.prevSeen = true
	}
	if r.Kind == KindCheckpoint {
		h, err := ParseDetail(r.Detail)
		if err != nil {
			return v.fail(ErrChain, "checkpoint record seq %d: %v", r.Seq, err)
		}
		if err := v.checkHead(&h, fmt.Sprintf("checkpoint stored at seq %d", r.Seq)); err != nil {
			return err
		}
		if h.Seq >= r.Seq {
			return v.fail(ErrChain, "checkpoint stored at seq %d signs seq %d, not an earlier record", r.Seq, h.Seq)
		}
		if got, ok := v.lookup(h.Seq); !ok {
			return v.fail(ErrChain, "checkpoint stored at seq %d signs seq %d, which the report does not hold", r.Seq, h.Seq)
		} else if got != h.Hash {
			return v.fail(ErrChain, "checkpoint stored at seq %d signed seq %d with another hash: the log was changed after it was signed", r.Seq, h.Seq)
		}
		v.res.Checkpoints++
	}
	v.sum.add(&r)
	return nil
}

func (v *verifier) end(l *line) error {
	h, err := l.Head.head("end line")
	if err != nil {
		return fmt.Errorf("%s: %w", v.name, err)
	}
	if err := v.checkHead(&h, "closing head"); err != nil {
		return err
	}
	if h.Seq != v.prevSeq || h.Hash != v.prevHash {
		if h.Seq > v.prevSeq {
			return v.fail(ErrChain, "the records end at seq %d but the closing head signs seq %d: records were removed from the end", v.prevSeq, h.Seq)
		}
		return v.fail(ErrChain, "the closing head (seq %d) does not match the last record (seq %d): the head was swapped or records changed", h.Seq, v.prevSeq)
	}
	if h.Time.Before(v.res.To) {
		return v.fail(ErrRangeCut, "the closing head was signed at %s, before the period's end %s: the end of the period was cut off",
			h.Time.Format(time.RFC3339), v.res.To.Format(time.RFC3339))
	}
	sig, err := base64.RawURLEncoding.DecodeString(l.Signature)
	if err != nil {
		return v.fail(ErrMalformed, "end line signature is not base64url")
	}
	if !ed25519.Verify(v.keys[h.Key], append([]byte(reportDomain), v.digest.Sum(nil)...), sig) {
		return v.fail(ErrEdited, "the report's signature does not match its content: a line was edited")
	}
	v.res.Key, v.res.End, v.res.end = h.Key, info(h), h
	days := v.sum.finish(minTime(h.Time, v.res.To))
	if len(days) != len(v.days) {
		return v.fail(ErrEdited, "the summary has %d product-days, the records give %d", len(v.days), len(days))
	}
	for i := range days {
		if days[i] != v.days[i] {
			return v.fail(ErrEdited, "the summary for %s on %s does not match the records", days[i].Product, days[i].Day)
		}
	}
	v.res.Days = days
	return nil
}

func (v *verifier) finish() (*Result, error) {
	if v.state != 3 {
		return nil, v.fail(ErrMalformed, "the report ends before its end line: it was cut short")
	}
	if v.opts.Previous != nil && !v.prevSeen {
		return nil, v.fail(ErrRangeCut, "the report does not reach seq %d, where the previous report ended", v.opts.Previous.Seq)
	}
	return &v.res, nil
}

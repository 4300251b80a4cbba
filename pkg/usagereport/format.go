package usagereport

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/airseal/airseal/internal/strictjson"
)

// Format is the first member of a report's header line.
const Format = "airseal usage report v1"

// reportDomain separates the report signature from every other signature.
const reportDomain = "airseal usage report v1\x00"

// Limits of a report (docs/spec/usage-report-v1.md).
const (
	// MaxLine is the longest line (the header with its licenses, a record,
	// the summary).
	MaxLine = 4 << 20
	// MaxLicenses is the most server licenses a header may carry.
	MaxLicenses = 64
)

// line is one line of a report: Type says which members it has.
type line struct {
	Type string `json:"type"`

	// header
	Format   string    `json:"format,omitempty"`
	Created  string    `json:"created,omitempty"`
	From     string    `json:"from,omitempty"`
	To       string    `json:"to,omitempty"`
	Licenses []string  `json:"licenses,omitempty"`
	Anchor   *headJSON `json:"anchor,omitempty"`

	// record
	Seq     int64  `json:"seq,omitempty"`
	TimeNS  int64  `json:"time_ns,omitempty"`
	Kind    string `json:"kind,omitempty"`
	Product string `json:"product,omitempty"`
	Lease   string `json:"lease,omitempty"`
	Session string `json:"session,omitempty"`
	User    string `json:"user,omitempty"`
	Detail  string `json:"detail,omitempty"`
	Hash    string `json:"hash,omitempty"`

	// summary
	Days []Day `json:"days,omitempty"`

	// end
	Head      *headJSON `json:"head,omitempty"`
	Signature string    `json:"signature,omitempty"`
}

// Line types.
const (
	typeHeader  = "header"
	typeRecord  = "record"
	typeSummary = "summary"
	typeEnd     = "end"
)

type headJSON struct {
	Seq       int64  `json:"seq"`
	Hash      string `json:"hash"`
	TimeNS    int64  `json:"time_ns"`
	Key       string `json:"key,omitempty"`
	Signature string `json:"signature,omitempty"`
}

func toJSON(h Head) *headJSON {
	j := &headJSON{Seq: h.Seq, Hash: hex.EncodeToString(h.Hash[:]), Key: h.Key,
		Signature: base64.RawURLEncoding.EncodeToString(h.Signature)}
	if !h.Time.IsZero() { // the empty log's anchor has no time: 0
		j.TimeNS = h.Time.UnixNano()
	}
	return j
}

func (j *headJSON) head(what string) (Head, error) {
	var h Head
	if j == nil {
		return h, fmt.Errorf("%w: the %s has no signed head", ErrMalformed, what)
	}
	if err := decodeHash(j.Hash, &h.Hash); err != nil {
		return h, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(j.Signature)
	if err != nil {
		return h, fmt.Errorf("%w: %s: signature is not base64url", ErrMalformed, what)
	}
	h.Seq, h.Time, h.Key, h.Signature = j.Seq, time.Unix(0, j.TimeNS).UTC(), j.Key, sig
	return h, nil
}

func recordLine(r *Record) line {
	return line{Type: typeRecord, Seq: r.Seq, TimeNS: r.Time.UnixNano(), Kind: r.Kind, Product: r.Product, Lease: r.LeaseID,
		Session: r.Session, User: r.User, Detail: r.Detail, Hash: hex.EncodeToString(r.Hash[:])}
}

func (l *line) record() (Record, error) {
	r := Record{Seq: l.Seq, Time: time.Unix(0, l.TimeNS).UTC(), Kind: l.Kind, Product: l.Product, LeaseID: l.Lease,
		Session: l.Session, User: l.User, Detail: l.Detail}
	if err := decodeHash(l.Hash, &r.Hash); err != nil {
		return r, fmt.Errorf("%w: record seq %d: %v", ErrMalformed, l.Seq, err)
	}
	return r, nil
}

// marshalLine encodes l as one line (JSON without HTML escaping, then \n).
func marshalLine(l *line) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// parseLine decodes one line strictly: no duplicate or unknown members.
func parseLine(data []byte, n int64) (*line, error) {
	if err := strictjson.Check(data); err != nil {
		return nil, fmt.Errorf("%w: line %d: %v", ErrMalformed, n, err)
	}
	var l line
	if err := strictjson.CheckFields(data, &l, strictjson.FieldsOptions{}); err != nil {
		return nil, fmt.Errorf("%w: line %d: %v", ErrMalformed, n, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("%w: line %d: %v", ErrMalformed, n, err)
	}
	return &l, nil
}

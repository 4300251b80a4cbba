package hwid

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/internal/strictjson"
	"github.com/airseal/airseal/internal/typedcode"
	"github.com/airseal/airseal/pkg/fingerprint"
)

// CodePrefix starts the typed code of a license request.
const CodePrefix = "ASR1"

// RequestFormat is the "format" field of a license request file.
const RequestFormat = "airseal-license-request"

// Limits on a request, so a hostile one cannot exhaust memory.
const (
	maxRequestBytes = 1 << 20
	maxComponents   = 64
	maxText         = safetext.MaxLen
	maxEvidence     = 64
)

// Request is a license request: what a customer sends the vendor so that
// `issue license --request` can bind a license to this machine. It is not
// signed; the vendor decides whether to trust it.
type Request struct {
	// Format is RequestFormat.
	Format string `json:"format"`
	// Version is the request format version, 1.
	Version int `json:"version"`
	// Product is the product the license is for; it salts the hashes.
	Product string `json:"product"`
	// Customer is who asks, for the vendor's records; may be empty.
	Customer string `json:"customer,omitempty"`
	// Fingerprint is the machine's hashed components and match rule.
	Fingerprint fingerprint.Fingerprint `json:"fingerprint"`
	// Virtualization is the verdict on the machine that made the request.
	Virtualization Verdict `json:"virtualization"`
	// Hostname is the machine's host name, for the vendor's records.
	Hostname string `json:"hostname"`
	// OS describes the operating system, for the vendor's records.
	OS string `json:"os"`
	// Nonce is 16 random bytes in hex: it makes every request unique, so
	// a vendor can tell a repeated request from a new one.
	Nonce string `json:"nonce"`
	// Created is when the request was made (whole seconds, UTC).
	Created time.Time `json:"created"`
}

// NewRequest builds a license request from a report collected for product
// (Options.Product must have been product, since it salts the hashes).
// rnd supplies the nonce (nil: crypto/rand); now is the creation time.
func NewRequest(rep *Report, product, customer string, now time.Time, rnd io.Reader) (*Request, error) {
	if rep.Product != product {
		return nil, fmt.Errorf("license request for %q from a report collected for %q: collect with Options{Product: %q}", product, rep.Product, product)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	var n [16]byte
	if _, err := io.ReadFull(rnd, n[:]); err != nil {
		return nil, fmt.Errorf("license request nonce: %w", err)
	}
	r := &Request{
		Format: RequestFormat, Version: 1,
		Product: product, Customer: customer,
		Fingerprint: rep.Fingerprint, Virtualization: rep.Virtualization,
		Hostname: safetext.Clean(rep.Hostname), OS: safetext.Clean(rep.OS),
		Nonce: hex.EncodeToString(n[:]), Created: now.UTC().Truncate(time.Second),
	}
	r.Virtualization.Evidence = make([]string, 0, len(rep.Virtualization.Evidence))
	for _, e := range rep.Virtualization.Evidence {
		r.Virtualization.Evidence = append(r.Virtualization.Evidence, safetext.Clean(e))
	}
	return r, r.Validate()
}

// maxUnixTime is the one bound of every time in airseal's formats (license
// MaxUnixTime): 9999-12-31T23:59:59Z, the last second RFC 3339 writes.
const maxUnixTime = 253402300799

func createdOffset(t time.Time) int {
	_, off := t.Zone()
	return off
}

// Validate checks that a request is complete and within limits.
func (r *Request) Validate() error {
	switch {
	case r.Format != RequestFormat:
		return fmt.Errorf("license request: format is %q; want %q", r.Format, RequestFormat)
	case r.Version != 1:
		return fmt.Errorf("license request: version %d is not supported; this build reads version 1 (upgrade the tool)", r.Version)
	case strings.TrimSpace(r.Product) == "":
		return errors.New("license request: product is empty; run hwid request --product NAME")
	case len(r.Nonce) != 32 || !isHex(r.Nonce):
		return errors.New("license request: nonce must be 32 lower-case hex characters")
	case r.Created.IsZero():
		return errors.New("license request: created time is missing")
	case r.Created.Unix() < 1 || r.Created.Unix() > maxUnixTime || r.Created.Nanosecond() != 0:
		return fmt.Errorf("license request: created %s: want a whole second from 1970-01-01T00:00:01Z to 9999-12-31T23:59:59Z (the code form carries whole seconds only)", r.Created.Format(time.RFC3339Nano))
	case createdOffset(r.Created) != 0:
		return fmt.Errorf("license request: created %s: write it in UTC, ending in Z", r.Created.Format(time.RFC3339))
	case r.Virtualization.Type != TypeNone && r.Virtualization.Type != TypeVM && r.Virtualization.Type != TypeContainer:
		return fmt.Errorf("license request: virtualization type %q; want none, vm or container", r.Virtualization.Type)
	case r.Virtualization.Technology == "":
		return errors.New("license request: virtualization technology is empty")
	case len(r.Fingerprint.Components) > maxComponents:
		return fmt.Errorf("license request: %d components; at most %d", len(r.Fingerprint.Components), maxComponents)
	case len(r.Virtualization.Evidence) > maxEvidence:
		return fmt.Errorf("license request: %d evidence lines; at most %d", len(r.Virtualization.Evidence), maxEvidence)
	}
	// One rule for text, the license's (internal/safetext): valid UTF-8,
	// at most 256 bytes, no control or bidirectional formatting characters.
	// The product salts the hashes and is signed into the license, so it is
	// refused, never repaired: a repaired name would salt differently.
	for _, s := range []struct{ field, v string }{{"product", r.Product}, {"customer", r.Customer}, {"hostname", r.Hostname}, {"os", r.OS}, {"virtualization.technology", r.Virtualization.Technology}} {
		if err := safetext.Check(s.field, s.v); err != nil {
			return fmt.Errorf("license request: %w", err)
		}
	}
	for i, e := range r.Virtualization.Evidence {
		if err := safetext.Check(fmt.Sprintf("virtualization.evidence[%d]", i), e); err != nil {
			return fmt.Errorf("license request: %w", err)
		}
	}
	if err := r.Fingerprint.Validate(); err != nil {
		return fmt.Errorf("license request: %w", err)
	}
	return nil
}

// Marshal returns the request file: indented JSON ending in a newline.
func (r *Request) Marshal() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// LooksLikeCode reports whether s is meant as a request code (ASR1...)
// rather than a file name: the prefix in any case, then only code
// characters, dashes and white space (typedcode.LooksLike). Tools that take
// either a file or a code (issue license --request) decide with it, so a
// code typed without dashes or in lower case is not taken for a file name.
func LooksLikeCode(s string) bool { return typedcode.LooksLike(s, CodePrefix) }

// ParseRequest reads a license request: the JSON file, or the typed code
// (ASR1-...) that carries the same request without the evidence lines.
func ParseRequest(data []byte) (*Request, error) {
	if len(data) > maxRequestBytes {
		return nil, fmt.Errorf("license request is %d bytes; at most %d", len(data), maxRequestBytes)
	}
	text := strings.TrimSpace(string(data))
	if typedcode.LooksLike(text, CodePrefix) {
		b, err := typedcode.Decode(CodePrefix, text)
		if err != nil {
			return nil, fmt.Errorf("license request code: %w", err)
		}
		r, err := unmarshalBinary(b)
		if err != nil {
			return nil, fmt.Errorf("license request code: %w", err)
		}
		return r, nil
	}
	if !strings.HasPrefix(text, "{") {
		return nil, errors.New("not a license request: want the JSON file written by hwid request, or its code starting with " + CodePrefix + "-")
	}
	// One member name once: Go would keep the last of two "need" members
	// (or of "need" and "Need"), another reader the first.
	if err := strictjson.Check(data); err != nil {
		return nil, fmt.Errorf("license request: %w", err)
	}
	var r Request
	// Nor in another case ("Need" alone): Go would read it as "need".
	if err := strictjson.CheckFields(data, &r, strictjson.FieldsOptions{}); err != nil {
		return nil, fmt.Errorf("license request: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("license request: %w", err)
	}
	if dec.More() {
		return nil, errors.New("license request: data after the JSON object")
	}
	if r.Virtualization.Evidence == nil {
		r.Virtualization.Evidence = []string{}
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Code returns the request as a typed code (prefix ASR1) for sites where no
// file may leave: it can be read aloud, typed, or shown as a QR code. The
// evidence lines are left out to keep it short.
func (r *Request) Code() (string, error) {
	b, err := r.marshalBinary()
	if err != nil {
		return "", err
	}
	return typedcode.Encode(CodePrefix, b), nil
}

// Binary layout of the code payload (docs/spec/request-v1.md).
var componentCodes = []string{"", CompSystemUUID, CompSystemSerial, CompBoardSerial, CompCPU, CompMAC, CompDisk, CompMachineID}

var verdictCodes = []string{TypeNone, TypeVM, TypeContainer}

func (r *Request) marshalBinary() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r.appendBinary(nil), nil
}

// appendBinary encodes r without validating it (the rule vectors encode
// requests that break a rule, to check that readers refuse them).
func (r *Request) appendBinary(b []byte) []byte {
	b = append(b, 1)
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	str(r.Product)
	str(r.Customer)
	str(r.Hostname)
	str(r.OS)
	nonce, _ := hex.DecodeString(r.Nonce)
	b = append(b, nonce...)
	b = binary.AppendVarint(b, r.Created.Unix())
	vt := 0
	for i, t := range verdictCodes {
		if t == r.Virtualization.Type {
			vt = i
		}
	}
	b = append(b, byte(vt))
	str(r.Virtualization.Technology)
	b = binary.AppendUvarint(b, uint64(r.Fingerprint.Need))
	b = binary.AppendUvarint(b, uint64(len(r.Fingerprint.Components)))
	for _, c := range r.Fingerprint.Components {
		code := 0
		for i, n := range componentCodes {
			if i > 0 && n == c.Name {
				code = i
			}
		}
		flags := byte(code << 1)
		if c.NeedsRoot {
			flags |= 1
		}
		b = append(b, flags)
		if code == 0 {
			str(c.Name)
		}
		b = binary.AppendUvarint(b, uint64(c.Weight))
		h, _ := hex.DecodeString(c.Hash)
		b = append(b, h...)
	}
	return b
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("truncated or malformed at %s", what)
	}
}

func (r *reader) bytes(n int, what string) []byte {
	if r.err != nil || n < 0 || len(r.b) < n {
		r.fail(what)
		return make([]byte, max(n, 0))
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) uvarint(what string, limit uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > limit {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str(what string) string {
	n := r.uvarint(what, maxText)
	return string(r.bytes(int(n), what))
}

func unmarshalBinary(b []byte) (*Request, error) {
	rd := &reader{b: b}
	if v := rd.bytes(1, "version"); rd.err == nil && v[0] != 1 {
		return nil, fmt.Errorf("code version %d is not supported; this build reads version 1", v[0])
	}
	req := &Request{Format: RequestFormat, Version: 1}
	req.Product = rd.str("product")
	req.Customer = rd.str("customer")
	req.Hostname = rd.str("hostname")
	req.OS = rd.str("os")
	req.Nonce = hex.EncodeToString(rd.bytes(16, "nonce"))
	if rd.err == nil {
		t, n := binary.Varint(rd.b)
		if n <= 0 {
			rd.fail("created")
		} else {
			rd.b = rd.b[n:]
			req.Created = time.Unix(t, 0).UTC()
		}
	}
	vt := rd.bytes(1, "virtualization type")[0]
	if int(vt) >= len(verdictCodes) {
		rd.fail("virtualization type")
	} else {
		req.Virtualization.Type = verdictCodes[vt]
	}
	req.Virtualization.Technology = rd.str("virtualization technology")
	req.Virtualization.Evidence = []string{}
	// need and weights are read with a parse bound above the rule, so that
	// a code breaking the rule gets the same message as a file breaking it
	// (fingerprint.Validate, below).
	req.Fingerprint.Need = int(rd.uvarint("need", 1<<20))
	n := int(rd.uvarint("component count", maxComponents))
	for i := 0; i < n && rd.err == nil; i++ {
		flags := rd.bytes(1, "component")[0]
		code := int(flags >> 1)
		var c fingerprint.Component
		c.NeedsRoot = flags&1 != 0
		switch {
		case code == 0:
			c.Name = rd.str("component name")
		case code < len(componentCodes):
			c.Name = componentCodes[code]
		default:
			rd.fail("component name")
		}
		c.Weight = int(rd.uvarint("component weight", 1<<20))
		c.Hash = hex.EncodeToString(rd.bytes(16, "component hash"))
		req.Fingerprint.Components = append(req.Fingerprint.Components, c)
	}
	if rd.err != nil {
		return nil, rd.err
	}
	if len(rd.b) != 0 {
		return nil, fmt.Errorf("%d bytes after the last component", len(rd.b))
	}
	if req.Fingerprint.Components == nil {
		req.Fingerprint.Components = []fingerprint.Component{}
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	return req, nil
}

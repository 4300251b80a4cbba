package seatserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/strictjson"
	"github.com/airseal/airseal/pkg/seat"
)

// ErrBadRequest matches every request the parsers refuse (400).
var ErrBadRequest = errors.New("bad request")

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadRequest}, args...)...)
}

// decodeStrict decodes exactly one JSON object into v: unknown fields
// (a misspelt field name), a member name in another case than the spec's
// ("keyid" for "KeyID": encoding/json would take it, another decoder
// would not), a member given twice (also in another case: which one
// counts differs between decoders), trailing data and a body that is not
// an object are refused, naming the problem (docs/spec/seat-protocol-v1.md,
// "Request bodies").
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("the body is empty; send a JSON object (Content-Type: application/json)")
	}
	// The plain case (every checkout a client makes) in one pass; the
	// rest checked, then decoded, by the rules below.
	if strictjson.DecodeFlat(body, v, strictjson.FieldsOptions{}) {
		return nil
	}
	if err := strictjson.CheckFields(body, v, strictjson.FieldsOptions{}); err != nil {
		switch {
		case errors.Is(err, strictjson.ErrFieldCase):
			return badRequest("%s; check it against docs/api.md", safetext.Clean(err.Error()))
		case errors.Is(err, strictjson.ErrDuplicateKey):
			return badRequest("%s", safetext.Clean(err.Error()))
		case errors.Is(err, strictjson.ErrUnknownField):
			return badRequest("%s: check its spelling against docs/api.md", safetext.Clean(err.Error()))
		}
		// Not JSON: the decoder below names the problem.
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			return badRequest("field %s: want a JSON %s", safetext.Clean(ute.Field), ute.Type.Kind())
		}
		msg := err.Error()
		if strings.HasPrefix(msg, "json: unknown field ") {
			return badRequest("unknown field %s: check its spelling against docs/api.md", safetext.Clean(strings.TrimPrefix(msg, "json: unknown field ")))
		}
		return badRequest("the body is not valid JSON: %s", safetext.Clean(msg))
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("data after the JSON object")
	}
	return nil
}

// sessionTimeLayouts are the forms of SessionStarted accepted: ISO 8601
// with a zone, or without one (taken as UTC, as 1C sends it).
var sessionTimeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02 15:04:05"}

// ParseSessionTime parses SessionStarted; "" is the zero time.
func ParseSessionTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range sessionTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Year() < 2000 || t.Year() > 9999 {
				break
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, badRequest("field SessionStarted %q: want ISO 8601 such as 2026-12-01T09:00:00Z", safetext.Clean(s))
}

// ParseCheckout reads the body of POST /api/sessions into a core request,
// checking every field (seats.Request.Validate).
func ParseCheckout(body []byte) (seats.Request, error) {
	var w seat.CheckoutRequest
	if err := decodeStrict(body, &w); err != nil {
		return seats.Request{}, err
	}
	product := w.Product
	switch {
	case product == "" && w.KeyID == "":
		return seats.Request{}, badRequest("field Product is missing: name the product (KeyID, the 1C series, is accepted in its place)")
	case product == "":
		product = w.KeyID
	case w.KeyID != "" && w.KeyID != product:
		return seats.Request{}, badRequest("fields Product %q and KeyID %q differ: give one of them", safetext.Clean(product), safetext.Clean(w.KeyID))
	}
	started, err := ParseSessionTime(w.SessionStarted)
	if err != nil {
		return seats.Request{}, err
	}
	r := seats.Request{Product: product, ClientSessionID: w.ClientSessionID, AppName: w.AppName,
		UserName: w.UserName, ComputerName: w.ComputerName, SessionStarted: started}
	if err := r.Validate(); err != nil {
		return seats.Request{}, badRequest("%s", strings.TrimPrefix(err.Error(), seats.ErrRequest.Error()+": "))
	}
	return r, nil
}

// ParseInstall reads the body of POST /api/licences.
func ParseInstall(body []byte) (seat.InstallRequest, error) {
	var w seat.InstallRequest
	if err := decodeStrict(body, &w); err != nil {
		return w, err
	}
	if strings.TrimSpace(w.ActivationCodeString) == "" {
		return w, badRequest("field ActivationCodeString is missing: give the license's typed code (ASL1-…) or its armored text")
	}
	if w.BlankKeyNo != "" {
		return w, badRequest("field BlankKeyNo: this server has no hardware key carriers; leave it out or null")
	}
	for _, f := range []struct {
		name string
		v    seat.TaxID
	}{{"ITN", w.ITN}, {"IEC", w.IEC}} {
		if len(f.v) > 32 {
			return w, badRequest("field %s is %d characters; a tax ID has at most 32", f.name, len(f.v))
		}
		if err := safetext.Check(f.name, string(f.v)); err != nil {
			return w, badRequest("%v", err)
		}
	}
	return w, nil
}

// ParseRevocations reads the body of POST /api/revocations.
func ParseRevocations(body []byte) ([]byte, error) {
	var w seat.RevocationsRequest
	if err := decodeStrict(body, &w); err != nil {
		return nil, err
	}
	if strings.TrimSpace(w.RevocationList) == "" {
		return nil, badRequest("field RevocationList is missing: give the armored revocation list signed by the vendor")
	}
	return []byte(w.RevocationList), nil
}

// CheckQueryID checks a Licence-QueryID header: 16–64 characters of
// [A-Za-z0-9_-].
func CheckQueryID(q string) error {
	if err := seats.CheckSessionID(q); err != nil {
		return badRequest("header %s: %v", seat.HeaderQueryID, err)
	}
	return nil
}

// checkPathID checks an {ID} or {KeyNo} path segment before it is looked
// up or logged.
func checkPathID(what, id string) error {
	if id == "" || len(id) > 128 {
		return badRequest("%s in the path: want 1 to 128 characters", what)
	}
	if err := safetext.Check(what, id); err != nil {
		return badRequest("%v", err)
	}
	return nil
}
